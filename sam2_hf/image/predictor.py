"""``Sam2Predictor``: the original ``SAM2ImagePredictor`` API on transformers' ``Sam2Model``.

A front end of ``sam2_hf.engine.image.ImageEngine``: it validates prompts, keeps the current
image's embedding and ranks candidates; the engine does the model work.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from transformers import Sam2Model, Sam2Processor
from typing_extensions import Unpack

from ..engine.image import ImageEmbedding, ImageEngine, as_rgb
from ..engine.loading import LoadedModel, LoadOptions, load_model
from ..inputs import ImageInput, as_boxes, as_points
from ..results import Masks, Prediction

Points = tuple[NDArray[np.float32], NDArray[np.int64]]


class Sam2Predictor:
    """Prompted segmentation of one image at a time, with the image embedding reused.

    Example:
        >>> predictor = Sam2Predictor.from_pretrained("tiny")  # doctest: +SKIP
        >>> predictor.set_image("photo.jpg")  # doctest: +SKIP
        >>> masks, scores, logits = predictor.predict(point_coords=[(500, 375)])  # doctest: +SKIP
    """

    def __init__(
        self,
        loaded: LoadedModel | ImageEngine,
        *,
        mask_threshold: float | None = None,
        max_hole_area: int | None = None,
        max_sprinkle_area: int | None = None,
    ) -> None:
        """Wrap an already loaded model or engine; most users call ``from_pretrained`` instead.

        Args:
            loaded: the model, processor, device and dtype from ``sam2_hf.load_model``, or an
                ``ImageEngine`` (shared, not copied: e.g. ``other_predictor.engine``).
            mask_threshold: logits above it are foreground. Default: 0.0, or the engine's.
            max_hole_area: fill background regions of at most this many pixels of the 256x256
                low-res mask (0 = off), as the original predictor's argument of that name.
                Default: 0, or the engine's.
            max_sprinkle_area: remove foreground specks of at most this many low-res pixels.
                Default: 0, or the engine's.

        Raises:
            TypeError: ``loaded`` of another type, or an area that is not an int.
            ValueError: a negative area or a non-finite threshold.
        """
        options = {
            "mask_threshold": mask_threshold,
            "max_hole_area": max_hole_area,
            "max_sprinkle_area": max_sprinkle_area,
        }
        if isinstance(loaded, ImageEngine):
            engine = loaded
            if any(value is not None for value in options.values()):
                engine = loaded.with_options(
                    mask_threshold=mask_threshold,
                    max_hole_area=max_hole_area,
                    max_sprinkle_area=max_sprinkle_area,
                )
        elif isinstance(loaded, LoadedModel):
            engine = ImageEngine(
                loaded,
                mask_threshold=0.0 if mask_threshold is None else mask_threshold,
                max_hole_area=0 if max_hole_area is None else max_hole_area,
                max_sprinkle_area=0 if max_sprinkle_area is None else max_sprinkle_area,
            )
        else:
            raise TypeError(
                "loaded must be a LoadedModel (sam2_hf.load_model) or an ImageEngine, got "
                f"{type(loaded).__name__}; use Sam2Predictor.from_pretrained(...) to load one"
            )
        self.engine = engine
        self._embedding: ImageEmbedding | None = None

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
        engine = ImageEngine(
            load_model(model, task="image", **options),
            mask_threshold=mask_threshold,
            max_hole_area=max_hole_area,
            max_sprinkle_area=max_sprinkle_area,
        )
        return cls(engine)

    # ---------------------------------------------------------------- the engine's parts

    @property
    def model(self) -> Sam2Model:
        """The transformers model (``self.engine.model``)."""
        return self.engine.model

    @property
    def processor(self) -> Sam2Processor:
        """The transformers processor (``self.engine.processor``)."""
        return self.engine.processor

    @property
    def device(self) -> torch.device:
        """Where the model runs (``cuda``, ``mps`` or ``cpu``); results are always CPU numpy."""
        return self.engine.device

    @property
    def dtype(self) -> torch.dtype:
        """The autocast precision: ``torch.float32``, ``bfloat16`` or ``float16`` (the weights
        stay float32)."""
        return self.engine.dtype

    @property
    def mask_threshold(self) -> float:
        """Logits above it are foreground in the returned bool masks (default 0.0)."""
        return self.engine.mask_threshold

    @property
    def max_hole_area(self) -> int:
        """Background regions of at most this many low-res (256x256) pixels are filled; 0: off."""
        return self.engine.max_hole_area

    @property
    def max_sprinkle_area(self) -> int:
        """Foreground specks of at most this many low-res pixels are removed; 0: off."""
        return self.engine.max_sprinkle_area

    # ------------------------------------------------------------------ images

    def set_image(self, image: ImageInput) -> None:
        """Run the vision encoder once; every ``predict`` until the next ``set_image`` reuses it.

        Args:
            image: path, URL, PIL image or (H, W[, C]) array (see ``sam2_hf.load_image``).
        """
        self._embedding = self.engine.encode([image])

    def set_embedding(self, embedding: ImageEmbedding) -> None:
        """Make a kept embedding (``predictor.embedding`` of an earlier image) the current one:
        switching back to an image costs no encoder run."""
        if not isinstance(embedding, ImageEmbedding):
            raise TypeError(f"embedding must be an ImageEmbedding, got {type(embedding).__name__}")
        if len(embedding) != 1:
            raise ValueError(
                f"embedding must hold one image, got {len(embedding)}; take one with embedding[i]"
            )
        self._embedding = embedding

    def reset_image(self) -> None:
        """Forget the current image and its embedding."""
        self._embedding = None

    @property
    def is_image_set(self) -> bool:
        """Whether ``set_image`` has been called (and not reset since)."""
        return self._embedding is not None

    @property
    def embedding(self) -> ImageEmbedding:
        """The current image's ``ImageEmbedding`` (see ``set_embedding``)."""
        return self._require_image()

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of the current image."""
        return self._require_image().size

    def _require_image(self) -> ImageEmbedding:
        if self._embedding is None:
            raise RuntimeError("Call set_image(...) before predict().")
        return self._embedding

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
                the image are clipped to it. An empty array (a detector that found nothing)
                gives an empty result: N = 0 objects.
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
        embedding = self._require_image()
        size = embedding.size
        if point_coords is None and point_labels is not None:
            raise ValueError("point_labels were given without point_coords")
        if point_coords is None and box is None and mask_input is None:
            raise ValueError("predict() needs a prompt: point_coords, box or mask_input")
        if multimask_output is None:
            multimask_output = box is None
        if box is not None and point_coords is None and np.size(box) == 0:
            return self._no_prediction(size, multimask_output, return_logits)
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
            mask_logits = self.engine.mask_prompt(mask_input, size)
        decoded = self.engine.decode(
            embedding,
            points=None if points is None else points[0],
            labels=None if points is None else points[1],
            boxes=boxes,
            mask_logits=mask_logits,
            multimask_output=multimask_output,
        )
        masks, low_res = self.engine.postprocess(decoded.low_res, size, binarize=not return_logits)
        scores = decoded.scores.cpu().numpy()
        object_logits = decoded.object_score_logits.cpu().numpy()
        # Index the (object, candidate) axes only: take_along_axis would broadcast the order
        # to a full-size index array and cost more than the decoder's upscaling.
        order = np.argsort(-scores, axis=-1, kind="stable")
        rows = np.arange(len(order))[:, None]
        masks, low_res, scores = masks[rows, order], low_res[rows, order], scores[rows, order]
        if objects == 1:  # the original squeezes the object axis away for one object
            masks, scores, low_res, object_logits = (
                masks[0],
                scores[0],
                low_res[0],
                object_logits[0],
            )
        return Prediction(
            masks=masks, scores=scores, logits=low_res, object_score_logits=object_logits
        )

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
        embedding = self._require_image()
        if np.size(boxes) == 0:  # a detector found nothing: no masks, not an error
            return self._no_masks(embedding.size)
        return self._masks_for(embedding, as_boxes(boxes, embedding.size, name="boxes"), None)

    def predict_batch(
        self,
        images: Sequence[ImageInput],
        boxes: Sequence[ArrayLike] | None = None,
        *,
        point_coords: Sequence[ArrayLike] | None = None,
        point_labels: Sequence[ArrayLike] | None = None,
        mask_input: Sequence[ArrayLike | None] | None = None,
        multimask_output: bool = False,
        normalize_coords: bool = True,
    ) -> list[Masks]:
        """Several images, each with its own number of objects; one vision-encoder forward.

        Args:
            images: the images (paths, URLs, PIL images or arrays); sizes may differ. Each is
                read once.
            boxes: per image, an (N_i, 4) array of boxes (x0, y0, x1, y1) in that image's
                pixels; an image with no boxes gets an empty ``Masks``.
            point_coords: per image, (N_i, K, 2) clicks (x, y) (K clicks per object), or
                (N_i, 2) for one click per object. With ``boxes`` too, N_i must match.
            point_labels: per image, labels shaped like ``point_coords`` without the last axis.
            mask_input: per image, None or one mask prompt per object: (N_i, 256, 256) float
                low-res logits (``Masks.logits`` of an earlier call) or (N_i, H, W) bool masks.
            multimask_output: decode three candidates per object and keep the best-scoring
                one (``Masks`` holds one mask per object).
            normalize_coords: False if ``point_coords`` and ``boxes`` are in [0, 1] relative
                to each image's width and height.

        Returns:
            One ``Masks`` per image, objects in the order given: ``masks`` (N_i, H_i, W_i) bool
            at that image's size, ``scores`` (N_i,) float32 predicted IoU, ``logits``
            (N_i, 256, 256) float32 low-res logits, ``boxes`` (N_i, 4) float32 (x0, y0, x1, y1)
            prompt boxes as clipped to the image. The current image set with ``set_image`` is
            kept.

        Raises:
            TypeError: ``images`` is a single image rather than a list.
            ValueError: no prompts at all, a per-image list of another length than
                ``images``, or a malformed prompt (the message names e.g. ``boxes[1]``).

        Example:
            >>> boxes = [[(10, 10, 50, 60), (70, 20, 99, 90)], []]
            >>> results = predictor.predict_batch(["a.jpg", "b.jpg"], boxes)  # doctest: +SKIP
            >>> [len(masks) for masks in results]  # doctest: +SKIP
            [2, 0]
        """
        if isinstance(images, (str, os.PathLike, np.ndarray)) or not isinstance(images, Sequence):
            raise TypeError(
                "images must be a list of images, got a single "
                f"{type(images).__name__}; use set_image() + predict() for one image"
            )
        if boxes is None and point_coords is None and mask_input is None:
            raise ValueError(
                "predict_batch() needs boxes, point_coords or mask_input for every image"
            )
        for name, per_image in (
            ("boxes", boxes),
            ("point_coords", point_coords),
            ("point_labels", point_labels),
            ("mask_input", mask_input),
        ):
            if per_image is not None and len(per_image) != len(images):
                raise ValueError(
                    f"{name} must have one entry per image ({len(images)}), got {len(per_image)}"
                )
        arrays = [as_rgb(image) for image in images]
        sizes = [(int(array.shape[0]), int(array.shape[1])) for array in arrays]
        prompts = [
            self._batch_prompts(
                index, sizes[index], boxes, point_coords, point_labels, mask_input,
                normalize_coords,
            )
            for index in range(len(arrays))
        ]  # fmt: skip
        # Images without prompts skip the encoder: a detector often finds nothing.
        prompted = [(index, prompt) for index, prompt in enumerate(prompts) if prompt is not None]
        results = [self._no_masks(size) for size in sizes]
        if prompted:
            embedding = self.engine.encode([arrays[index] for index, _ in prompted])
            for slot, (index, (image_boxes, points, mask_logits)) in enumerate(prompted):
                results[index] = self._masks_for(
                    embedding[slot], image_boxes, points, mask_logits, multimask_output
                )
        return results

    # ---------------------------------------------------------------- internals

    def _batch_prompts(
        self,
        index: int,
        size: tuple[int, int],
        boxes: Sequence[ArrayLike] | None,
        point_coords: Sequence[ArrayLike] | None,
        point_labels: Sequence[ArrayLike] | None,
        mask_input: Sequence[ArrayLike | None] | None,
        normalize_coords: bool,
    ) -> tuple[NDArray[np.float32] | None, Points | None, torch.Tensor | None] | None:
        """Image ``index``'s validated prompts, or None when it has none."""
        image_boxes = None
        if boxes is not None and np.size(boxes[index]):
            image_boxes = as_boxes(
                boxes[index], size, normalize_coords=normalize_coords, name=f"boxes[{index}]"
            )
        points = None
        if point_coords is not None and np.size(point_coords[index]):
            coords = np.asarray(point_coords[index], dtype=np.float64)
            labels = None if point_labels is None else np.asarray(point_labels[index])
            if coords.ndim == 2:  # one click per object
                coords = coords[:, None, :]
                labels = None if labels is None else labels[:, None]
            points = as_points(coords, labels, size, normalize_coords=normalize_coords)
        mask_logits = None
        if mask_input is not None and mask_input[index] is not None:
            masks = np.asarray(mask_input[index])
            if masks.ndim != 3:
                raise ValueError(
                    f"mask_input[{index}] must hold one mask per object, (N, 256, 256) logits "
                    f"or (N, H, W) bool, got shape {masks.shape}"
                )
            if len(masks):
                mask_logits = torch.cat([self.engine.mask_prompt(mask, size) for mask in masks])
        if image_boxes is None and points is None and mask_logits is None:
            return None
        if image_boxes is None and points is None:
            return None, None, mask_logits  # the masks alone: one object per mask
        objects = _object_count(points, image_boxes)
        if mask_logits is not None and len(mask_logits) != objects:
            raise ValueError(
                f"mask_input[{index}] must hold one mask per object ({objects}), "
                f"got {len(mask_logits)}"
            )
        return image_boxes, points, mask_logits

    def _masks_for(
        self,
        embedding: ImageEmbedding,
        boxes: NDArray[np.float32] | None,
        points: Points | None,
        mask_logits: torch.Tensor | None = None,
        multimask_output: bool = False,
    ) -> Masks:
        """One mask per object on one image: the best candidate when there are three."""
        size = embedding.size
        _object_count(points, boxes)
        decoded = self.engine.decode(
            embedding,
            points=None if points is None else points[0],
            labels=None if points is None else points[1],
            boxes=boxes,
            mask_logits=mask_logits,
            multimask_output=multimask_output,
        )
        low_res, scores = decoded.low_res, decoded.scores
        if multimask_output:
            best = scores.argmax(dim=1)
            rows = torch.arange(len(best), device=best.device)
            low_res, scores = low_res[rows, best][:, None], scores[rows, best][:, None]
        masks, logits = self.engine.postprocess(low_res, size, binarize=True)
        return Masks(
            masks=masks[:, 0],
            scores=scores[:, 0].cpu().numpy(),
            logits=logits[:, 0],
            object_score_logits=decoded.object_score_logits.cpu().numpy(),
            boxes=boxes,
        )

    def _no_masks(self, size: tuple[int, int]) -> Masks:
        return Masks(
            masks=np.zeros((0, *size), bool),
            scores=np.zeros(0, np.float32),
            logits=np.zeros((0, *self.engine.mask_size), np.float32),
            object_score_logits=np.zeros(0, np.float32),
            boxes=np.zeros((0, 4), np.float32),
        )

    def _no_prediction(
        self, size: tuple[int, int], multimask_output: bool, return_logits: bool
    ) -> Prediction:
        candidates = 3 if multimask_output else 1
        return Prediction(
            masks=np.zeros((0, candidates, *size), np.float32 if return_logits else bool),
            scores=np.zeros((0, candidates), np.float32),
            logits=np.zeros((0, candidates, *self.engine.mask_size), np.float32),
            object_score_logits=np.zeros(0, np.float32),
        )


def _object_count(points: Points | None, boxes: NDArray[np.float32] | None) -> int:
    """Objects the prompts describe; a mask prompt alone describes one."""
    if points is not None and boxes is not None and len(points[0]) != len(boxes):
        raise ValueError(
            f"point_coords describe {len(points[0])} object(s) but box describes {len(boxes)}; "
            "for N boxes pass point_coords of shape (N, K, 2)"
        )
    if points is not None:
        return len(points[0])
    return 1 if boxes is None else len(boxes)


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

    The predictors of the last two (model, device, dtype) combinations are kept, so calling
    this in a loop encodes each image but loads the model once.

    Args:
        image: a path, http(s) URL, PIL image, or (H, W), (H, W, 3) or (H, W, 4) numpy array
            (uint8, uint16, or float in [0, 1]).
        point_coords: (K, 2) clicks (x, y) in pixels of the original image, or (N, K, 2) for N
            objects.
        point_labels: (K,) or (N, K): 1 foreground, 0 background. Default: all 1.
        box: (4,) box (x0, y0, x1, y1) in pixels, or (N, 4) for N objects.
        model: short name (``"tiny"`` ... ``"large"``), hub id or local folder.
        device: ``"cuda"``, ``"cpu"``, ... (``None``: cuda, then mps, then cpu).
        dtype: ``"bf16"``, ``"fp16"``, ``"fp32"`` (``None``: bf16 on Ampere-or-newer CUDA
            GPUs, float32 elsewhere).
        multimask_output: three candidates instead of one. Default: True for clicks alone,
            False when a box is given.

    Returns:
        A ``Prediction``, as ``Sam2Predictor.predict``: ``masks`` (3, H, W) bool (1 with
        ``multimask_output=False``; a leading N axis for N objects), ``scores`` float32 sorted
        best first, ``logits`` (..., 256, 256) float32, ``best`` the (H, W) top mask.

    Raises:
        ValueError, TypeError: no prompt, or a malformed image or prompt.
        sam2_hf.ModelNotAvailableError: the model is neither cached nor downloadable.

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
