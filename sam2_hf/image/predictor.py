"""``Sam2Predictor``: the original ``SAM2ImagePredictor`` API on transformers' ``Sam2Model``."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike, NDArray
from typing_extensions import Unpack

from ..engine.fast_decode import decode_prompts
from ..engine.loading import LoadedModel, LoadOptions, autocast, load_model
from ..formats.masks import clean_mask_logits
from ..inputs import ImageInput, as_boxes, as_points, load_image, to_float_rgb
from ..results import Masks, Prediction

# The original clamps the returned low-res logits so they stay usable as a mask prompt.
_LOGIT_CLAMP = 32.0
# A binary mask prompt becomes logits of +10 inside and -10 outside, the scale the original
# sam2 gives masks it turns into logits (``_use_mask_as_output``: mask * 20 - 10).
_MASK_LOGIT_SCALE, _MASK_LOGIT_BIAS = 20.0, -10.0


@dataclass(frozen=True)
class _Encoded:
    """The vision encoder's output for the images of one ``set_image`` / batch call."""

    embeddings: list[torch.Tensor]  # per feature level, batch first
    sizes: list[tuple[int, int]]  # original (H, W) per image

    def image(self, index: int) -> list[torch.Tensor]:
        return [level[index : index + 1] for level in self.embeddings]


class Sam2Predictor:
    """Prompted segmentation of one image at a time, with the image embedding reused.

    Example:
        >>> predictor = Sam2Predictor.from_pretrained("tiny")  # doctest: +SKIP
        >>> predictor.set_image("photo.jpg")  # doctest: +SKIP
        >>> masks, scores, logits = predictor.predict(point_coords=[(500, 375)])  # doctest: +SKIP
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        mask_threshold: float = 0.0,
        max_hole_area: int = 0,
        max_sprinkle_area: int = 0,
    ) -> None:
        """Wrap an already loaded model; most users call ``from_pretrained`` instead.

        Args:
            loaded: the model, processor, device and dtype from ``sam2_hf.models.load_model``.
            mask_threshold: logits above it are foreground.
            max_hole_area: fill background regions of at most this many pixels of the 256x256
                low-res mask (0 = off), as the original predictor's argument of that name.
            max_sprinkle_area: remove foreground specks of at most this many low-res pixels.
        """
        self.model = loaded.model
        self.processor = loaded.processor
        self.device = loaded.device
        self.dtype = loaded.dtype
        self.mask_threshold = float(mask_threshold)
        self.max_hole_area = int(max_hole_area)
        self.max_sprinkle_area = int(max_sprinkle_area)
        clean_mask_logits(
            np.zeros((1, 1)),
            max_hole_area=self.max_hole_area,
            max_sprinkle_area=self.max_sprinkle_area,
        )  # validates both areas
        self._encoded: _Encoded | None = None

    @classmethod
    def from_pretrained(
        cls,
        model: str | os.PathLike[str] = "tiny",
        *,
        mask_threshold: float = 0.0,
        max_hole_area: int = 0,
        max_sprinkle_area: int = 0,
        **options: Unpack[LoadOptions],
    ) -> Sam2Predictor:
        """Load a model by short name (``"tiny"``, ``"large"``), hub id or local folder.

        ``options`` are ``LoadOptions`` (``device``, ``dtype``, ``revision``, ``cache_dir``,
        ``local_files_only``, ``token``): ``device=None`` picks cuda, then mps, then cpu;
        ``dtype=None`` picks bfloat16 on Ampere-or-newer CUDA GPUs and float32 elsewhere. See
        ``sam2_hf.load_model``. The other arguments are the constructor's.
        """
        loaded = load_model(model, task="image", **options)
        return cls(
            loaded,
            mask_threshold=mask_threshold,
            max_hole_area=max_hole_area,
            max_sprinkle_area=max_sprinkle_area,
        )

    # ------------------------------------------------------------------ images

    def set_image(self, image: ImageInput) -> None:
        """Run the vision encoder once; every ``predict`` until the next ``set_image`` reuses it.

        Args:
            image: path, URL, PIL image or (H, W[, C]) array (see ``sam2_hf.load_image``).
        """
        self._encoded = self._encode([load_image(image)])

    def reset_image(self) -> None:
        """Forget the current image and its embedding."""
        self._encoded = None

    @property
    def is_image_set(self) -> bool:
        """Whether ``set_image`` has been called (and not reset since)."""
        return self._encoded is not None

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of the current image."""
        return self._require_image().sizes[0]

    def _require_image(self) -> _Encoded:
        if self._encoded is None:
            raise RuntimeError("Call set_image(...) before predict().")
        return self._encoded

    @torch.inference_mode()
    def _encode(self, images: Sequence[NDArray[Any]]) -> _Encoded:
        """Vision-encode (H, W, 3) arrays from ``load_image``, all in one forward."""
        arrays = [to_float_rgb(image) for image in images]
        pixel_values = self.processor.image_processor(
            images=arrays, do_rescale=False, return_tensors="pt"
        )["pixel_values"].to(self.device)
        with autocast(self.device, self.dtype):
            embeddings = self.model.get_image_embeddings(pixel_values)
        return _Encoded(list(embeddings), [array.shape[:2] for array in arrays])

    # ---------------------------------------------------------------- prompts

    def predict(
        self,
        point_coords: ArrayLike | None = None,
        point_labels: ArrayLike | None = None,
        box: ArrayLike | None = None,
        mask_input: ArrayLike | None = None,
        multimask_output: bool | None = None,
        return_logits: bool = False,
        normalize_coords: bool = True,
    ) -> Prediction:
        """Masks for clicks, a box, a previous mask, or any mix of them, on the current image.

        Args:
            point_coords: (K, 2) clicks (x, y) in pixels of the original image, or (N, K, 2)
                for N objects. Points must lie inside the image.
            point_labels: (K,) or (N, K): 1 foreground, 0 background. Default: all 1.
            box: (4,) box (x0, y0, x1, y1) in pixels, or (N, 4) for N objects. Parts outside
                the image are clipped to it.
            mask_input: a previous prediction's (256, 256) or (1, 256, 256) float logits
                (``result.logits[0]``), or a bool / 0-1 integer (H, W) mask at the original
                image size. One object only.
            multimask_output: return 3 candidates instead of 1. Default: True, except
                when a box is given (a box is rarely ambiguous) — pass it to override.
            return_logits: return float32 logits at the original size instead of bool masks.
            normalize_coords: False if ``point_coords`` and ``box`` are already in [0, 1]
                relative to the image width and height.

        Returns:
            A ``Prediction``, candidates sorted by predicted IoU, best first.

        Raises:
            RuntimeError: no image set. ValueError / TypeError: malformed prompts.
        """
        encoded = self._require_image()
        size = encoded.sizes[0]
        if point_coords is None and point_labels is not None:
            raise ValueError("point_labels were given without point_coords")
        if point_coords is None and box is None and mask_input is None:
            raise ValueError("predict() needs a prompt: point_coords, box or mask_input")
        points = None
        if point_coords is not None:
            points = as_points(point_coords, point_labels, size, normalize_coords=normalize_coords)
        boxes = None if box is None else as_boxes(box, size, normalize_coords=normalize_coords)
        objects = _object_count(points, boxes)
        mask_logits = None
        if mask_input is not None:
            if objects > 1:
                raise ValueError(
                    f"mask_input works with prompts for one object, got prompts for {objects}"
                )
            mask_logits = self._mask_logits(mask_input, size)
        if multimask_output is None:
            multimask_output = boxes is None
        low_res, scores, object_logits = self._decode(
            encoded.image(0), size, points, boxes, mask_logits, multimask_output
        )
        masks, low_res = self._postprocess(low_res, size, binarize=not return_logits)
        # Index the (object, candidate) axes only: take_along_axis would broadcast the order
        # to a full-size index array and cost more than the decoder's upscaling.
        order = np.argsort(-scores, axis=-1, kind="stable")
        rows = np.arange(len(order))[:, None]
        masks, low_res, scores = masks[rows, order], low_res[rows, order], scores[rows, order]
        if objects == 1:  # the original squeezes the object axis away for one object
            return Prediction(masks[0], scores[0], low_res[0], object_logits[0])
        return Prediction(masks, scores, low_res, object_logits)

    def predict_boxes(self, boxes: ArrayLike) -> Masks:
        """One mask per box, in one batched decoder call: the detector-boxes-to-masks step.

        Args:
            boxes: (N, 4) boxes (x0, y0, x1, y1) in pixels of the original image.

        Returns:
            ``Masks`` in the order of ``boxes``: masks (N, H, W), scores (N,). No boxes give
            an empty ``Masks`` (N = 0).

        Example:
            >>> boxes = [(10, 10, 50, 60), (70, 20, 99, 90)]
            >>> result = predictor.predict_boxes(boxes)  # doctest: +SKIP
            >>> result.masks.shape  # doctest: +SKIP
            (2, 480, 640)
        """
        encoded = self._require_image()
        if np.size(boxes) == 0:  # a detector found nothing: no masks, not an error
            return self._no_masks(encoded.sizes[0])
        return self._masks_for(encoded, 0, as_boxes(boxes, encoded.sizes[0], name="boxes"), None)

    def predict_batch(
        self,
        images: Sequence[ImageInput],
        boxes: Sequence[ArrayLike] | None = None,
        *,
        point_coords: Sequence[ArrayLike] | None = None,
        point_labels: Sequence[ArrayLike] | None = None,
    ) -> list[Masks]:
        """Several images, each with its own number of objects; one vision-encoder forward.

        Args:
            images: the images (paths, URLs, PIL images or arrays); sizes may differ.
            boxes: per image, an (N_i, 4) array of boxes in that image's pixels; an image
                with no boxes gets an empty ``Masks``.
            point_coords: per image, (N_i, K, 2) clicks (K clicks per object), or (N_i, 2) for
                one click per object. With ``boxes`` too, N_i must match.
            point_labels: per image, labels shaped like ``point_coords`` without the last axis.

        Returns:
            One ``Masks`` per image, objects in the order given. The current image set with
            ``set_image`` is kept.
        """
        if isinstance(images, (str, os.PathLike, np.ndarray)) or not isinstance(images, Sequence):
            raise TypeError(
                "images must be a list of images, got a single "
                f"{type(images).__name__}; use set_image() + predict() for one image"
            )
        if boxes is None and point_coords is None:
            raise ValueError("predict_batch() needs boxes or point_coords for every image")
        for name, per_image in (
            ("boxes", boxes),
            ("point_coords", point_coords),
            ("point_labels", point_labels),
        ):
            if per_image is not None and len(per_image) != len(images):
                raise ValueError(
                    f"{name} must have one entry per image ({len(images)}), got {len(per_image)}"
                )
        arrays = [load_image(image) for image in images]
        prompted = [
            index
            for index in range(len(arrays))
            if (boxes is not None and np.size(boxes[index]))
            or (point_coords is not None and np.size(point_coords[index]))
        ]
        # Images without prompts skip the encoder: a detector often finds nothing.
        encoded = self._encode([arrays[index] for index in prompted]) if prompted else None
        results = [self._no_masks(array.shape[:2]) for array in arrays]
        for slot, index in enumerate(prompted):
            size = arrays[index].shape[:2]
            image_boxes = None if boxes is None else as_boxes(boxes[index], size, name="boxes")
            points = None
            if point_coords is not None:
                coords = np.asarray(point_coords[index], dtype=np.float64)
                labels = None if point_labels is None else np.asarray(point_labels[index])
                if coords.ndim == 2:  # one click per object
                    coords = coords[:, None, :]
                    labels = None if labels is None else labels[:, None]
                points = as_points(coords, labels, size)
            results[index] = self._masks_for(encoded, slot, image_boxes, points)
        return results

    # ---------------------------------------------------------------- internals

    def _masks_for(
        self,
        encoded: _Encoded,
        index: int,
        boxes: NDArray[np.float32] | None,
        points: tuple[NDArray[np.float32], NDArray[np.int64]] | None,
    ) -> Masks:
        size = encoded.sizes[index]
        _object_count(points, boxes)
        low_res, scores, object_logits = self._decode(
            encoded.image(index), size, points, boxes, None, multimask_output=False
        )
        masks, low_res = self._postprocess(low_res, size, binarize=True)
        return Masks(masks[:, 0], scores[:, 0], low_res[:, 0], object_logits, boxes)

    def _no_masks(self, size: tuple[int, int]) -> Masks:
        low_res = tuple(self.model.prompt_encoder.mask_input_size)
        return Masks(
            masks=np.zeros((0, *size), bool),
            scores=np.zeros(0, np.float32),
            logits=np.zeros((0, *low_res), np.float32),
            object_score_logits=np.zeros(0, np.float32),
            boxes=np.zeros((0, 4), np.float32),
        )

    @torch.inference_mode()
    def _decode(
        self,
        embeddings: list[torch.Tensor],
        size: tuple[int, int],
        points: tuple[NDArray[np.float32], NDArray[np.int64]] | None,
        boxes: NDArray[np.float32] | None,
        mask_logits: torch.Tensor | None,
        multimask_output: bool,
    ) -> tuple[torch.Tensor, NDArray[np.float32], NDArray[np.float32]]:
        """Prompt encoder + mask decoder for N objects on one image.

        Returns low-res logits (N, C, 256, 256) float32 on the model's device, scores (N, C),
        object logits (N,).
        """
        inputs = self.processor(
            original_sizes=[list(size)],
            input_points=None if points is None else [points[0].tolist()],
            input_labels=None if points is None else [points[1].tolist()],
            input_boxes=None if boxes is None else [boxes.tolist()],
            return_tensors="pt",
        )
        prompts = {
            key: inputs[key].to(self.device)
            for key in ("input_points", "input_labels", "input_boxes")
            if key in inputs
        }
        if mask_logits is not None:
            prompts["input_masks"] = mask_logits.to(self.device)
        # decode_prompts is the model's own forward, bit for bit, without copying the image
        # features once per object (tests/test_fast_decode.py).
        with autocast(self.device, self.dtype):
            low_res, scores, object_logits = decode_prompts(
                self.model, embeddings, multimask_output=multimask_output, **prompts
            )
        return (
            low_res.float(),
            scores.float().cpu().numpy(),
            object_logits[:, 0].float().cpu().numpy(),
        )

    @torch.inference_mode()
    def _postprocess(
        self, low_res: torch.Tensor, size: tuple[int, int], *, binarize: bool
    ) -> tuple[NDArray[Any], NDArray[np.float32]]:
        """Low-res logits (N, C, 256, 256) -> masks (N, C, H, W) at the original size, and the
        low-res logits clamped for reuse as ``mask_input``.

        As in the original, masks come from the unclamped logits (clamping first would move the
        threshold crossing of bilinear interpolation between a large and a small logit).
        """
        logits = low_res
        if self.max_hole_area or self.max_sprinkle_area:
            cleaned = clean_mask_logits(
                low_res.cpu().numpy(),
                mask_threshold=self.mask_threshold,
                max_hole_area=self.max_hole_area,
                max_sprinkle_area=self.max_sprinkle_area,
            )
            logits = torch.from_numpy(cleaned).to(low_res.device)
        # Upscaled on the model's device: on a GPU this is the expensive step of the output.
        (masks,) = self.processor.post_process_masks(
            [logits], [list(size)], mask_threshold=self.mask_threshold, binarize=binarize
        )
        clamped = low_res.clamp(-_LOGIT_CLAMP, _LOGIT_CLAMP).cpu().numpy()
        return masks.cpu().numpy(), clamped

    def _mask_logits(self, mask_input: ArrayLike, size: tuple[int, int]) -> torch.Tensor:
        """A (1, 1, 256, 256) float logit prompt from low-res logits or a full-size binary mask."""
        array = np.asarray(mask_input)
        low_res = tuple(self.model.prompt_encoder.mask_input_size)
        if array.dtype == bool or np.issubdtype(array.dtype, np.integer):
            if array.shape != size:
                raise ValueError(
                    f"a binary mask_input must have the image's shape (H, W) = {size}, "
                    f"got {array.shape}"
                )
            if not np.isin(array, (0, 1)).all():
                raise ValueError("a binary mask_input must hold only 0/1 or True/False values")
            # Area resampling averages the mask over each low-res cell: exact for masks made of
            # whole cells, and never lets a thin structure vanish between samples.
            fraction = F.interpolate(
                torch.from_numpy(array.astype(np.float32))[None, None], size=low_res, mode="area"
            )
            return fraction * _MASK_LOGIT_SCALE + _MASK_LOGIT_BIAS
        if not np.issubdtype(array.dtype, np.floating):
            raise TypeError(f"mask_input must be float logits or a bool mask, got {array.dtype}")
        if array.ndim == 3 and array.shape[0] == 1:
            array = array[0]
        if array.shape != low_res:
            raise ValueError(
                f"mask_input logits must have shape {low_res} or (1, {low_res[0]}, {low_res[1]}) "
                f"(a previous result's logits[0]); got {np.shape(mask_input)}. For a mask at the "
                "image size pass it as bool."
            )
        if not np.isfinite(array).all():
            raise ValueError("mask_input must be finite numbers, got NaN or infinity")
        return torch.from_numpy(array.astype(np.float32))[None, None]


def _object_count(
    points: tuple[NDArray[np.float32], NDArray[np.int64]] | None,
    boxes: NDArray[np.float32] | None,
) -> int:
    if points is not None and boxes is not None and len(points[0]) != len(boxes):
        raise ValueError(
            f"point_coords describe {len(points[0])} object(s) but box describes {len(boxes)}; "
            "for N boxes pass point_coords of shape (N, K, 2)"
        )
    return len(points[0]) if points is not None else len(boxes)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=2)
def _cached_predictor(model: str, device: str | None, dtype: str | None) -> Sam2Predictor:
    return Sam2Predictor.from_pretrained(model, device=device, dtype=dtype)


def segment(
    image: ImageInput,
    point_coords: ArrayLike | None = None,
    point_labels: ArrayLike | None = None,
    box: ArrayLike | None = None,
    *,
    model: str = "tiny",
    device: str | None = None,
    dtype: str | None = None,
    multimask_output: bool | None = None,
) -> Prediction:
    """One call from image and prompt to masks; the model is loaded once and kept.

    Example:
        >>> import sam2_hf  # doctest: +SKIP
        >>> result = sam2_hf.segment("photo.jpg", point_coords=[(500, 375)])  # doctest: +SKIP
        >>> result.best.shape  # doctest: +SKIP
        (750, 1000)
    """
    predictor = _cached_predictor(os.fspath(model), device, dtype)
    predictor.set_image(image)
    return predictor.predict(
        point_coords=point_coords,
        point_labels=point_labels,
        box=box,
        multimask_output=multimask_output,
    )
