"""The annotation file: objects with category names, prompts and masks, saved as you go.

One JSON file in the output folder holds every image's objects. Writes are atomic (a
temporary file renamed into place) and merged under a file lock: each writer re-reads the
file, applies only the objects it changed or deleted since its last save, and writes the
result, so two tabs or two processes on one folder never lose each other's objects (the same
object edited in both: the later save wins).

Pure numpy and the standard library (plus ``filelock``, a dependency of huggingface_hub).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from filelock import FileLock
from numpy.typing import NDArray

from ..formats.coco import from_coco_rle, to_coco_rle

FILE_NAME = "sam2-hf-annotations.json"
"""The annotation file the app saves as it goes, in the image folder's output folder."""
FORMAT = "sam2-hf-app"
VERSION = 1
# Another process holds the lock for one merge-and-write (milliseconds); waiting longer than
# this means it died holding it, which filelock's OS-level locks do not allow, or a network
# file system that ignores locks.
LOCK_TIMEOUT_S = 30.0

Source = Literal["clicks", "auto"]


class StoredMask:
    """An immutable (H, W) bool mask kept as an array or as COCO RLE, converted on demand.

    Masks read from the file stay RLE strings until drawn; masks from the model are encoded
    only when saved. The array is read-only: share it, never write to it.
    """

    __slots__ = ("_array", "_rle", "_resized")

    def __init__(self, array: NDArray[np.bool_] | None, rle: dict[str, Any] | None) -> None:
        """Use ``from_array`` or ``from_rle``."""
        if array is None and rle is None:
            raise ValueError("a StoredMask needs an array or an RLE")
        self._array = array
        self._rle = rle
        self._resized: tuple[tuple[int, int], NDArray[np.bool_]] | None = None

    @classmethod
    def from_array(cls, mask: NDArray[Any]) -> StoredMask:
        """Keep a copy of an (H, W) mask (nonzero is foreground)."""
        array = np.array(mask, dtype=bool, copy=True)
        if array.ndim != 2:
            raise ValueError(f"mask must have shape (H, W), got {array.shape}")
        array.flags.writeable = False
        return cls(array, None)

    @classmethod
    def from_rle(cls, rle: Mapping[str, Any]) -> StoredMask:
        """Wrap compressed COCO RLE (``{"size": [H, W], "counts": str}``), decoded lazily."""
        if not isinstance(rle, Mapping) or "size" not in rle or "counts" not in rle:
            raise ValueError(f"a mask must be COCO RLE with 'size' and 'counts', got {rle!r}")
        return cls(None, {"size": list(rle["size"]), "counts": rle["counts"]})

    @property
    def array(self) -> NDArray[np.bool_]:
        """The (H, W) bool mask (read-only)."""
        if self._array is None:
            assert self._rle is not None  # one of the two is always set
            array = from_coco_rle(self._rle)
            array.flags.writeable = False
            self._array = array
        return self._array

    @property
    def rle(self) -> dict[str, Any]:
        """Compressed COCO RLE, as ``sam2_hf.to_coco_rle`` gives it."""
        if self._rle is None:
            self._rle = to_coco_rle(self.array)
        return self._rle

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W)."""
        if self._array is not None:
            return (int(self._array.shape[0]), int(self._array.shape[1]))
        assert self._rle is not None
        height, width = self._rle["size"]
        return (int(height), int(width))

    def compact(self) -> None:
        """Free the decoded array (and display copy) if the RLE is known; it is decoded again
        when needed. For masks kept only in the undo history."""
        if self._rle is not None:
            self._array = None
            self._resized = None

    def resized(self, shape: tuple[int, int]) -> NDArray[np.bool_]:
        """The mask at another (h, w) by nearest-neighbour sampling (for display); cached."""
        if shape == self.shape:
            return self.array
        if self._resized is None or self._resized[0] != shape:
            height, width = self.shape
            rows = ((np.arange(shape[0]) + 0.5) * height / shape[0]).astype(np.intp)
            cols = ((np.arange(shape[1]) + 0.5) * width / shape[1]).astype(np.intp)
            self._resized = (shape, self.array[rows[:, None], cols[None, :]])
        return self._resized[1]


@dataclass(frozen=True)
class Click:
    """A point prompt at pixel (x, y) of the original image; ``positive`` False = background."""

    x: float
    y: float
    positive: bool = True


@dataclass(frozen=True)
class Box:
    """A box prompt (x0, y0, x1, y1) in pixels of the original image, x0 <= x1, y0 <= y1."""

    x0: float
    y0: float
    x1: float
    y1: float


Prompt = Click | Box


@dataclass(frozen=True, eq=False)
class AnnotatedObject:
    """One object of one image: its category, the prompts that made it, and its mask.

    Attributes:
        id: unique id (hex string), stable across saves and tabs.
        category: the category name, e.g. ``"cat"``.
        prompts: clicks and boxes in the order they were given; the mask is what the
            click-by-click refinement makes of them (see ``sam2_hf.app.segmenter``).
        mask: the (H, W) mask, or None while the object has no prompt yet.
        score: the model's predicted IoU for ``mask``, if it came from the model.
        source: ``"clicks"`` (made from prompts) or ``"auto"`` (accepted from "segment
            everything"; ``seed`` then holds that mask, where refinement starts from).
        seed: the starting mask of an ``"auto"`` object.
        created: when the object was made (seconds since the epoch); objects are listed in
            this order, so an object brought back by undo or saved by another tab takes its
            place among the others.
    """

    id: str
    category: str
    prompts: tuple[Prompt, ...] = ()
    mask: StoredMask | None = None
    score: float | None = None
    source: Source = "clicks"
    seed: StoredMask | None = None
    created: float = dataclasses.field(default_factory=time.time)

    @staticmethod
    def new_id() -> str:
        """A fresh random id."""
        return uuid.uuid4().hex[:16]

    def replace(self, **changes: Any) -> AnnotatedObject:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def clicks(self) -> tuple[Click, ...]:
        """The point prompts, in order."""
        return tuple(p for p in self.prompts if isinstance(p, Click))

    @property
    def box(self) -> Box | None:
        """The last box prompt (a new box replaces the previous one), or None."""
        boxes = [p for p in self.prompts if isinstance(p, Box)]
        return boxes[-1] if boxes else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (masks as COCO RLE)."""
        prompts: list[dict[str, Any]] = []
        for prompt in self.prompts:
            if isinstance(prompt, Click):
                prompts.append({"point": [prompt.x, prompt.y], "label": int(prompt.positive)})
            else:
                prompts.append({"box": [prompt.x0, prompt.y0, prompt.x1, prompt.y1]})
        return {
            "id": self.id,
            "category": self.category,
            "source": self.source,
            "prompts": prompts,
            "score": self.score,
            "mask": None if self.mask is None else self.mask.rle,
            "seed": None if self.seed is None else self.seed.rle,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnnotatedObject:
        """Read what ``to_json`` wrote; ValueError names what is malformed."""
        try:
            prompts: list[Prompt] = []
            for item in data.get("prompts", []):
                if "box" in item:
                    x0, y0, x1, y1 = (float(v) for v in item["box"])
                    prompts.append(Box(x0, y0, x1, y1))
                else:
                    x, y = (float(v) for v in item["point"])
                    prompts.append(Click(x, y, bool(item.get("label", 1))))
            source = data.get("source", "clicks")
            if source not in ("clicks", "auto"):
                raise ValueError(f"source must be 'clicks' or 'auto', got {source!r}")
            score = data.get("score")
            return cls(
                id=str(data["id"]),
                category=str(data["category"]),
                prompts=tuple(prompts),
                mask=None if data.get("mask") is None else StoredMask.from_rle(data["mask"]),
                score=None if score is None else float(score),
                source=source,
                seed=None if data.get("seed") is None else StoredMask.from_rle(data["seed"]),
                created=float(data.get("created", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"malformed object {dict(data).get('id', '?')!r}: {error}") from None


_Stat = tuple[int, int, int]  # (inode, size, mtime_ns): "has the file changed since we read it"


class AnnotationStore:
    """Every image's objects, backed by one JSON file that several writers may share.

    Changes (``put``, ``delete``) apply at once in memory and reach the file with ``save``.
    ``save`` merges: under a lock it re-reads the file when another writer changed it, applies
    this store's pending changes on top, writes atomically, and adopts the merged result, so
    objects another tab saved appear here too.

    Example:
        >>> store = AnnotationStore("out/sam2-hf-annotations.json")  # doctest: +SKIP
        >>> store.put("cat.jpg", AnnotatedObject(AnnotatedObject.new_id(), "cat"), (480, 640))
        >>> store.save()  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open (or prepare to create) the file at ``path``; its folder is created on save.

        Raises:
            ValueError: the file exists but is not an annotation file this version can read.
        """
        self.path = Path(path)
        self._lock = FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT_S)
        self._objects: dict[str, dict[str, AnnotatedObject]] = {}
        self._sizes: dict[str, tuple[int, int]] = {}
        self._parsed: dict[tuple[str, str], tuple[dict[str, Any], AnnotatedObject]] = {}
        self._pending: dict[tuple[str, str], AnnotatedObject | None] = {}
        self._images: dict[str, Any] = {}  # the file's "images" as last read or written
        self._stat: _Stat | None = None
        self.refresh()

    # ------------------------------------------------------------------ reading

    def objects(self, image: str) -> list[AnnotatedObject]:
        """The objects of ``image`` in the order they were made."""
        return sorted(self._objects.get(image, {}).values(), key=lambda obj: obj.created)

    def get(self, image: str, obj_id: str) -> AnnotatedObject | None:
        """One object, or None."""
        return self._objects.get(image, {}).get(obj_id)

    def image_size(self, image: str) -> tuple[int, int] | None:
        """(H, W) of an image that has objects, as recorded with them."""
        return self._sizes.get(image)

    def images(self) -> list[str]:
        """Images that have at least one object, in the order first annotated."""
        return [name for name, objects in self._objects.items() if objects]

    def categories(self) -> list[str]:
        """Every category name in use, in the order first used."""
        names: dict[str, None] = {}
        for objects in self._objects.values():
            for obj in objects.values():
                names.setdefault(obj.category, None)
        return list(names)

    @property
    def dirty(self) -> bool:
        """Whether there are changes not yet saved."""
        return bool(self._pending)

    # ------------------------------------------------------------------ changes

    def put(self, image: str, obj: AnnotatedObject, size: tuple[int, int]) -> None:
        """Add or replace an object of ``image`` ((H, W) ``size``); saved by ``save``."""
        if not isinstance(obj, AnnotatedObject):
            raise TypeError(f"obj must be an AnnotatedObject, got {type(obj).__name__}")
        for mask in (obj.mask, obj.seed):
            if mask is not None and mask.shape != tuple(size):
                raise ValueError(f"the mask of {obj.id} has shape {mask.shape}, the image {size}")
        self._objects.setdefault(image, {})[obj.id] = obj
        self._sizes[image] = (int(size[0]), int(size[1]))
        self._pending[(image, obj.id)] = obj

    def delete(self, image: str, obj_id: str) -> None:
        """Remove an object (no error if it is already gone); saved by ``save``."""
        self._objects.get(image, {}).pop(obj_id, None)
        self._pending[(image, obj_id)] = None

    # ------------------------------------------------------------------ the file

    def refresh(self) -> bool:
        """Re-read the file if another writer changed it (pending changes stay on top).

        Returns:
            Whether anything was read.
        """
        stat = self._file_stat()
        if stat == self._stat:
            return False
        self._adopt(self._read() if stat is not None else {}, stat)
        return True

    def save(self) -> None:
        """Merge pending changes into the file under its lock and write it atomically.

        Raises:
            OSError: the folder cannot be created or written, or the lock is held too long.
            ValueError: the file on disk is not a readable annotation file.
        """
        if not self._pending:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            stat = self._file_stat()
            base = self._images if stat == self._stat else self._read() if stat else {}
            # New lists for the records we change: ``base`` may be the adopted view.
            images = dict(base)
            for (image, obj_id), obj in self._pending.items():
                record = images.get(image, {"objects": []})
                objects = [o for o in record["objects"] if o.get("id") != obj_id]
                if obj is not None:
                    data = obj.to_json()
                    self._parsed[(image, obj_id)] = (data, obj)
                    index = next(
                        (i for i, o in enumerate(record["objects"]) if o.get("id") == obj_id),
                        len(objects),
                    )
                    objects.insert(index, data)
                height, width = self._sizes.get(image, (0, 0))
                images[image] = {"height": height, "width": width, "objects": objects}
            images = {name: record for name, record in images.items() if record["objects"]}
            document = {"format": FORMAT, "version": VERSION, "images": images}
            _write_atomically(self.path, json.dumps(document, separators=(",", ":")).encode())
            self._pending.clear()
            self._adopt(images, self._file_stat())

    def _file_stat(self) -> _Stat | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def _read(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(
                f"{self.path} is not valid JSON ({error}); move it away to start afresh"
            ) from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"{self.path} is not a sam2-hf annotation file")
        if document.get("version", 0) > VERSION:
            raise ValueError(
                f"{self.path} was written by a newer sam2-hf (format version "
                f"{document['version']}, this one reads {VERSION}); upgrade sam2-hf"
            )
        images = document.get("images", {})
        if not isinstance(images, dict):
            raise ValueError(f"{self.path}: 'images' must be an object")
        return images

    def _adopt(self, images: Mapping[str, Any], stat: _Stat | None) -> None:
        """Make the in-memory view the file's ``images`` plus this store's pending changes."""
        objects: dict[str, dict[str, AnnotatedObject]] = {}
        parsed: dict[tuple[str, str], tuple[dict[str, Any], AnnotatedObject]] = {}
        for image, record in images.items():
            if not isinstance(record, dict) or not isinstance(record.get("objects"), list):
                raise ValueError(f"{self.path}: image {image!r} has no 'objects' list")
            self._sizes[image] = (int(record.get("height", 0)), int(record.get("width", 0)))
            per_image = objects.setdefault(image, {})
            for data in record["objects"]:
                key = (image, str(data.get("id")))
                previous = self._parsed.get(key)
                # Keep the object we already have when the file holds the same data: its
                # decoded mask and the refinement's cached logits stay valid.
                obj = previous[1] if previous and previous[0] == data else None
                if obj is None:
                    obj = AnnotatedObject.from_json(data)
                parsed[key] = (data, obj)
                per_image[obj.id] = obj
        for (image, obj_id), pending in self._pending.items():
            if pending is None:
                objects.get(image, {}).pop(obj_id, None)
            else:
                objects.setdefault(image, {})[obj_id] = pending
        self._objects, self._parsed, self._images, self._stat = objects, parsed, dict(images), stat


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` beside ``path`` and rename it into place.

    The temporary file is opened with ``open(..., "xb")``, so it gets the permissions a plain
    ``open()`` gives (``mkstemp`` would make it 0600).
    """
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_bytes_atomically(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write a file so that readers see the old or the new contents, never half of it."""
    target = Path(path)
    _write_atomically(target, data)
    return target
