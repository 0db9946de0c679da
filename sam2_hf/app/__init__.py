"""Click-to-segment annotation app, in a browser or inline in a notebook (Colab, Jupyter).

``launch()`` starts a Gradio page on a folder of images: click to segment, several objects
per image with category names, "segment everything" proposals to accept or delete, and
exports to COCO JSON, PNG masks and cut-outs. The page needs the optional extra
``pip install "sam2-hf[app]"``; the annotation logic (``Annotator``, ``AnnotationStore``,
``Segmenter``, ``export_annotations``) does not, and can be scripted or tested without it.

Example:
    >>> import sam2_hf.app
    >>> sam2_hf.app.launch("photos/")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # resolved lazily below: `sam2-hf --help` imports the CLI module only
    import gradio

    from .export import ExportResult, export_annotations
    from .images import ImageFolder, LoadedImage
    from .segmenter import ModelUnavailableError, Segmenter
    from .state import Annotator
    from .store import FILE_NAME, AnnotatedObject, AnnotationStore, Box, Click, StoredMask

# Public name -> the module of this package that defines it.
_NAMES: dict[str, str] = {
    **dict.fromkeys(("ExportResult", "export_annotations"), "export"),
    **dict.fromkeys(("ImageFolder", "LoadedImage"), "images"),
    **dict.fromkeys(("ModelUnavailableError", "Segmenter"), "segmenter"),
    "Annotator": "state",
    **dict.fromkeys(
        ("FILE_NAME", "AnnotatedObject", "AnnotationStore", "Box", "Click", "StoredMask"), "store"
    ),
}

__all__ = [
    "FILE_NAME",
    "AnnotatedObject",
    "AnnotationStore",
    "Annotator",
    "Box",
    "Click",
    "ExportResult",
    "ImageFolder",
    "LoadedImage",
    "ModelUnavailableError",
    "RunningApp",
    "Segmenter",
    "StoredMask",
    "build",
    "export_annotations",
    "launch",
]


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
        globals()[name] = value  # resolve once
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


# Where images uploaded into a session started without a folder go.
DEFAULT_IMAGES = "sam2-hf-images"
DEFAULT_HOST = "127.0.0.1"


def _require_gradio() -> None:
    try:
        import gradio  # noqa: F401
    except ImportError as error:
        raise ImportError(
            'The annotation app needs Gradio, an optional extra: pip install "sam2-hf[app]"'
        ) from error


def build(
    images: str | os.PathLike[str] | None = None,
    *,
    model: str | os.PathLike[str] = "tiny",
    output: str | os.PathLike[str] | None = None,
    device: str | None = None,
    dtype: str | None = None,
    category: str = "object",
    max_side: int | None = None,
    everything: dict[str, Any] | None = None,
) -> gradio.Blocks:
    """The app's ``gradio.Blocks``, not started (``launch`` builds and starts it).

    Args and Raises: as ``launch``. The model starts loading in the background at once.
    """
    _require_gradio()
    from .segmenter import Segmenter
    from .ui import build_app

    if images is None:
        images = Path(DEFAULT_IMAGES)
        images.mkdir(exist_ok=True)
    segmenter = Segmenter(model, device=device, dtype=dtype, everything=everything)
    segmenter.start_loading()
    return build_app(segmenter, images, output=output, category=category, max_side=max_side)


def launch(
    images: str | os.PathLike[str] | None = None,
    *,
    model: str | os.PathLike[str] = "tiny",
    output: str | os.PathLike[str] | None = None,
    device: str | None = None,
    dtype: str | None = None,
    category: str = "object",
    port: int | None = None,
    host: str = DEFAULT_HOST,
    share: bool = False,
    max_side: int | None = None,
    everything: dict[str, Any] | None = None,
    **launch_options: Any,
) -> RunningApp:
    """Start the annotation app; in a notebook it renders inline and returns at once.

    Args:
        images: a folder (its top-level images) or one image file; default a new
            ``sam2-hf-images`` folder in the working directory, to upload images into.
        model: short name (``"tiny"``, ``"large"``), hub id or local checkpoint folder. If it
            cannot be loaded the page still opens and says why.
        output: where the annotation file and exports go; default
            ``<folder>/sam2-hf-annotations``.
        device: ``"cpu"``, ``"cuda"``, ``"mps"``; default the best available.
        dtype: ``"fp32"``, ``"bf16"`` ...; default as ``Sam2Predictor.from_pretrained``.
        category: the category name of new objects (editable in the page).
        port: the port; default Gradio's (7860, or the next free one).
        host: the address to listen on; default ``127.0.0.1`` (this machine only). Use
            ``"0.0.0.0"`` to serve the local network.
        share: also publish a temporary public ``gradio.live`` link.
        max_side: the longest displayed side in pixels (default 1280).
        everything: ``MaskGenerator`` settings for "segment everything".
        **launch_options: passed to ``gradio.Blocks.launch`` (``inline``,
            ``prevent_thread_lock``, ``auth`` ...).

    Returns:
        A ``RunningApp`` (``.url``, ``.close()``). Outside a notebook this call blocks until
        the server stops, unless ``prevent_thread_lock=True``.

    Raises:
        ImportError: Gradio is not installed.
    """
    demo = build(
        images,
        model=model,
        output=output,
        device=device,
        dtype=dtype,
        category=category,
        max_side=max_side,
        everything=everything,
    )
    _, url, share_url = demo.launch(
        server_name=host, server_port=port, share=share, **launch_options
    )
    return RunningApp(demo, url, share_url)


@dataclass(frozen=True, repr=False)
class RunningApp:
    """A started app: where it is, and how to stop it.

    Attributes:
        blocks: the ``gradio.Blocks``.
        url: the local address, e.g. ``http://127.0.0.1:7860/``.
        share_url: the public ``gradio.live`` address with ``share=True``, else None.
    """

    blocks: gradio.Blocks
    url: str | None
    share_url: str | None = None

    def close(self) -> None:
        """Stop the server."""
        self.blocks.close()

    def __repr__(self) -> str:  # a notebook shows this under the cell, not Gradio's long repr
        where = self.share_url or self.url
        return f"sam2-hf annotation app at {where} (.close() stops it)"
