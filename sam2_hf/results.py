"""Result types: frozen, validated dataclasses of numpy arrays, never torch tensors.

- ``Prediction``: the candidate masks of ``Sam2Predictor.predict``; a sequence of three,
  ``(masks, scores, logits)``, like the original ``SAM2ImagePredictor.predict``'s tuple.
- ``Masks``: one mask per object on one image, a collection in the manner of supervision's
  ``Detections``: ``len()``, indexing and slicing that return ``Masks``, iteration over
  ``ObjectMask`` records.
- ``FrameMasks``: the tracked objects on one video frame; unpacks as ``frame_idx, masks``.

Boxes follow ``sam2_hf.formats.boxes``. Each result checks its arrays' shapes when it is
built (``ValueError`` naming the field, the expected and the given shape) and prints as a
summary of shapes and a few scores, never as an array dump.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .formats.coco import to_coco_rle
from .formats.draw import ImageLike, cutout, overlay
from .formats.masks import (
    Polygon,
    mask_area,
    mask_to_box,
    mask_to_polygons,
    save_mask,
    save_masks,
)
from .inputs import check_int

# How many numbers a repr shows before it says how many more there are.
_REPR_VALUES = 5


# ---------------------------------------------------------------- validation and repr helpers


def _array(owner: object, name: str, value: Any) -> NDArray[Any]:
    """``value`` as an array, stored back on the frozen ``owner`` (no copy for an array)."""
    array = np.asarray(value)
    if array is not value:
        object.__setattr__(owner, name, array)
    return array


def _require_numeric(name: str, array: NDArray[Any], expected: str) -> None:
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must be {expected} of numbers, got dtype {array.dtype}")


def _require_shape(
    name: str, array: NDArray[Any], shape: tuple[int | None, ...], text: str
) -> None:
    """Check ``array.shape`` against ``shape`` (None matches any length)."""
    fits = array.ndim == len(shape) and all(
        want is None or want == got for want, got in zip(shape, array.shape, strict=True)
    )
    if not fits:
        raise ValueError(f"{name} must be {text}, got shape {array.shape}")


def _describe(array: NDArray[Any]) -> str:
    """``(3, 480, 640) bool``: shape and dtype, for reprs."""
    return f"{tuple(array.shape)} {array.dtype}"


def _numbers(values: ArrayLike) -> str:
    """A few numbers of an array, ``[0.912, 0.551, ... 7 more]``; a 0-d array as one number."""
    array = np.asarray(values)
    flat = array.ravel().tolist()
    text = ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in flat[:_REPR_VALUES])
    if array.ndim == 0:
        return text
    if len(flat) > _REPR_VALUES:
        text += f", ... {len(flat) - _REPR_VALUES} more"
    return f"[{text}]" if array.ndim == 1 else f"{tuple(array.shape)} [{text}]"


# ---------------------------------------------------------------- Prediction


@dataclass(frozen=True, eq=False, repr=False)
class Prediction(Sequence[NDArray[Any]]):
    """The candidate masks for one prompt (or one per object), best first.

    A sequence of three, like the original ``SAM2ImagePredictor.predict``'s tuple
    ``(masks, scores, logits)``: ``len(result) == 3``, ``result[0]`` is ``masks``,
    ``result[-1]`` is ``logits``, slicing gives a tuple, and ``masks, scores, logits =
    result`` unpacks. ``object_score_logits`` and the ``best*`` properties are extras that
    are not part of the sequence.

    For a single object (points of shape (K, 2) and/or one box):

    Attributes:
        masks: (C, H, W) bool at the original image size (float32 logits when
            ``return_logits=True``); C is 3 with ``multimask_output`` and 1 without.
        scores: (C,) float32 predicted IoU, sorted descending: ``masks[0]`` is the best.
        logits: (C, 256, 256) float32 low-resolution logits clamped to [-32, 32], in the same
            order; ``logits[0]`` can be passed back as ``mask_input``.
        object_score_logits: () float32; above 0 the model thinks the object is present.

    For N > 1 objects (an (N, 4) box array or (N, K, 2) points) every array gains a leading N
    axis, as in the original: masks (N, C, H, W), scores (N, C), logits (N, C, 256, 256),
    object_score_logits (N,). Sorting is per object.

    Raises:
        TypeError, ValueError: on construction, an array of the wrong kind or shape.
    """

    masks: NDArray[Any]
    scores: NDArray[np.float32]
    logits: NDArray[np.float32]
    object_score_logits: NDArray[np.float32]

    def __post_init__(self) -> None:
        masks = _array(self, "masks", self.masks)
        if masks.dtype != np.bool_ and not np.issubdtype(masks.dtype, np.floating):
            raise TypeError(f"masks must be bool masks or float logits, got dtype {masks.dtype}")
        if masks.ndim not in (3, 4):
            raise ValueError(
                f"masks must be a (C, H, W) or (N, C, H, W) array, got shape {masks.shape}"
            )
        lead = masks.shape[:-2]  # (C,) or (N, C)
        logits_text = "(" + "".join(f"{n}, " for n in lead) + "h, w)"
        for name, shape, text in (
            ("scores", lead, str(lead)),
            ("logits", (*lead, None, None), logits_text),
            ("object_score_logits", lead[:-1], str(lead[:-1])),
        ):
            array = _array(self, name, getattr(self, name))
            _require_numeric(name, array, "an array")
            _require_shape(name, array, shape, f"of shape {text} to match masks {masks.shape}")

    def __len__(self) -> int:
        return 3

    @overload
    def __getitem__(self, index: int) -> NDArray[Any]: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[NDArray[Any], ...]: ...

    def __getitem__(self, index: int | slice) -> NDArray[Any] | tuple[NDArray[Any], ...]:
        return (self.masks, self.scores, self.logits)[index]

    def __iter__(self) -> Iterator[NDArray[Any]]:
        return iter((self.masks, self.scores, self.logits))

    def __repr__(self) -> str:
        return (
            f"Prediction(masks={_describe(self.masks)}, scores={_numbers(self.scores)}, "
            f"logits={_describe(self.logits)}, "
            f"object_score_logits={_numbers(self.object_score_logits)})"
        )

    @property
    def best(self) -> NDArray[Any]:
        """The highest-scoring mask: (H, W), or (N, H, W) for N objects."""
        return self.masks[..., 0, :, :]

    @property
    def best_score(self) -> NDArray[np.float32]:
        """The predicted IoU of ``best``: () or (N,)."""
        return self.scores[..., 0]

    @property
    def best_logits(self) -> NDArray[np.float32]:
        """The (256, 256) low-res logits of ``best`` (or (N, 256, 256)), for ``mask_input``."""
        return self.logits[..., 0, :, :]

    def to_masks(self) -> Masks:
        """The best candidate per object as ``Masks`` (one object gives ``len() == 1``)."""
        if self.masks.dtype != bool:
            raise ValueError("to_masks() needs bool masks; predict without return_logits=True")
        single = self.masks.ndim == 3
        return Masks(
            masks=self.best[None] if single else self.best,
            scores=np.atleast_1d(self.best_score),
            logits=self.best_logits[None] if single else self.best_logits,
            object_score_logits=np.atleast_1d(self.object_score_logits),
        )

    def save(self, path: str | os.PathLike[str]) -> list[Path]:
        """Write the best mask per object as 8-bit PNG (0/255); see ``Masks.save``."""
        return self.to_masks().save(path)

    def to_coco_rle(self) -> list[dict[str, Any]]:
        """The best mask per object as COCO compressed RLE (``pycocotools`` compatible)."""
        return self.to_masks().to_coco_rle()


# ---------------------------------------------------------------- Masks


@dataclass(frozen=True, eq=False, repr=False)
class ObjectMask:
    """One object of a ``Masks``: what iterating over ``Masks`` yields.

    The arrays are views into the ``Masks`` they came from (do not modify them).

    Attributes:
        mask: (H, W) bool at the original image size.
        score: the predicted IoU.
        logits: (256, 256) float32 low-resolution logits.
        object_score_logit: above 0 the model thinks the object is present.
        box: (4,) float32 box prompt (x0, y0, x1, y1), or None (see ``Masks.boxes``).
    """

    mask: NDArray[np.bool_]
    score: float
    logits: NDArray[np.float32]
    object_score_logit: float
    box: NDArray[np.float32] | None = None

    def __getattr__(self, name: str) -> Any:
        # Code written for the first release unpacked ``Masks`` as (masks, scores, logits);
        # with three objects that now yields three ObjectMask records. Say so.
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"'ObjectMask' object has no attribute {name!r}. Iterating over (or unpacking) "
            "Masks yields one ObjectMask per object; read arrays by name instead: "
            "result.masks, result.scores, result.logits"
        )

    def __repr__(self) -> str:
        box = None if self.box is None else _numbers(self.box)
        return (
            f"ObjectMask(mask={_describe(self.mask)}, score={self.score:.3g}, "
            f"object_score_logit={self.object_score_logit:.3g}, box={box})"
        )

    @property
    def area(self) -> int:
        """The number of mask pixels."""
        return int(np.count_nonzero(self.mask))

    @property
    def mask_box(self) -> NDArray[np.int64]:
        """(4,) tight box (x0, y0, x1, y1) around the mask, inclusive pixel indices."""
        return mask_to_box(self.mask)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the mask as an 8-bit PNG (0/255), atomically; see ``save_mask``."""
        return save_mask(self.mask, path)

    def to_coco_rle(self) -> dict[str, Any]:
        """The mask as COCO compressed RLE (``pycocotools.mask.encode`` compatible)."""
        return to_coco_rle(self.mask)

    def cutout(self, image: ImageLike, crop: bool = False) -> ImageLike:
        """The object cut out of ``image`` as RGBA with a transparent background."""
        return cutout(image, self.mask, crop=crop)


@dataclass(frozen=True, eq=False, repr=False)
class Masks:
    """One mask per object on one image, in the order the prompts were given.

    The order follows the input (``masks[i]`` belongs to ``boxes[i]``), not the score, so a
    detector's boxes and their masks stay paired.

    A collection of N objects, like supervision's ``Detections``:

    - ``len(result)`` is N (``bool(result)`` is False when nothing was found);
    - ``result[i]`` (an int, negative counts from the end), ``result[a:b]``, ``result[keep]``
      (a bool array of length N, e.g. ``result[result.scores > 0.8]``) and
      ``result[[2, 0]]`` (int indices) all return a new ``Masks`` of the chosen objects;
    - ``for obj in result`` yields one ``ObjectMask`` per object (``obj.mask``,
      ``obj.score``, ``obj.box`` ...).

    It does not unpack: read the fields by name (``result.masks``, ``result.scores``).

    Attributes:
        masks: (N, H, W) bool at the original image size.
        scores: (N,) float32 predicted IoU of each mask.
        logits: (N, 256, 256) float32 low-resolution logits clamped to [-32, 32].
        object_score_logits: (N,) float32; above 0 the model thinks the object is present.
        boxes: (N, 4) float32 box prompts (x0, y0, x1, y1) in pixels after clipping to the
            image (continuous coordinates, see ``sam2_hf.formats.boxes``), or None when the
            prompts were points only.

    Raises:
        TypeError, ValueError: on construction, an array of the wrong kind or shape, e.g.
            ``masks must be a (N, H, W) bool array, got shape (3, 4)``.
    """

    masks: NDArray[np.bool_]
    scores: NDArray[np.float32]
    logits: NDArray[np.float32]
    object_score_logits: NDArray[np.float32]
    boxes: NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        masks = _array(self, "masks", self.masks)
        if masks.dtype != np.bool_:
            raise TypeError(f"masks must be a (N, H, W) bool array, got dtype {masks.dtype}")
        _require_shape("masks", masks, (None, None, None), "a (N, H, W) bool array")
        count = len(masks)
        for name, shape, text in (
            ("scores", (count,), "an (N,) array"),
            ("logits", (count, None, None), "an (N, h, w) array"),
            ("object_score_logits", (count,), "an (N,) array"),
            ("boxes", (count, 4), "an (N, 4) array (x0, y0, x1, y1)"),
        ):
            value = getattr(self, name)
            if value is None and name == "boxes":
                continue
            array = _array(self, name, value)
            _require_numeric(name, array, text)
            _require_shape(name, array, shape, f"{text} with N = {count} as masks")

    @classmethod
    def empty(cls, size: tuple[int, int], *, logits_size: tuple[int, int] = (256, 256)) -> Masks:
        """No objects on an image of ``size``: what a search that found nothing returns.

        Args:
            size: (H, W) of the image.
            logits_size: (h, w) of the low-resolution logits.

        Returns:
            ``Masks`` with N = 0 and arrays of shape (0, H, W), (0,), (0, h, w), (0,) and
            boxes (0, 4).
        """
        height, width = (check_int(f"size[{i}]", v, minimum=1) for i, v in enumerate(size))
        low_h, low_w = (
            check_int(f"logits_size[{i}]", v, minimum=1) for i, v in enumerate(logits_size)
        )
        return cls(
            masks=np.zeros((0, height, width), bool),
            scores=np.zeros(0, np.float32),
            logits=np.zeros((0, low_h, low_w), np.float32),
            object_score_logits=np.zeros(0, np.float32),
            boxes=np.zeros((0, 4), np.float32),
        )

    def __len__(self) -> int:
        return len(self.masks)

    def __iter__(self) -> Iterator[ObjectMask]:
        for index in range(len(self)):
            yield ObjectMask(
                mask=self.masks[index],
                score=float(self.scores[index]),
                logits=self.logits[index],
                object_score_logit=float(self.object_score_logits[index]),
                box=None if self.boxes is None else self.boxes[index],
            )

    def __getitem__(
        self, index: int | slice | Sequence[int] | Sequence[bool] | NDArray[Any]
    ) -> Masks:
        rows = self._rows(index)
        return Masks(
            masks=self.masks[rows],
            scores=self.scores[rows],
            logits=self.logits[rows],
            object_score_logits=self.object_score_logits[rows],
            boxes=None if self.boxes is None else self.boxes[rows],
        )

    def _rows(self, index: Any) -> slice | NDArray[np.intp] | NDArray[np.bool_]:
        """``index`` as a slice or a 1-D index array over the N objects."""
        count = len(self)
        if isinstance(index, slice):
            return index
        if isinstance(index, int | np.integer) and not isinstance(index, bool | np.bool_):
            if not -count <= index < count:
                raise IndexError(f"index {index} is out of range for {count} objects")
            start = int(index) % count
            return slice(start, start + 1)
        array = np.asarray(index)
        if array.ndim != 1 or not (
            array.size == 0 or array.dtype == np.bool_ or np.issubdtype(array.dtype, np.integer)
        ):
            raise TypeError(
                "Masks index must be an int, a slice, or a 1-D bool or int array, "
                f"got {type(index).__name__}"
                + (f" of shape {array.shape} and dtype {array.dtype}" if array.ndim else "")
            )
        if array.dtype == np.bool_:
            if array.shape != (count,):
                raise IndexError(
                    f"a boolean index must have one entry per object ({count}), "
                    f"got shape {array.shape}"
                )
            return array
        array = array.astype(np.intp)
        if array.size and not ((array >= -count) & (array < count)).all():
            bad = array[(array < -count) | (array >= count)][0]
            raise IndexError(f"index {bad} is out of range for {count} objects")
        return array

    def __repr__(self) -> str:
        boxes = None if self.boxes is None else _describe(self.boxes)
        return (
            f"Masks({len(self)} object{'' if len(self) == 1 else 's'}, "
            f"masks={_describe(self.masks)}, "
            f"scores={_numbers(self.scores)}, logits={_describe(self.logits)}, "
            f"object_score_logits={_numbers(self.object_score_logits)}, boxes={boxes})"
        )

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of the image the masks belong to."""
        return int(self.masks.shape[1]), int(self.masks.shape[2])

    @property
    def area(self) -> NDArray[np.int64]:
        """(N,) number of mask pixels per object."""
        return np.asarray(mask_area(self.masks), dtype=np.int64)

    @property
    def mask_boxes(self) -> NDArray[np.int64]:
        """(N, 4) tight box (x0, y0, x1, y1) around each mask, inclusive pixel indices."""
        return mask_to_box(self.masks).reshape(-1, 4)

    def save(self, path: str | os.PathLike[str]) -> list[Path]:
        """Write each mask as an 8-bit PNG (0/255), all or nothing.

        Every PNG is written to a temporary file first; only when all are written are they
        renamed into place (``sam2_hf.formats.masks.save_masks``), so a failure leaves
        no half-written set and any earlier files as they were.

        Args:
            path: for one mask, a ``.png`` file (its folder must exist); otherwise a folder
                (created if needed) that receives ``mask_0.png``, ``mask_1.png``, ... in
                object order.

        Returns:
            The files written.

        Raises:
            ValueError: ``path`` names a file but there is not exactly one mask.
        """
        target = Path(path)
        if len(self) == 1 and target.suffix.lower() == ".png":
            return [save_mask(self.masks[0], target)]
        if target.suffix:
            raise ValueError(
                f"path must be a folder for {len(self)} masks, got the file name {str(target)!r}"
            )
        created = not target.exists()
        target.mkdir(parents=True, exist_ok=True)
        try:
            return save_masks(self.masks, [target / f"mask_{i}.png" for i in range(len(self))])
        except BaseException:
            if created and not any(target.iterdir()):
                target.rmdir()
            raise

    def to_coco_rle(self) -> list[dict[str, Any]]:
        """One COCO compressed RLE dict per mask (``pycocotools.mask.encode`` compatible)."""
        return [to_coco_rle(mask) for mask in self.masks]

    def to_polygons(self, tolerance: float = 0.0) -> list[list[Polygon]]:
        """Per mask, its polygons with holes (needs ``pip install "sam2-hf[polygons]"``)."""
        return [mask_to_polygons(mask, tolerance=tolerance) for mask in self.masks]

    def cutout(self, image: ImageLike, index: int = 0, crop: bool = False) -> ImageLike:
        """Mask ``index`` cut out of ``image`` as RGBA with a transparent background."""
        return cutout(image, self.masks[self._rows(index)][0], crop=crop)

    def overlay(self, image: ImageLike, **options: Any) -> ImageLike:
        """All masks drawn over ``image`` in per-object colours; see ``sam2_hf.overlay``."""
        if self.boxes is not None:
            options.setdefault("boxes", self.boxes)
        return overlay(image, self.masks, **options)


# ---------------------------------------------------------------- FrameMasks


@dataclass(frozen=True, eq=False, repr=False)
class FrameMasks:
    """The tracked objects on one frame.

    Unpacks as ``frame_idx, masks`` so ``for frame_idx, masks in session.propagate()`` works.
    Every dict is keyed by object id, in the order the objects were first prompted, and all
    three dicts have the same keys.

    Attributes:
        frame_idx: index of the frame in the video (0-based).
        masks: obj_id -> (H, W) bool mask at the frame's original size.
        present: obj_id -> whether the model thinks the object is visible on this frame
            (object score logit > 0); False means the track is lost or the object occluded,
            and its mask is empty.
        scores: obj_id -> the object score logit (float).

    Raises:
        TypeError, ValueError: on construction, a field of the wrong kind or shape, or dicts
            whose keys differ.
    """

    frame_idx: int
    masks: dict[int, NDArray[np.bool_]]
    present: dict[int, bool]
    scores: dict[int, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame_idx", check_int("frame_idx", self.frame_idx, minimum=0))
        for name in ("masks", "present", "scores"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise TypeError(
                    f"{name} must be a dict keyed by obj_id, got {type(value).__name__}"
                )
        ids = list(self.masks)
        for obj_id in ids:
            check_int("obj_id", obj_id, minimum=-(2**63))
        for name in ("present", "scores"):
            if list(getattr(self, name)) != ids:
                raise ValueError(
                    f"{name} must have the keys of masks in the same order, {ids}, "
                    f"got {list(getattr(self, name))}"
                )
        size: tuple[int, ...] | None = None
        for obj_id, mask in self.masks.items():
            if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.ndim != 2:
                got = (
                    f"shape {mask.shape} and dtype {mask.dtype}"
                    if isinstance(mask, np.ndarray)
                    else type(mask).__name__
                )
                raise ValueError(f"masks[{obj_id}] must be an (H, W) bool array, got {got}")
            if size is not None and mask.shape != size:
                raise ValueError(
                    f"masks must all have the frame's size {size}, "
                    f"got {mask.shape} for obj_id {obj_id}"
                )
            size = mask.shape

    def __iter__(self) -> Iterator[Any]:
        return iter((self.frame_idx, self.masks))

    def __repr__(self) -> str:
        ids = self.obj_ids
        masks = f"{_describe(self.masks[ids[0]])} each" if ids else "none"
        present = [bool(self.present[i]) for i in ids]
        scores = np.array([float(self.scores[i]) for i in ids])
        return (
            f"FrameMasks(frame_idx={self.frame_idx}, obj_ids={_numbers(np.array(ids, int))}, "
            f"masks={masks}, present={_numbers(np.array(present, bool))}, "
            f"scores={_numbers(scores)})"
        )

    @property
    def obj_ids(self) -> list[int]:
        """Object ids, in the order of ``masks``."""
        return list(self.masks)

    def stack(self) -> NDArray[np.bool_]:
        """(N, H, W) bool masks in the order of ``obj_ids``."""
        return np.stack(list(self.masks.values())) if self.masks else np.zeros((0, 0, 0), bool)

    def to_coco_rle(self) -> dict[int, dict[str, Any]]:
        """obj_id -> compressed COCO RLE of its mask (see ``sam2_hf.coco.to_coco_rle``)."""
        return {obj_id: to_coco_rle(mask) for obj_id, mask in self.masks.items()}
