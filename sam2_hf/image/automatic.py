"""``MaskGenerator``: segment everything, as the original sam2 ``SAM2AutomaticMaskGenerator``.

A grid of single-click prompts is decoded on the cached image embedding, ``points_per_batch``
clicks per forward; weak and unstable masks are dropped, duplicates removed with box NMS.
Settings, defaults and record fields are the original's, and so are the records, with three
exact shortcuts: masks failing ``pred_iou_thresh`` are never upscaled, surviving masks are kept
bit-packed instead of run-length encoded, and only the masks that are returned get unpacked
and encoded. All model work goes through ``ImageEngine`` (encode each crop, decode the clicks
with the fast decoder, upscale), so clicks reach the model as the predictor's do.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, cast

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError
from torchvision.ops import batched_nms, box_area
from tqdm.auto import tqdm
from typing_extensions import Unpack

from ..engine.image import ImageEmbedding, ImageEngine, as_rgb, clamp_logits
from ..engine.loading import LoadedModel, LoadOptions, load_model
from ..formats.coco import from_coco_rle, to_coco_rle, to_uncompressed_rle
from ..formats.masks import remove_small_regions
from ..inputs import ImageInput, check_float, check_int, load_image
from .grid import CropBox, build_all_layer_point_grids, crop_points, generate_crop_boxes
from .predictor import Sam2Predictor

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")
# Masks whose box comes this close (pixels) to a crop edge that is not an image edge are cut
# off by the crop and dropped, as in the original.
_CROP_EDGE_TOLERANCE = 20.0
# progress=None shows a bar from this many decoder batches on (the default 32 x 32 grid has 16).
_PROGRESS_MIN_BATCHES = 8

Record = dict[str, Any]


class GeneratorSettings(TypedDict, total=False):
    """The keyword settings of ``MaskGenerator`` (see its constructor), as a type for
    ``MaskGenerator.from_pretrained``'s keywords."""

    points_per_side: int | None
    points_per_batch: int
    pred_iou_thresh: float
    stability_score_thresh: float
    stability_score_offset: float
    mask_threshold: float | None
    box_nms_thresh: float
    crop_n_layers: int
    crop_nms_thresh: float
    crop_overlap_ratio: float
    crop_n_points_downscale_factor: int
    point_grids: Sequence[NDArray[np.floating]] | None
    min_mask_region_area: int
    output_mode: str
    use_m2m: bool
    multimask_output: bool
    max_hole_area: int | None
    max_sprinkle_area: int | None


class PretrainedGeneratorOptions(GeneratorSettings, LoadOptions, total=False):
    """``MaskGenerator.from_pretrained``'s keywords: the settings and the ``LoadOptions``."""


@dataclass
class _Candidates:
    """Masks that passed the filters, in the order the original would hold them.

    ``packed[i]`` is mask i cut to ``regions[i]`` (x0, y0, x1, y1 of the image), flattened
    row-major and bit-packed with ``np.packbits``.
    """

    packed: list[NDArray[np.uint8]]
    regions: list[CropBox]
    crop_boxes: list[CropBox]
    boxes: torch.Tensor  # (n, 4) int64 x0, y0, x1, y1 inclusive, image pixels
    iou: torch.Tensor  # (n,) float32
    stability: torch.Tensor  # (n,) float32
    points: torch.Tensor  # (n, 2) float32 x, y in image pixels

    def __len__(self) -> int:
        return len(self.packed)

    def select(self, keep: torch.Tensor) -> _Candidates:
        index = keep.cpu().tolist()
        return _Candidates(
            [self.packed[i] for i in index],
            [self.regions[i] for i in index],
            [self.crop_boxes[i] for i in index],
            self.boxes[keep],
            self.iou[keep],
            self.stability[keep],
            self.points[keep],
        )

    @staticmethod
    def empty(device: torch.device) -> _Candidates:
        return _Candidates(
            [], [], [],
            torch.zeros((0, 4), dtype=torch.int64, device=device),
            torch.zeros(0, device=device),
            torch.zeros(0, device=device),
            torch.zeros((0, 2), device=device),
        )  # fmt: skip

    @staticmethod
    def cat(parts: Sequence[_Candidates]) -> _Candidates:
        return _Candidates(
            [p for part in parts for p in part.packed],
            [r for part in parts for r in part.regions],
            [c for part in parts for c in part.crop_boxes],
            torch.cat([part.boxes for part in parts]),
            torch.cat([part.iou for part in parts]),
            torch.cat([part.stability for part in parts]),
            torch.cat([part.points for part in parts]),
        )

    def mask(self, index: int, image_size: tuple[int, int]) -> NDArray[np.bool_]:
        """Mask ``index`` unpacked to the full (H, W) image."""
        x0, y0, x1, y1 = self.regions[index]
        count = (y1 - y0) * (x1 - x0)
        part = np.unpackbits(self.packed[index], count=count).reshape(y1 - y0, x1 - x0)
        full = np.zeros(image_size, dtype=bool)
        full[y0:y1, x0:x1] = part
        return full


class MaskGenerator:
    """Masks for every object in an image, from a grid of point prompts.

    Example:
        >>> generator = MaskGenerator.from_pretrained("tiny", points_per_side=16)  # doctest: +SKIP
        >>> records = generator.generate("photo.jpg")  # doctest: +SKIP
        >>> records[0]["segmentation"].shape, records[0]["bbox"]  # doctest: +SKIP
        ((480, 640), [12.0, 40.0, 211.0, 158.0])
    """

    def __init__(
        self,
        predictor: Sam2Predictor | ImageEngine | LoadedModel,
        points_per_side: int | None = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.8,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        mask_threshold: float | None = None,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        crop_nms_thresh: float = 0.7,
        crop_overlap_ratio: float = 512 / 1500,
        crop_n_points_downscale_factor: int = 1,
        point_grids: Sequence[NDArray[np.floating]] | None = None,
        min_mask_region_area: int = 0,
        output_mode: str = "binary_mask",
        use_m2m: bool = False,
        multimask_output: bool = True,
        *,
        max_hole_area: int | None = None,
        max_sprinkle_area: int | None = None,
    ) -> None:
        """Use an already loaded model (its device and dtype); settings as the original.

        Args:
            predictor: a ``Sam2Predictor`` (its current image is left alone), an
                ``ImageEngine`` or a ``LoadedModel``: the generator runs on that engine.
            points_per_side: grid points along each side of the image (n x n clicks); None
                when ``point_grids`` is given.
            points_per_batch: clicks decoded per forward; more is faster and uses more memory.
            pred_iou_thresh: keep masks whose predicted IoU is above this, in [0, 1].
            stability_score_thresh: keep masks whose stability score is at least this, in
                [0, 1]: the IoU of the mask thresholded at ``mask_threshold`` +- the offset.
            stability_score_offset: the threshold shift for the stability score, >= 0.
            mask_threshold: logits above it are foreground. Default: the engine's (0.0 unless
                the predictor or engine was made with another); a value here makes an engine
                of its own that shares the model, so one threshold decides every step.
            box_nms_thresh: box IoU above which the weaker of two masks of a crop is dropped.
            crop_n_layers: run again on (2**i)**2 crops for i = 1 .. crop_n_layers.
            crop_nms_thresh: box IoU for removing duplicates between crops (smaller crops win).
            crop_overlap_ratio: overlap of first-layer crops, as a fraction of the short side.
            crop_n_points_downscale_factor: layer i gets points_per_side / factor**i per side.
            point_grids: per layer, a (K, 2) array of (x, y) in [0, 1] relative to the crop.
            min_mask_region_area: > 0 fills holes and removes islands smaller than this many
                pixels of the original image from the returned masks (then NMS again, favouring
                unchanged masks), with ``sam2_hf.remove_small_regions``.
            output_mode: ``"binary_mask"`` ((H, W) bool arrays), ``"uncompressed_rle"`` or
                ``"coco_rle"`` (COCO RLE dicts, ``counts`` a str, JSON-ready).
            use_m2m: refine each mask once more with itself as the mask prompt.
            multimask_output: three candidate masks per click instead of one.
            max_hole_area: fill background regions of at most this many pixels of the 256x256
                logits before upscaling (the engine's option, as ``mask_threshold``).
            max_sprinkle_area: remove foreground specks of at most this many low-res pixels.

        Raises:
            TypeError, ValueError: a setting of the wrong type or out of range.
        """
        self._predictor: Sam2Predictor | None = None
        if isinstance(predictor, Sam2Predictor):
            engine = predictor.engine
            self._predictor = predictor
        elif isinstance(predictor, ImageEngine):
            engine = predictor
        elif isinstance(predictor, LoadedModel):
            engine = ImageEngine(predictor)
        else:
            raise TypeError(
                "predictor must be a Sam2Predictor, ImageEngine or LoadedModel, got "
                f"{type(predictor).__name__}; use MaskGenerator.from_pretrained(...) to load one"
            )
        if mask_threshold is not None or max_hole_area is not None or max_sprinkle_area is not None:
            engine = engine.with_options(
                mask_threshold=mask_threshold,
                max_hole_area=max_hole_area,
                max_sprinkle_area=max_sprinkle_area,
            )
        self.engine = engine
        crop_n_layers = check_int("crop_n_layers", crop_n_layers, minimum=0)
        crop_n_points_downscale_factor = check_int(
            "crop_n_points_downscale_factor", crop_n_points_downscale_factor, minimum=1
        )
        if points_per_side is not None and point_grids is not None:
            raise ValueError(
                "pass exactly one of points_per_side and point_grids, got both; to use "
                "point_grids set points_per_side=None"
            )
        if points_per_side is not None:
            points_per_side = check_int("points_per_side", points_per_side, minimum=1)
            self.point_grids = build_all_layer_point_grids(
                points_per_side, crop_n_layers, crop_n_points_downscale_factor
            )
        elif point_grids is not None:
            self.point_grids = _check_point_grids(point_grids, crop_n_layers)
        else:
            raise ValueError(
                "pass exactly one of points_per_side and point_grids, got neither; to use "
                "point_grids set points_per_side=None"
            )
        self.points_per_side = points_per_side
        self.points_per_batch = check_int("points_per_batch", points_per_batch, minimum=1)
        self.pred_iou_thresh = check_float("pred_iou_thresh", pred_iou_thresh, 0.0, 1.0)
        self.stability_score_thresh = check_float(
            "stability_score_thresh", stability_score_thresh, 0.0, 1.0
        )
        self.stability_score_offset = check_float(
            "stability_score_offset", stability_score_offset, 0.0, math.inf
        )
        self.box_nms_thresh = check_float("box_nms_thresh", box_nms_thresh, 0.0, 1.0)
        self.crop_n_layers = crop_n_layers
        self.crop_nms_thresh = check_float("crop_nms_thresh", crop_nms_thresh, 0.0, 1.0)
        self.crop_overlap_ratio = check_float("crop_overlap_ratio", crop_overlap_ratio, 0.0, 1.0)
        self.crop_n_points_downscale_factor = crop_n_points_downscale_factor
        self.min_mask_region_area = check_int(
            "min_mask_region_area", min_mask_region_area, minimum=0
        )
        if output_mode not in OUTPUT_MODES:
            raise ValueError(
                f"output_mode must be one of {', '.join(map(repr, OUTPUT_MODES))}, "
                f"got {output_mode!r}"
            )
        self.output_mode = output_mode
        for name, value in (("use_m2m", use_m2m), ("multimask_output", multimask_output)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be True or False, got {value!r}")
        self.use_m2m = use_m2m
        self.multimask_output = multimask_output

    @classmethod
    def from_pretrained(
        cls, model: str | os.PathLike[str] = "tiny", **options: Unpack[PretrainedGeneratorOptions]
    ) -> MaskGenerator:
        """Load a model by short name, hub id or folder (as ``Sam2Predictor.from_pretrained``).

        ``options`` are the ``LoadOptions`` (``device``, ``dtype``, ``revision``, ...) and the
        constructor's settings (``points_per_side=16``, ``output_mode="coco_rle"``,
        ``max_hole_area=25`` ...).

        Example:
            >>> generator = MaskGenerator.from_pretrained(
            ...     "tiny", device="cpu", points_per_side=16
            ... )  # doctest: +SKIP
        """
        loading = set(LoadOptions.__annotations__)
        unknown = set(options) - loading - set(GeneratorSettings.__annotations__)
        if unknown:
            raise TypeError(
                f"unknown option(s) {sorted(unknown)}; MaskGenerator.from_pretrained takes the "
                f"loading options {sorted(loading)} and the MaskGenerator settings"
            )
        load = cast(LoadOptions, {k: v for k, v in options.items() if k in loading})
        settings = cast(GeneratorSettings, {k: v for k, v in options.items() if k not in loading})
        return cls(load_model(model, task="image", **load), **settings)

    @property
    def mask_threshold(self) -> float:
        """Logits above it are foreground: the engine's, used for every step."""
        return self.engine.mask_threshold

    @property
    def predictor(self) -> Sam2Predictor:
        """A ``Sam2Predictor`` on this generator's engine (the one it was given, if that one
        shares the engine)."""
        if self._predictor is None or self._predictor.engine is not self.engine:
            self._predictor = Sam2Predictor(self.engine)
        return self._predictor

    # ---------------------------------------------------------------- public

    def generate(self, image: ImageInput, *, progress: bool | None = None) -> list[Record]:
        """Every mask in one image.

        Args:
            image: path, URL, PIL image or (H, W[, C]) array. For several images use
                ``generate_batch``.
            progress: show a progress bar over the decoder batches of all crops (tqdm's
                notebook-aware bar). Default: shown when there are at least 8 batches.

        Returns:
            Records sorted by ``predicted_iou``, best first. Each record is a dict with
            ``segmentation`` (per ``output_mode``; masks at the original image size),
            ``area`` (int, pixels), ``bbox`` ([x, y, w, h] floats with w = x_max - x_min of
            the mask's pixels, the original's convention), ``predicted_iou`` (float),
            ``point_coords`` ([[x, y]], the click in image pixels), ``stability_score`` (float)
            and ``crop_box`` ([x, y, w, h] of the crop the mask came from).

        Raises:
            TypeError: a list of images (use ``generate_batch``) or an unknown image type.
        """
        if isinstance(image, list | tuple):
            raise TypeError(
                f"generate() takes one image, got a {type(image).__name__} of "
                f"{len(image)}; use generate_batch(images) for several"
            )
        return self._generate_one(as_rgb(image), progress, "masks")

    def generate_batch(
        self, images: Sequence[ImageInput], *, progress: bool | None = None
    ) -> list[list[Record]]:
        """Every mask in each of several images: ``generate`` per image.

        Every item is checked before any is processed, so a bad item fails at once and the
        error names its index. Images are read one at a time (paths are opened when their
        turn comes).

        Args:
            images: a list or tuple of paths, URLs, PIL images or arrays.
            progress: as for ``generate``, one bar per image.

        Returns:
            One list of records per image, in order (see ``generate``).

        Raises:
            TypeError, ValueError, FileNotFoundError: an item that is not a readable image;
                the message starts with ``images[i]``.
        """
        if not isinstance(images, list | tuple):
            raise TypeError(
                f"images must be a list or tuple of images, got {type(images).__name__}; "
                "use generate(image) for one image"
            )
        for index, image in enumerate(images):
            with _naming_item(index):
                _check_image(image)
        results = []
        for index, image in enumerate(images):
            with _naming_item(index):
                pixels = as_rgb(image)
            results.append(self._generate_one(pixels, progress, f"image {index + 1}/{len(images)}"))
        return results

    # ---------------------------------------------------------------- pipeline

    @torch.inference_mode()
    def _generate_one(
        self, pixels: NDArray[Any], progress: bool | None, label: str
    ) -> list[Record]:
        """Records for one (H, W, 3) image from ``as_rgb``."""
        image_size = (int(pixels.shape[0]), int(pixels.shape[1]))
        crop_boxes, layers = generate_crop_boxes(
            image_size, self.crop_n_layers, self.crop_overlap_ratio
        )
        batches = sum(
            math.ceil(len(self.point_grids[layer]) / self.points_per_batch) for layer in layers
        )
        show = batches >= _PROGRESS_MIN_BATCHES if progress is None else progress
        with tqdm(total=batches, desc=label, unit="batch", disable=not show) as bar:
            kept = _Candidates.cat(
                [
                    self._process_crop(pixels, box, layer, image_size, bar)
                    for box, layer in zip(crop_boxes, layers, strict=True)
                ]
            )
        if len(crop_boxes) > 1 and len(kept):
            # Prefer masks from smaller crops.
            scores = 1 / box_area(torch.tensor(kept.crop_boxes))
            keep = batched_nms(
                kept.boxes.float().cpu(), scores, torch.zeros(len(kept)), self.crop_nms_thresh
            )
            kept = kept.select(keep)
        if self.min_mask_region_area > 0 and len(kept):
            kept = self._remove_small_regions(kept, image_size)
        order = np.argsort(-kept.iou.cpu().numpy(), kind="stable")
        return [self._record(kept, int(i), image_size) for i in order]

    def _process_crop(
        self,
        pixels: NDArray[Any],
        crop_box: CropBox,
        layer: int,
        image_size: tuple[int, int],
        bar: tqdm,
    ) -> _Candidates:
        x0, y0, x1, y1 = crop_box
        embedding = self.engine.encode([pixels[y0:y1, x0:x1]])
        points = torch.from_numpy(crop_points(self.point_grids[layer], crop_box))
        parts = []
        for start in range(0, len(points), self.points_per_batch):
            batch = points[start : start + self.points_per_batch].to(self.engine.device)
            parts.append(self._process_batch(embedding, batch, crop_box, image_size))
            bar.update(1)
        data = _Candidates.cat(parts)
        keep = batched_nms(
            data.boxes.float(), data.iou, torch.zeros_like(data.iou), self.box_nms_thresh
        )
        data = data.select(keep)
        # Back to the original image's frame.
        data.boxes = data.boxes + torch.tensor([x0, y0, x0, y0], device=data.boxes.device)
        data.points = data.points + torch.tensor([x0, y0], device=data.points.device)
        return data

    def _process_batch(
        self,
        embedding: ImageEmbedding,
        points: torch.Tensor,
        crop_box: CropBox,
        image_size: tuple[int, int],
    ) -> _Candidates:
        x0, y0, x1, y1 = crop_box
        crop_hw = (y1 - y0, x1 - x0)
        low_res, iou = self._predict_points(embedding, points, crop_box, None)
        per_point = low_res.shape[1]
        low_res, iou = low_res.flatten(0, 1), iou.flatten(0, 1)
        points = points.repeat_interleave(per_point, dim=0)
        if self.use_m2m:
            low_res, iou = self._refine(embedding, points, low_res, crop_box)
        if self.pred_iou_thresh > 0.0:
            # Exact shortcut: the predicted IoU needs no mask, so weak masks are never upscaled.
            keep = iou > self.pred_iou_thresh
            low_res, iou, points = low_res[keep], iou[keep], points[keep]
        parts = []
        # Upscale at most points_per_batch masks at a time to bound memory at large images.
        for start in range(0, len(low_res), self.points_per_batch):
            chunk = slice(start, start + self.points_per_batch)
            parts.append(
                self._filter_masks(
                    self._upscale(low_res[chunk], crop_hw),
                    iou[chunk],
                    points[chunk],
                    crop_box,
                    image_size,
                )
            )
        if not parts:
            return _Candidates.empty(iou.device)
        return _Candidates.cat(parts)

    def _filter_masks(
        self,
        logits: torch.Tensor,
        iou: torch.Tensor,
        points: torch.Tensor,
        crop_box: CropBox,
        image_size: tuple[int, int],
    ) -> _Candidates:
        """Stability filter, binarize, drop masks cut off by the crop, and pack the rest."""
        stability = stability_score(logits, self.mask_threshold, self.stability_score_offset)
        if self.stability_score_thresh > 0.0:
            keep = stability >= self.stability_score_thresh
            logits, iou, points, stability = logits[keep], iou[keep], points[keep], stability[keep]
        masks = logits > self.mask_threshold
        boxes = mask_boxes(masks)
        x0, y0, x1, y1 = crop_box
        offset = torch.tensor([x0, y0, x0, y0], device=boxes.device)
        image_box = (0, 0, image_size[1], image_size[0])
        keep = ~_near_crop_edge(boxes + offset, crop_box, image_box)
        masks, boxes, iou, points, stability = (
            masks[keep],
            boxes[keep],
            iou[keep],
            points[keep],
            stability[keep],
        )
        flat = masks.flatten(1).cpu().numpy()
        packed = np.packbits(flat, axis=1)
        return _Candidates(
            list(packed), [crop_box] * len(packed), [crop_box] * len(packed),
            boxes, iou, stability, points,
        )  # fmt: skip

    # ---------------------------------------------------------------- model calls

    def _predict_points(
        self,
        embedding: ImageEmbedding,
        points: torch.Tensor,
        crop_box: CropBox,
        mask_input: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode one click per object on a crop's embedding.

        Args:
            embedding: the crop's embedding (its size is the crop's).
            points: (N, 2) float32 clicks (x, y) in pixels of the crop.
            crop_box: (x0, y0, x1, y1) of the crop in the image.
            mask_input: None, or (N, 1, h, w) low-res logits, one mask prompt per click.

        Returns:
            Low-res logits (N, C, h, w) float32, not clamped, and predicted IoUs (N, C).
        """
        labels = torch.ones((len(points), 1), dtype=torch.int64, device=points.device)
        decoded = self.engine.decode(
            embedding,
            points=points[:, None],
            labels=labels,
            mask_logits=mask_input,
            multimask_output=self.multimask_output if mask_input is None else False,
        )
        return decoded.low_res, decoded.scores

    def _refine(
        self,
        embedding: ImageEmbedding,
        points: torch.Tensor,
        low_res: torch.Tensor,
        crop_box: CropBox,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """use_m2m: decode each mask again with its own clamped logits as the mask prompt."""
        masks, scores = [], []
        for start in range(0, len(points), self.points_per_batch):
            chunk = slice(start, start + self.points_per_batch)
            prompt = clamp_logits(low_res[chunk])[:, None]
            refined, iou = self._predict_points(embedding, points[chunk], crop_box, prompt)
            masks.append(refined[:, 0])
            scores.append(iou[:, 0])
        return torch.cat(masks), torch.cat(scores)

    def _upscale(self, low_res: torch.Tensor, crop_hw: tuple[int, int]) -> torch.Tensor:
        """(n, h, w) low-res logits -> (n, H, W) logits at the crop's size."""
        return self.engine.upscale(low_res[:, None], crop_hw)[:, 0]

    # ---------------------------------------------------------------- output

    def _remove_small_regions(self, kept: _Candidates, image_size: tuple[int, int]) -> _Candidates:
        """Fill small holes, then remove small islands; NMS again, preferring unchanged masks."""
        masks, unchanged = [], []
        for index in range(len(kept)):
            mask, holes_changed = remove_small_regions(
                kept.mask(index, image_size), self.min_mask_region_area, "holes"
            )
            mask, islands_changed = remove_small_regions(mask, self.min_mask_region_area, "islands")
            masks.append(mask)
            unchanged.append(not (holes_changed or islands_changed))
        boxes = mask_boxes(torch.from_numpy(np.stack(masks)))
        scores = torch.tensor(unchanged, dtype=torch.float32)
        keep = batched_nms(
            boxes.float(),
            scores,
            torch.zeros(len(boxes)),
            max(self.box_nms_thresh, self.crop_nms_thresh),
        )
        height, width = image_size
        for index in keep.tolist():
            if not unchanged[index]:
                kept.packed[index] = np.packbits(masks[index].ravel())
                kept.regions[index] = (0, 0, width, height)
                kept.boxes[index] = boxes[index].to(kept.boxes.device)
        return kept.select(keep)

    def _record(self, kept: _Candidates, index: int, image_size: tuple[int, int]) -> Record:
        mask = kept.mask(index, image_size)
        if self.output_mode == "binary_mask":
            segmentation: Any = mask
        elif self.output_mode == "uncompressed_rle":
            segmentation = to_uncompressed_rle(mask)
        else:
            segmentation = to_coco_rle(mask)
        x0, y0, x1, y1 = kept.boxes[index].tolist()
        cx0, cy0, cx1, cy1 = kept.crop_boxes[index]
        return {
            "segmentation": segmentation,
            "area": int(mask.sum()),
            "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
            "predicted_iou": float(kept.iou[index]),
            "point_coords": [[float(v) for v in kept.points[index].tolist()]],
            "stability_score": float(kept.stability[index]),
            "crop_box": [float(cx0), float(cy0), float(cx1 - cx0), float(cy1 - cy0)],
        }


def stability_score(logits: torch.Tensor, mask_threshold: float, offset: float) -> torch.Tensor:
    """IoU of the masks at ``mask_threshold + offset`` and ``- offset`` (the former lies inside).

    Args:
        logits: (N, H, W) float mask logits.

    Returns:
        (N,) float32; NaN for a mask that is empty even at the lower threshold.
    """
    inner = (logits > mask_threshold + offset).sum(dim=(-2, -1), dtype=torch.int32)
    outer = (logits > mask_threshold - offset).sum(dim=(-2, -1), dtype=torch.int32)
    return inner / outer


def mask_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Boxes around masks: (N, H, W) bool -> (N, 4) int64 (x0, y0, x1, y1), inclusive pixels.

    An empty mask gets (0, 0, 0, 0).
    """
    height, width = masks.shape[-2:]
    rows = masks.any(dim=-1).to(torch.uint8)
    cols = masks.any(dim=-2).to(torch.uint8)
    top = rows.argmax(dim=-1)
    bottom = height - 1 - rows.flip(-1).argmax(dim=-1)
    left = cols.argmax(dim=-1)
    right = width - 1 - cols.flip(-1).argmax(dim=-1)
    boxes = torch.stack([left, top, right, bottom], dim=-1).to(torch.int64)
    return boxes * rows.any(dim=-1, keepdim=True)


def _near_crop_edge(
    boxes: torch.Tensor, crop_box: CropBox, image_box: tuple[int, int, int, int]
) -> torch.Tensor:
    """Boxes (image pixels) within the tolerance of a crop edge that is not an image edge."""
    boxes = boxes.float()
    crop = torch.tensor(crop_box, dtype=torch.float32, device=boxes.device)
    image = torch.tensor(image_box, dtype=torch.float32, device=boxes.device)
    near_crop = torch.isclose(boxes, crop[None], atol=_CROP_EDGE_TOLERANCE, rtol=0)
    near_image = torch.isclose(boxes, image[None], atol=_CROP_EDGE_TOLERANCE, rtol=0)
    return (near_crop & ~near_image).any(dim=1)


def masks_from_records(
    records: Sequence[Record], image_size: tuple[int, int] | None = None
) -> NDArray[np.bool_]:
    """Stack the records' segmentations, whatever their output mode, into (N, H, W) bool.

    Args:
        records: ``generate`` output for one image, any ``output_mode``.
        image_size: (H, W); needed only to return an empty (0, H, W) stack for no records.

    Raises:
        ValueError: no records and no ``image_size``, or masks of different sizes.
    """
    if not records:
        if image_size is None:
            raise ValueError("records is empty: pass image_size=(H, W) to get a (0, H, W) stack")
        return np.zeros((0, *image_size), dtype=bool)
    masks = []
    for record in records:
        segmentation = record["segmentation"]
        if isinstance(segmentation, np.ndarray):
            masks.append(segmentation.astype(bool, copy=False))
        else:
            masks.append(from_coco_rle(segmentation))
    shapes = {mask.shape for mask in masks}
    if len(shapes) > 1 or (image_size is not None and shapes != {tuple(image_size)}):
        raise ValueError(f"records hold masks of sizes {sorted(shapes)}, expected one size")
    return np.stack(masks)


def _check_point_grids(
    point_grids: Sequence[NDArray[np.floating]], crop_n_layers: int
) -> list[NDArray[np.float64]]:
    if isinstance(point_grids, np.ndarray) or not isinstance(point_grids, Sequence):
        raise TypeError(
            "point_grids must be a list with one (K, 2) array per crop layer, got "
            f"{type(point_grids).__name__}"
        )
    if len(point_grids) < crop_n_layers + 1:
        raise ValueError(
            f"point_grids must have one grid per crop layer ({crop_n_layers + 1} for "
            f"crop_n_layers={crop_n_layers}), got {len(point_grids)}"
        )
    grids = []
    for index, grid in enumerate(point_grids):
        array = np.asarray(grid, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
            raise ValueError(f"point_grids[{index}] must have shape (K, 2), got {array.shape}")
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise ValueError(
                f"point_grids[{index}] must hold (x, y) in [0, 1] relative to the crop, "
                f"got values in [{array.min():g}, {array.max():g}]"
            )
        grids.append(array)
    return grids


@contextlib.contextmanager
def _naming_item(index: int) -> Iterator[None]:
    """Re-raise an image's error with ``images[i]: `` in front of its message, same type."""
    try:
        yield
    except (TypeError, ValueError, OSError) as error:
        try:
            renamed = type(error)(f"images[{index}]: {error}")
        except TypeError:  # an exception class that takes other arguments: leave it as it is
            raise error from None
        raise renamed from None


def _check_image(image: Any) -> None:
    """Fail now for an item that cannot be an image, without decoding files or fetching URLs.

    Arrays are validated in full (``load_image``); files must exist and be recognised as
    images from their header; PIL images and URLs pass.
    """
    if isinstance(image, np.ndarray):
        load_image(image)
    elif isinstance(image, (str, os.PathLike)):
        text = os.fspath(image)
        if isinstance(text, str) and text.startswith(("http://", "https://")):
            return
        path = Path(text)
        if not path.is_file():
            load_image(path)  # its FileNotFoundError / IsADirectoryError
        try:
            with Image.open(path):
                pass
        except (UnidentifiedImageError, OSError) as error:
            raise ValueError(
                f"image file {str(path)!r} cannot be read as an image: {error}"
            ) from None
    elif not isinstance(image, Image.Image):
        load_image(image)  # its TypeError
