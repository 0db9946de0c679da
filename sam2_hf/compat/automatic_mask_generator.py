"""``SAM2AutomaticMaskGenerator``: the original ``sam2.automatic_mask_generator`` on
transformers, through sam2_hf's ``MaskGenerator`` (which reproduces the original's records).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..image.automatic import MaskGenerator
from ..image.grid import generate_crop_boxes
from ..image.predictor import Sam2Predictor
from ._internals import follow_model, loaded_from
from .sam2_image_predictor import SAM2ImagePredictor, area_threshold


class SAM2AutomaticMaskGenerator:
    """Masks for everything in an image from a grid of point prompts, as the original.

    Example:
        >>> generator = SAM2AutomaticMaskGenerator(sam2, points_per_side=32)  # doctest: +SKIP
        >>> records = generator.generate(image)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any,
        points_per_side: int | None = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.8,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        mask_threshold: float = 0.0,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        crop_nms_thresh: float = 0.7,
        crop_overlap_ratio: float = 512 / 1500,
        crop_n_points_downscale_factor: int = 1,
        point_grids: list[NDArray[np.floating]] | None = None,
        min_mask_region_area: float = 0,
        output_mode: str = "binary_mask",
        use_m2m: bool = False,
        multimask_output: bool = True,
        **kwargs: Any,
    ) -> None:
        """Settings and defaults as the original's (the defaults suit the large model).

        Args:
            model: a model from ``build_sam2`` (or a transformers ``Sam2Model``).
            min_mask_region_area: as in the original SAM 2, fills holes and removes specks of
                at most this many pixels of the 256x256 low-res masks before upscaling (a
                float is accepted: areas are whole pixels).
            **kwargs: accepted and ignored, as by the original.

        The other settings are ``sam2_hf.MaskGenerator``'s, which has their descriptions.
        """
        area = area_threshold(min_mask_region_area, "min_mask_region_area")
        loaded = loaded_from(model, "image")
        self.predictor = SAM2ImagePredictor(loaded, max_hole_area=area, max_sprinkle_area=area)
        self._generator = MaskGenerator(
            Sam2Predictor(loaded, max_hole_area=area, max_sprinkle_area=area),
            points_per_side=points_per_side,
            points_per_batch=points_per_batch,
            pred_iou_thresh=pred_iou_thresh,
            stability_score_thresh=stability_score_thresh,
            stability_score_offset=stability_score_offset,
            mask_threshold=mask_threshold,
            box_nms_thresh=box_nms_thresh,
            crop_n_layers=crop_n_layers,
            crop_nms_thresh=crop_nms_thresh,
            crop_overlap_ratio=crop_overlap_ratio,
            crop_n_points_downscale_factor=crop_n_points_downscale_factor,
            point_grids=point_grids,
            # The original SAM 2 spends min_mask_region_area on the predictor above, not on
            # SAM 1's post-processing of the final masks.
            min_mask_region_area=0,
            output_mode=output_mode,
            use_m2m=use_m2m,
            multimask_output=multimask_output,
        )
        self.point_grids = self._generator.point_grids
        self.points_per_batch = points_per_batch
        self.pred_iou_thresh = pred_iou_thresh
        self.stability_score_thresh = stability_score_thresh
        self.stability_score_offset = stability_score_offset
        self.mask_threshold = mask_threshold
        self.box_nms_thresh = box_nms_thresh
        self.crop_n_layers = crop_n_layers
        self.crop_nms_thresh = crop_nms_thresh
        self.crop_overlap_ratio = crop_overlap_ratio
        self.crop_n_points_downscale_factor = crop_n_points_downscale_factor
        self.min_mask_region_area = min_mask_region_area
        self.output_mode = output_mode
        self.use_m2m = use_m2m
        self.multimask_output = multimask_output

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs: Any) -> SAM2AutomaticMaskGenerator:
        """Load a hub checkpoint (see ``SAM2ImagePredictor.from_pretrained``); ``kwargs`` go
        to ``build_sam2_hf`` and the constructor, as in the original."""
        from .build_sam import build_sam2_hf

        return cls(build_sam2_hf(model_id, **kwargs), **kwargs)

    def generate(self, image: NDArray[Any]) -> list[dict[str, Any]]:
        """Masks for the whole image, as the original's records.

        Args:
            image: (H, W, 3) RGB uint8 image.

        Returns:
            One dict per mask, in the original's order (with crop layers: masks of smaller
            crops first): ``segmentation`` ((H, W) bool array, or an RLE dict per
            ``output_mode``), ``area`` (int), ``bbox`` ([x, y, w, h]), ``predicted_iou``,
            ``point_coords`` ([[x, y]]), ``stability_score`` and ``crop_box`` ([x, y, w, h]).
        """
        if isinstance(image, (list, tuple)):
            raise TypeError("generate takes one image, an (H, W, 3) array; call it per image")
        follow_model(self._generator.predictor, self.predictor.device)  # the model may have moved
        records = self._generator.generate(image)
        height, width = np.asarray(image).shape[:2]
        crops, _ = generate_crop_boxes((height, width), self.crop_n_layers, self.crop_overlap_ratio)
        if len(crops) > 1:
            index = {tuple(crop): i for i, crop in enumerate(crops)}

            def crop_rank(record: dict[str, Any]) -> tuple[int, int]:
                x, y, w, h = (int(v) for v in record["crop_box"])
                return (w * h, index[(x, y, x + w, y + h)])

            # The original's last NMS keeps masks of smaller crops first, then crop order
            # (the native generator sorts by predicted IoU).
            records = sorted(records, key=crop_rank)
        return records
