"""Result types: frozen dataclasses of numpy arrays, never torch tensors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .formats.coco import to_coco_rle
from .formats.draw import ImageLike, cutout, overlay
from .formats.masks import Polygon, mask_area, mask_to_box, mask_to_polygons, save_mask


@dataclass(frozen=True)
class Prediction:
    """The candidate masks for one prompt (or one per object), best first.

    Unpacks like the original ``SAM2ImagePredictor.predict``: ``masks, scores, logits = result``.

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
    """

    masks: NDArray[Any]
    scores: NDArray[np.float32]
    logits: NDArray[np.float32]
    object_score_logits: NDArray[np.float32]

    def __iter__(self) -> Iterator[NDArray[Any]]:
        return iter((self.masks, self.scores, self.logits))

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
        best = self.best if self.masks.ndim == 4 else self.best[None]
        return Masks(
            masks=best,
            scores=np.atleast_1d(self.best_score),
            logits=self.best_logits if self.masks.ndim == 4 else self.best_logits[None],
            object_score_logits=np.atleast_1d(self.object_score_logits),
        )

    def save(self, path: str | os.PathLike[str]) -> list[Path]:
        """Write the best mask per object as 8-bit PNG (0/255); see ``Masks.save``."""
        return self.to_masks().save(path)

    def to_coco_rle(self) -> list[dict[str, Any]]:
        """The best mask per object as COCO compressed RLE (``pycocotools`` compatible)."""
        return self.to_masks().to_coco_rle()


@dataclass(frozen=True)
class Masks:
    """One mask per object on one image, in the order the prompts were given.

    The order follows the input (``masks[i]`` belongs to ``boxes[i]``), not the score, so a
    detector's boxes and their masks stay paired. Supports ``len()``, integer / slice /
    boolean-array indexing (returning ``Masks``) and unpacking as ``masks, scores, logits``.

    Attributes:
        masks: (N, H, W) bool at the original image size.
        scores: (N,) float32 predicted IoU of each mask.
        logits: (N, 256, 256) float32 low-resolution logits clamped to [-32, 32].
        object_score_logits: (N,) float32; above 0 the model thinks the object is present.
        boxes: (N, 4) float32 box prompts (x0, y0, x1, y1) in pixels after clipping to the
            image, or None when the prompts were points only.
    """

    masks: NDArray[np.bool_]
    scores: NDArray[np.float32]
    logits: NDArray[np.float32]
    object_score_logits: NDArray[np.float32]
    boxes: NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        count = len(self.masks)
        for name in ("scores", "logits", "object_score_logits", "boxes"):
            value = getattr(self, name)
            if value is not None and len(value) != count:
                raise ValueError(f"{name} must have {count} rows like masks, got {len(value)}")

    def __len__(self) -> int:
        return len(self.masks)

    def __iter__(self) -> Iterator[NDArray[Any]]:
        return iter((self.masks, self.scores, self.logits))

    def __getitem__(self, index: int | slice | NDArray[Any]) -> Masks:
        if isinstance(index, (int, np.integer)):
            index = slice(index, index + 1 if index != -1 else None)
        return Masks(
            masks=self.masks[index],
            scores=self.scores[index],
            logits=self.logits[index],
            object_score_logits=self.object_score_logits[index],
            boxes=None if self.boxes is None else self.boxes[index],
        )

    @property
    def area(self) -> NDArray[np.int64]:
        """(N,) number of mask pixels per object."""
        return mask_area(self.masks)

    @property
    def mask_boxes(self) -> NDArray[np.int64]:
        """(N, 4) tight box (x0, y0, x1, y1) around each mask, inclusive pixel indices."""
        return mask_to_box(self.masks).reshape(-1, 4)

    def save(self, path: str | os.PathLike[str]) -> list[Path]:
        """Write each mask as an 8-bit PNG (0/255), atomically.

        Args:
            path: for one mask, a ``.png`` file; otherwise a folder (created if needed) that
                receives ``mask_0.png``, ``mask_1.png``, ... in object order.

        Returns:
            The files written.
        """
        target = Path(path)
        if len(self) == 1 and target.suffix.lower() == ".png":
            return [save_mask(self.masks[0], target)]
        if target.suffix:
            raise ValueError(
                f"path must be a folder for {len(self)} masks, got the file name {str(target)!r}"
            )
        target.mkdir(parents=True, exist_ok=True)
        return [save_mask(mask, target / f"mask_{i}.png") for i, mask in enumerate(self.masks)]

    def to_coco_rle(self) -> list[dict[str, Any]]:
        """One COCO compressed RLE dict per mask (``pycocotools.mask.encode`` compatible)."""
        return [to_coco_rle(mask) for mask in self.masks]

    def to_polygons(self, tolerance: float = 0.0) -> list[list[Polygon]]:
        """Per mask, its polygons with holes (needs ``pip install "sam2-hf[polygons]"``)."""
        return [mask_to_polygons(mask, tolerance=tolerance) for mask in self.masks]

    def cutout(self, image: ImageLike, index: int = 0, crop: bool = False) -> ImageLike:
        """Mask ``index`` cut out of ``image`` as RGBA with a transparent background."""
        return cutout(image, self.masks[index], crop=crop)

    def overlay(self, image: ImageLike, **options: Any) -> ImageLike:
        """All masks drawn over ``image`` in per-object colours; see ``sam2_hf.overlay``."""
        if self.boxes is not None:
            options.setdefault("boxes", self.boxes)
        return overlay(image, self.masks, **options)


@dataclass(frozen=True)
class FrameMasks:
    """The tracked objects on one frame.

    Unpacks as ``frame_idx, masks`` so ``for frame_idx, masks in session.propagate()`` works.
    Every dict is keyed by object id, in the order the objects were first prompted.

    Attributes:
        frame_idx: index of the frame in the video (0-based).
        masks: obj_id -> (H, W) bool mask at the frame's original size.
        present: obj_id -> whether the model thinks the object is visible on this frame
            (object score logit > 0); False means the track is lost or the object occluded,
            and its mask is empty.
        scores: obj_id -> the object score logit (float).
    """

    frame_idx: int
    masks: dict[int, NDArray[np.bool_]] = field(repr=False)
    present: dict[int, bool]
    scores: dict[int, float]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.frame_idx, self.masks))

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
