"""The Gradio page: forwards clicks and buttons to an ``Annotator`` per browser tab.

Every handler returns the same outputs (the frame, the status line, the object list, the
category and the proposal line), drawn from the tab's ``Annotator``; no annotation logic
lives here. The model (``Segmenter``) is shared by all tabs of the server.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from .images import ImageFolder
from .segmenter import Segmenter
from .state import DEFAULT_CATEGORY, MODES, Annotator

logger = logging.getLogger(__name__)

HELP = """\
**Click** the image to segment: each click refines the selected object (green: foreground,
red: background). **Box**: click two opposite corners. **New object** starts another one;
pick an object in the list to edit it again. Work is saved as you go to
`sam2-hf-annotations.json` in the output folder and restored when you come back.
"""
MODE_LABELS = {
    "foreground": "Foreground click",
    "background": "Background click",
    "box": "Box (two corners)",
}
# Frames go to the browser as JPEG: ~10 ms to encode a 1280x960 frame where PNG and WebP
# take ~300 ms (measured with benchmarks/app.py's image), which would dominate every click.
FRAME_FORMAT = "jpeg"
CANVAS_HEIGHT = 560  # pixels on screen; frames are scaled to fit, clicks are mapped back

_Outputs = tuple[Any, ...]


def build_app(
    segmenter: Segmenter,
    images: str | os.PathLike[str],
    *,
    output: str | os.PathLike[str] | None = None,
    category: str = DEFAULT_CATEGORY,
    max_side: int | None = None,
) -> gr.Blocks:
    """The annotation page for the images at ``images`` (a folder or one file).

    Args:
        segmenter: the model, shared by every tab.
        images: the folder (its top-level images) or a single image file.
        output: the output folder; default ``<folder>/sam2-hf-annotations``.
        category: the category name new objects get.
        max_side: the longest displayed side in pixels (default 1280).

    Returns:
        The ``gr.Blocks``; call ``.launch()`` on it.
    """
    source = os.fspath(images)
    output_dir = None if output is None else os.fspath(output)
    extra = {} if max_side is None else {"max_side": max_side}

    def start() -> _Outputs:
        try:
            annotator = Annotator(
                ImageFolder(source, output_dir), segmenter, category=category, **extra
            )
        except (OSError, ValueError) as error:
            return _empty(f"Cannot open {source}: {error}")
        return _show(annotator)

    def wait_for_model(annotator: Annotator | None) -> _Outputs:
        if annotator is None:
            return (gr.skip(),) * len(outputs)
        annotator.prepare()  # loads the model if needed and encodes the open image
        with annotator.lock:
            return _show(annotator)

    with gr.Blocks(title="sam2-hf annotator", delete_cache=(600, 3600)) as demo:
        state = gr.State(None)
        with gr.Row():
            with gr.Column(scale=4):
                canvas = gr.Image(
                    label="Click to segment",
                    interactive=False,
                    type="numpy",
                    format=FRAME_FORMAT,
                    elem_id="sam2-canvas",
                    buttons=["fullscreen"],
                    height=CANVAS_HEIGHT,
                )
                status = gr.Markdown("Starting...", elem_id="sam2-status")
                with gr.Row():
                    previous_button = gr.Button("< Previous image", elem_id="sam2-previous")
                    next_button = gr.Button("Next image >", elem_id="sam2-next")
            with gr.Column(scale=2, min_width=280):
                mode = gr.Radio(
                    [(MODE_LABELS[m], m) for m in MODES],
                    value="foreground",
                    label="Click mode",
                    elem_id="sam2-mode",
                )
                category_box = gr.Textbox(
                    value=category, label="Category", elem_id="sam2-category", max_lines=1
                )
                with gr.Row():
                    new_button = gr.Button("New object", variant="primary", elem_id="sam2-new")
                    undo_button = gr.Button("Undo", elem_id="sam2-undo")
                with gr.Row():
                    rename_button = gr.Button("Rename selected", elem_id="sam2-rename")
                    clear_button = gr.Button("Clear object", elem_id="sam2-clear")
                    delete_button = gr.Button("Delete object", elem_id="sam2-delete")
                objects = gr.Dropdown(
                    choices=[], label="Objects (pick one to edit it)", elem_id="sam2-objects"
                )
                with gr.Accordion("Segment everything", open=False):
                    points = gr.Slider(4, 64, value=16, step=4, label="Points per side")
                    everything_button = gr.Button("Propose masks", elem_id="sam2-everything")
                    proposal_line = gr.Markdown("", elem_id="sam2-proposals")
                    with gr.Row():
                        accept_button = gr.Button("Accept", elem_id="sam2-accept")
                        reject_button = gr.Button("Delete", elem_id="sam2-reject")
                    with gr.Row():
                        accept_all_button = gr.Button("Accept all", elem_id="sam2-accept-all")
                        reject_all_button = gr.Button("Delete all", elem_id="sam2-reject-all")
                with gr.Accordion("Export", open=False, elem_id="sam2-export-panel"):
                    segmentation = gr.Radio(
                        [("COCO RLE (exact)", "rle"), ("COCO polygons", "polygons")],
                        value="rle",
                        label="COCO segmentation",
                    )
                    with gr.Row():
                        write_masks = gr.Checkbox(value=True, label="PNG masks")
                        write_cutouts = gr.Checkbox(value=True, label="Cut-outs")
                    export_button = gr.Button("Export", elem_id="sam2-export")
                    download = gr.File(label="coco.json", interactive=False)
                with gr.Accordion("Images", open=False):
                    folder_box = gr.Textbox(
                        value=source, label="Folder or image on the server", max_lines=1
                    )
                    open_button = gr.Button("Open")
                    uploads = gr.File(
                        label="Add images (copied into the folder)",
                        file_count="multiple",
                        file_types=["image"],
                    )
                gr.Markdown(HELP)

        outputs = [state, canvas, status, objects, category_box, proposal_line]

        def handler(action: Callable[..., Any]) -> Callable[..., _Outputs]:
            """Wrap an annotator action: no session -> a message; errors -> the status line."""

            def run(annotator: Annotator | None, *args: Any) -> _Outputs:
                if annotator is None:
                    return _empty("The session did not start; reload the page.")
                with annotator.lock:
                    try:
                        action(annotator, *args)
                    # A bug in one action must leave the page working, with the error shown.
                    except Exception as error:  # noqa: BLE001
                        logger.exception("sam2-hf app action failed")
                        annotator.message = f"Error: {error}"
                    return _show(annotator)

            return run

        def on_click(
            annotator: Annotator | None, mode_value: str, category_value: str, evt: gr.SelectData
        ) -> _Outputs:
            def act(a: Annotator) -> None:
                a.mode = mode_value if mode_value in MODES else "foreground"
                if a.selected is None:
                    a.rename(category_value)
                x, y = evt.index
                a.click_display(float(x), float(y))

            return handler(act)(annotator)

        demo.load(start, None, outputs).then(wait_for_model, state, outputs)
        canvas.select(on_click, [state, mode, category_box], outputs)
        next_button.click(handler(lambda a: a.next()), state, outputs).then(
            wait_for_model, state, outputs
        )
        previous_button.click(handler(lambda a: a.previous()), state, outputs).then(
            wait_for_model, state, outputs
        )
        mode.input(handler(_set_mode), [state, mode], outputs)
        new_button.click(handler(lambda a, c: a.new_object(c)), [state, category_box], outputs)
        undo_button.click(handler(lambda a: a.undo()), state, outputs)
        clear_button.click(handler(lambda a: a.clear()), state, outputs)
        delete_button.click(handler(lambda a: a.delete()), state, outputs)
        rename_button.click(handler(lambda a, c: a.rename(c)), [state, category_box], outputs)
        category_box.submit(handler(lambda a, c: a.rename(c)), [state, category_box], outputs)
        objects.input(handler(lambda a, obj_id: a.select(obj_id)), [state, objects], outputs)
        everything_button.click(
            handler(lambda a, n: a.segment_everything(points_per_side=int(n))),
            [state, points],
            outputs,
        )
        accept_button.click(handler(lambda a: a.accept(1)), state, outputs)
        reject_button.click(handler(lambda a: a.reject(1)), state, outputs)
        accept_all_button.click(handler(lambda a: a.accept(None)), state, outputs)
        reject_all_button.click(handler(lambda a: a.reject(None)), state, outputs)
        open_button.click(
            handler(lambda a, path: a.open_folder(path, output_dir)), [state, folder_box], outputs
        ).then(wait_for_model, state, outputs)
        uploads.upload(
            handler(lambda a, files: a.add_images(files or [])), [state, uploads], outputs
        ).then(wait_for_model, state, outputs)

        def on_export(
            annotator: Annotator | None, kind: str, masks: bool, cutouts: bool
        ) -> tuple[Any, ...]:
            if annotator is None:
                return (*_empty("The session did not start; reload the page."), None)
            with annotator.lock:
                result = annotator.export(
                    segmentation="polygons" if kind == "polygons" else "rle",
                    masks=masks,
                    cutouts=cutouts,
                )
            file = None
            if result is not None and result.coco is not None:
                # Gradio serves files from its temporary folder only: hand it a copy.
                folder = Path(tempfile.mkdtemp(prefix="sam2-hf-export-"))
                file = str(shutil.copy(result.coco, folder / result.coco.name))
            with annotator.lock:
                return (*_show(annotator), file)

        export_button.click(
            on_export, [state, segmentation, write_masks, write_cutouts], [*outputs, download]
        )
    return demo


def _set_mode(annotator: Annotator, mode: str) -> None:
    if mode in MODES:
        annotator.mode = mode
        annotator.corner = None
        annotator.message = f"Click mode: {MODE_LABELS[mode]}."


def _show(annotator: Annotator) -> _Outputs:
    """The outputs every handler returns, drawn from the annotator."""
    view = annotator.render()
    proposals = annotator.proposals
    if proposals:
        proposal_line = (
            f"Proposal 1 of {len(proposals)} (predicted IoU {proposals[0].score:.2f}), "
            "drawn on top: accept or delete it."
        )
    else:
        proposal_line = ""
    return (
        annotator,
        None if view is None else view.pixels,
        annotator.status(),
        gr.Dropdown(choices=annotator.object_choices(), value=annotator.selected),
        annotator.category,
        proposal_line,
    )


def _empty(message: str) -> _Outputs:
    return (None, None, message, gr.Dropdown(choices=[], value=None), gr.skip(), "")
