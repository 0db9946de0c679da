"""The annotation session behind one browser tab, free of any UI code.

``Annotator`` holds what a user is doing: which image is open, which object is being
edited, the click mode, the proposals of "segment everything" under review and the undo
history. Every change goes through the ``AnnotationStore`` and is saved at once, so closing
the tab loses nothing. The Gradio page (``sam2_hf.app.ui``) only forwards events here and
shows ``render()`` and ``status()``; tests drive this class directly.

Example:
    >>> from sam2_hf.app import Annotator, ImageFolder, Segmenter  # doctest: +SKIP
    >>> annotator = Annotator(ImageFolder("photos/"), Segmenter("tiny"))  # doctest: +SKIP
    >>> annotator.click(120, 80)  # doctest: +SKIP
    >>> annotator.mode = "background"; annotator.click(200, 90)  # doctest: +SKIP
    >>> annotator.export()  # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .export import ExportResult, Segmentation, export_annotations
from .images import ImageFolder, LoadedImage
from .render import DEFAULT_MAX_SIDE, Renderer, View
from .segmenter import ModelUnavailableError, Proposal, Segmenter
from .store import FILE_NAME, AnnotatedObject, AnnotationStore, Box, Click, Prompt, StoredMask

Mode = Literal["foreground", "background", "box"]
MODES: tuple[Mode, ...] = ("foreground", "background", "box")
DEFAULT_CATEGORY = "object"
# A proposal this similar (IoU) to an object already there is not offered again.
DUPLICATE_IOU = 0.8
# Undo steps kept per image.
HISTORY_LIMIT = 100


@dataclass(frozen=True)
class _Step:
    """One undoable change: the objects as they were before it, and the proposals."""

    changes: tuple[tuple[str, AnnotatedObject | None], ...]  # id -> before (None: not there)
    proposals: tuple[Proposal, ...] | None  # before, when the change touched them
    selected: str | None


class Annotator:
    """One user's annotation session on a folder of images (see the module docstring)."""

    def __init__(
        self,
        folder: ImageFolder,
        segmenter: Segmenter,
        *,
        category: str = DEFAULT_CATEGORY,
        max_side: int = DEFAULT_MAX_SIDE,
    ) -> None:
        """Open the folder's annotation file and its first readable image.

        Args:
            folder: the images and the output folder.
            segmenter: the model (shared by every tab of a server).
            category: the category name new objects get.
            max_side: the longest side of the displayed image, in pixels.

        Raises:
            ValueError: the annotation file exists but cannot be read.
        """
        self.segmenter = segmenter
        # A page sends events concurrently (a click while the image is being encoded); the
        # UI holds this lock around each action and the redraw that follows it.
        self.lock = threading.RLock()
        self.mode: Mode = "foreground"
        self.category = _category(category)
        self.message = ""
        self.file_error: str | None = None  # the annotation file cannot be read or written
        self._renderer = Renderer(max_side)
        self._view: View | None = None
        self._set_folder(folder)

    def _set_folder(self, folder: ImageFolder) -> None:
        store = AnnotationStore(folder.output / FILE_NAME)  # raises before anything changes
        self.folder, self.store = folder, store
        self.unreadable: dict[str, str] = {}
        self.image: LoadedImage | None = None
        self.index = -1
        self.selected: str | None = None
        self.corner: tuple[float, float] | None = None
        self.proposals: list[Proposal] = []
        self._history: dict[str, list[_Step]] = {}
        if not folder.names:
            self.message = folder.describe_empty()
        else:
            self.go(0)

    # ------------------------------------------------------------------ images

    @property
    def name(self) -> str | None:
        """The open image's name, or None."""
        return self.image.name if self.image is not None else None

    def go(self, index: int, step: int = 1) -> bool:
        """Open image ``index`` (the first readable one from there in direction ``step``).

        Unreadable images are skipped with a message naming them. Returns whether an image
        is open.
        """
        names = self.folder.names
        skipped: list[str] = []
        while 0 <= index < len(names):
            name = names[index]
            if name not in self.unreadable:
                try:
                    image = self.folder.load(name)
                except ValueError as error:
                    self.unreadable[name] = str(error)
                else:
                    self._open(index, image)
                    self.message = f"Skipped {'; '.join(skipped)}" if skipped else ""
                    return True
            skipped.append(self.unreadable[name])
            index += step
        if skipped:
            self.message = f"Skipped {'; '.join(skipped)}"
            if self.image is not None:
                self.message += f"; no readable image {'after' if step > 0 else 'before'} this one."
        if self.image is None:
            self.message = (self.message + ". " if self.message else "") + (
                "No readable image." if names else self.folder.describe_empty()
            )
        return self.image is not None

    def _open(self, index: int, image: LoadedImage) -> None:
        self.index, self.image = index, image
        self.selected, self.corner, self.proposals = None, None, []
        self._refresh()

    def next(self) -> bool:
        """Open the next readable image; False (and a message) at the last one."""
        if self.index + 1 >= len(self.folder.names):
            self.message = "This is the last image."
            return False
        return self.go(self.index + 1, 1)

    def previous(self) -> bool:
        """Open the previous readable image; False (and a message) at the first one."""
        if self.index <= 0:
            self.message = "This is the first image."
            return False
        return self.go(self.index - 1, -1)

    def open_folder(self, source: str | os.PathLike[str], output: str | None = None) -> bool:
        """Switch to another folder or image file; False and a message when it cannot."""
        try:
            folder = ImageFolder(source, output)
            self._set_folder(folder)
        except (OSError, ValueError) as error:
            self.message = str(error)
            return False
        return self.image is not None

    def add_images(self, files: Iterable[str | os.PathLike[str]]) -> list[str]:
        """Copy uploaded image files into the folder and open the first of them."""
        added = self.folder.add(files)
        if not added:
            self.message = "No image files among the uploads."
            return added
        self.go(self.folder.names.index(added[0]))
        if not self.message:
            self.message = f"Added {len(added)} image(s)."
        return added

    def prepare(self) -> None:
        """Encode the open image now (the first click is then fast); errors become messages."""
        if self.image is None:
            return
        try:
            self.segmenter.predictor(self.image)
        except ModelUnavailableError:
            pass  # status() shows the segmenter's error; the last message stays

    # ------------------------------------------------------------------ objects

    def objects(self) -> list[AnnotatedObject]:
        """The open image's objects, in order (object i is drawn in colour i)."""
        return self.store.objects(self.name) if self.name is not None else []

    def _object(self, obj_id: str | None) -> AnnotatedObject | None:
        return self.store.get(self.name, obj_id) if self.name and obj_id else None

    def object_choices(self) -> list[tuple[str, str]]:
        """(label, id) per object, for a list in the page."""
        choices = []
        for number, obj in enumerate(self.objects(), start=1):
            prompts = len(obj.prompts)
            detail = "auto" if obj.source == "auto" else f"{prompts} prompt{'s' * (prompts != 1)}"
            choices.append((f"{number}. {obj.category} ({detail})", obj.id))
        return choices

    def new_object(self, category: str | None = None) -> None:
        """The next click starts a new object (of ``category``, default the current one)."""
        if category is not None:
            self.category = _category(category)
        self.selected, self.corner = None, None
        self.message = f"Click to start a new '{self.category}'."

    def select(self, obj_id: str | None) -> None:
        """Edit an existing object (its clicks add to it); None = none selected."""
        if obj_id is not None and self._object(obj_id) is None:
            self.message = "That object no longer exists."
            return
        self.selected, self.corner = obj_id, None
        obj = self._object(obj_id)
        if obj is not None:
            self.category = obj.category
            self.message = f"Editing '{obj.category}'."

    def rename(self, category: str, obj_id: str | None = None) -> None:
        """Set the category of an object (default: the selected one) and of new objects."""
        self.category = _category(category)
        obj = self._object(obj_id or self.selected)
        if obj is None:
            self.message = f"New objects will be '{self.category}'."
            return
        self._change([(obj.id, obj.replace(category=self.category))])
        self.message = f"Renamed to '{self.category}'."

    def delete(self, obj_id: str | None = None) -> None:
        """Delete an object (default: the selected one)."""
        obj = self._object(obj_id or self.selected)
        if obj is None:
            self.message = "Select an object to delete."
            return
        self._change([(obj.id, None)], selected=None)
        self.message = f"Deleted '{obj.category}'."

    # ------------------------------------------------------------------ prompts

    def click(self, x: float, y: float) -> None:
        """A click at pixel (x, y) of the image, as the current ``mode`` says.

        Foreground and background clicks refine the selected object (or start one); in box
        mode the first click sets a corner and the second draws the box.
        """
        if self.image is None:
            self.message = "Open an image first."
            return
        height, width = self.image.size
        x = float(np.clip(x, 0, width - 1))
        y = float(np.clip(y, 0, height - 1))
        if self.mode == "box":
            if self.corner is None:
                self.corner = (x, y)
                self.message = "Now click the opposite corner of the box."
                return
            (x0, y0), self.corner = self.corner, None
            self.add_prompt(Box(min(x0, x), min(y0, y), max(x0, x), max(y0, y)))
        else:
            self.add_prompt(Click(x, y, positive=self.mode == "foreground"))

    def click_display(self, x: float, y: float) -> None:
        """A click at pixel (x, y) of the last ``render()``ed frame (display size)."""
        if self._view is None:
            self.render()
        if self._view is None:
            self.message = "Open an image first."
            return
        self.click(*self._view.to_image(x, y))

    def add_prompt(self, prompt: Prompt) -> None:
        """Add a click or box to the selected object (a new one if none) and decode its mask."""
        if self.image is None:
            self.message = "Open an image first."
            return
        obj = self._object(self.selected) or AnnotatedObject(
            AnnotatedObject.new_id(), self.category
        )
        prompts = (*obj.prompts, prompt)
        try:
            decoded = self.segmenter.refine(self.image, obj.id, prompts, obj.seed)
        except ModelUnavailableError as error:
            self.message = str(error)
            return
        except ValueError as error:
            self.message = f"That prompt was not accepted: {error}"
            return
        updated = obj.replace(
            prompts=prompts, mask=StoredMask.from_array(decoded.mask), score=decoded.score
        )
        self._change([(obj.id, updated)], selected=obj.id)
        kind = "box" if isinstance(prompt, Box) else "click"
        self.message = f"'{updated.category}': {kind} added (predicted IoU {decoded.score:.2f})."

    def clear(self) -> None:
        """Drop the selected object's prompts: a clicked object goes, an accepted one returns
        to the mask it was accepted with. Also cancels a half-drawn box."""
        self.corner = None
        obj = self._object(self.selected)
        if obj is None:
            self.message = "Nothing selected to clear."
            return
        if obj.source == "auto" and obj.seed is not None:
            self._change([(obj.id, obj.replace(prompts=(), mask=obj.seed))])
        else:
            self._change([(obj.id, None)], selected=None)
        self.message = f"Cleared '{obj.category}'."

    def undo(self) -> None:
        """Take back the last change on this image (a click, a box, a rename, a deletion, an
        accepted or deleted proposal). Cheap: no decoder call."""
        self.corner = None
        history = self._history.get(self.name or "", [])
        if not history:
            self.message = "Nothing to undo on this image."
            return
        step = history.pop()
        assert self.image is not None  # a history exists only for an open image
        for obj_id, before in step.changes:
            if before is None:
                self.store.delete(self.image.name, obj_id)
            else:
                self.store.put(self.image.name, before, self.image.size)
        if step.proposals is not None:
            self.proposals = list(step.proposals)
        self.selected = step.selected if self._object(step.selected) else None
        self._save()
        self.message = "Undone."

    def _change(
        self,
        changes: Sequence[tuple[str, AnnotatedObject | None]],
        *,
        selected: str | None | Literal[False] = False,
        proposals: Sequence[Proposal] | None = None,
    ) -> None:
        """Apply object changes (id -> new object, None to delete) as one undoable step."""
        assert self.image is not None  # every caller checked
        name, size = self.image.name, self.image.size
        befores = tuple((obj_id, self.store.get(name, obj_id)) for obj_id, _ in changes)
        history = self._history.setdefault(name, [])
        history.append(
            _Step(befores, tuple(self.proposals) if proposals is not None else None, self.selected)
        )
        del history[:-HISTORY_LIMIT]
        for obj_id, obj in changes:
            if obj is None:
                self.store.delete(name, obj_id)
            else:
                self.store.put(name, obj, size)
        # Masks that now live only in the history keep their (small) RLE, not the array: a
        # 12-megapixel mask is 12 MB per click otherwise.
        in_use = {id(m) for _, obj in changes if obj for m in (obj.mask, obj.seed) if m}
        for _, before in befores:
            for mask in (before.mask, before.seed) if before else ():
                if mask is not None and id(mask) not in in_use:
                    mask.compact()
        if proposals is not None:
            self.proposals = list(proposals)
        if selected is not False:
            self.selected = selected
        self._save()

    def _save(self) -> None:
        try:
            self.store.save()
        except (OSError, ValueError) as error:
            self.file_error = f"Could not save the annotations: {error}"
        else:
            self.file_error = None

    def _refresh(self) -> None:
        """Pick up what other tabs saved."""
        try:
            self.store.refresh()
        except (OSError, ValueError) as error:
            self.file_error = str(error)

    # ------------------------------------------------------------------ everything

    def segment_everything(self, **settings: Any) -> int:
        """Propose every mask the model finds (minus those already annotated), to review one
        by one with ``accept`` / ``reject``. Returns how many are proposed."""
        if self.image is None:
            self.message = "Open an image first."
            return 0
        try:
            found = self.segmenter.everything(self.image, **settings)
        except ModelUnavailableError as error:
            self.message = str(error)
            return 0
        existing = [o.mask.array for o in self.objects() if o.mask is not None]
        self.proposals = [p for p in found if not _duplicate(p.mask.array, existing)]
        dropped = len(found) - len(self.proposals)
        self.message = f"{len(self.proposals)} masks proposed" + (
            f" ({dropped} already annotated)." if dropped else "."
        )
        return len(self.proposals)

    def accept(self, count: int | None = 1) -> None:
        """Turn the first ``count`` proposals (None: all) into objects of the current category."""
        if self.image is None or not self.proposals:
            self.message = "No proposal to accept."
            return
        taken = self.proposals[: len(self.proposals) if count is None else count]
        new = [
            AnnotatedObject(
                AnnotatedObject.new_id(),
                self.category,
                mask=p.mask,
                score=p.score,
                source="auto",
                seed=p.mask,
            )
            for p in taken
        ]
        self._change([(o.id, o) for o in new], proposals=self.proposals[len(taken) :])
        self.message = f"Accepted {len(new)} as '{self.category}'; {len(self.proposals)} left."

    def reject(self, count: int | None = 1) -> None:
        """Delete the first ``count`` proposals (None: all)."""
        if self.image is None or not self.proposals:
            self.message = "No proposal to delete."
            return
        left = self.proposals[len(self.proposals) if count is None else count :]
        self._change([], proposals=left)
        self.message = f"{len(self.proposals)} proposals left."

    # ------------------------------------------------------------------ output

    def render(self) -> View | None:
        """The frame to show: the image, its objects, the selected object's prompts and the
        proposal under review. None when no image is open."""
        if self.image is None:
            self._view = None
            return None
        self._view = self._renderer.render(
            self.image.rgb,
            self.objects(),
            selected=self.selected,
            proposal=self.proposals[0].mask if self.proposals else None,
            corner=self.corner,
            image_key=self.image.key,
        )
        return self._view

    def status(self) -> str:
        """One line: the image and its place in the folder, objects, model state, message."""
        parts = []
        if self.image is not None:
            parts.append(
                f"{self.image.name} ({self.index + 1}/{len(self.folder.names)}), "
                f"{len(self.objects())} objects"
            )
        if self.file_error:
            parts.append(self.file_error)
        if self.segmenter.error:
            parts.append(self.segmenter.error)
        elif self.segmenter.loading:
            parts.append(f"loading the model {self.segmenter.model!r}...")
        if self.message and self.message not in parts:
            parts.append(self.message)
        return " | ".join(parts)

    def export(
        self,
        *,
        coco: bool = True,
        segmentation: Segmentation = "rle",
        masks: bool = True,
        cutouts: bool = True,
        output: str | os.PathLike[str] | None = None,
    ) -> ExportResult | None:
        """Export every annotated image of the folder (see ``sam2_hf.app.export``).

        Args:
            coco: write ``coco.json``.
            segmentation: ``"rle"`` or ``"polygons"`` in the COCO file.
            masks: write one PNG mask per object.
            cutouts: write one RGBA cut-out per object.
            output: where to; default the folder's output folder.

        Returns:
            The ``ExportResult``, or None (and a message) when it failed.
        """
        self._refresh()
        try:
            result = export_annotations(
                self.store,
                Path(output) if output is not None else self.folder.output,
                self.folder.load,
                coco=coco,
                segmentation=segmentation,
                masks=masks,
                cutouts=cutouts,
            )
        except (OSError, ValueError, ImportError) as error:
            self.message = f"Export failed: {error}"
            return None
        self.message = result.summary()
        return result


def _category(name: str) -> str:
    text = str(name).strip()
    return text or DEFAULT_CATEGORY


def _duplicate(mask: np.ndarray, existing: Sequence[np.ndarray]) -> bool:
    for other in existing:
        union = np.count_nonzero(mask | other)
        if union and np.count_nonzero(mask & other) / union > DUPLICATE_IOU:
            return True
    return False
