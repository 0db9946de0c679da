"""``SAM2ImagePredictor``: the original ``sam2.sam2_image_predictor`` on transformers.

Same constructor, methods, keyword names, state attributes (``_is_image_set``,
``_features``, ``_orig_hw``) and return values as the original: float32 numpy masks (0/1, or
logits with ``return_logits=True``) in the decoder's candidate order (not sorted by score),
numpy IoU predictions and clamped low-res logits. The image is encoded by sam2_hf's engine;
prompts are scaled with the original's arithmetic and decoded by transformers' ``Sam2Model``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike, NDArray
from PIL.Image import Image

from ..engine.fast_decode import decode_prompts
from ..formats.masks import clean_mask_logits
from ..image.predictor import Sam2Predictor
from ..inputs import load_image
from ._internals import encode, follow_model, loaded_from

logger = logging.getLogger(__name__)

# The original clamps the returned low-res logits so they stay usable as a mask prompt.
_LOGIT_CLAMP = 32.0


def area_threshold(value: float, name: str) -> int:
    """The original's float area thresholds as whole pixels: ``area <= 25.5`` is
    ``area <= 25``, and 0 or less turns the step off."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return max(0, math.floor(value))


class SAM2Transforms:
    """The original's prompt and mask transforms (``sam2.utils.transforms.SAM2Transforms``)."""

    def __init__(
        self,
        resolution: int,
        mask_threshold: float,
        max_hole_area: float = 0.0,
        max_sprinkle_area: float = 0.0,
    ) -> None:
        self.resolution = resolution
        self.mask_threshold = mask_threshold
        self.max_hole_area = area_threshold(max_hole_area, "max_hole_area")
        self.max_sprinkle_area = area_threshold(max_sprinkle_area, "max_sprinkle_area")

    def transform_coords(
        self, coords: torch.Tensor, normalize: bool = False, orig_hw: Any = None
    ) -> torch.Tensor:
        """Pixel (x, y) -> the model's input frame: divide by (w, h), times the resolution.

        With ``normalize=False`` the coordinates are taken as already in [0, 1].
        """
        if normalize:
            if orig_hw is None:
                raise ValueError("orig_hw is needed to normalize coordinates")
            h, w = orig_hw
            coords = coords.clone()
            coords[..., 0] = coords[..., 0] / w
            coords[..., 1] = coords[..., 1] / h
        return coords * self.resolution

    def transform_boxes(
        self, boxes: torch.Tensor, normalize: bool = False, orig_hw: Any = None
    ) -> torch.Tensor:
        """(B, 4) boxes (x0, y0, x1, y1) -> (B, 2, 2) corners in the model's input frame."""
        return self.transform_coords(boxes.reshape(-1, 2, 2), normalize, orig_hw)

    def postprocess_masks(self, masks: torch.Tensor, orig_hw: Any) -> torch.Tensor:
        """Low-res logits (B, C, h, w) -> logits at ``orig_hw``: small holes and specks of
        the low-res mask cleaned first (``max_hole_area`` / ``max_sprinkle_area``)."""
        masks = masks.float()
        if self.max_hole_area > 0 or self.max_sprinkle_area > 0:
            cleaned = clean_mask_logits(
                masks.detach().cpu().numpy(),
                mask_threshold=self.mask_threshold,
                max_hole_area=self.max_hole_area,
                max_sprinkle_area=self.max_sprinkle_area,
            )
            masks = torch.from_numpy(cleaned).to(masks.device)
        return F.interpolate(masks, tuple(orig_hw), mode="bilinear", align_corners=False)


class SAM2ImagePredictor:
    """Prompted segmentation with a cached image embedding, as the original predictor.

    Example:
        >>> from sam2_hf.compat.build_sam import build_sam2  # doctest: +SKIP
        >>> predictor = SAM2ImagePredictor(build_sam2("sam2.1_hiera_l", "sam2.1_hiera_large.pt"))
        >>> predictor.set_image(image)  # doctest: +SKIP
        >>> masks, scores, logits = predictor.predict(  # doctest: +SKIP
        ...     point_coords=np.array([[500, 375]]), point_labels=np.array([1]))
    """

    def __init__(
        self,
        sam_model: Any,
        mask_threshold: float = 0.0,
        max_hole_area: float = 0.0,
        max_sprinkle_area: float = 0.0,
        **kwargs: Any,
    ) -> None:
        """Wrap a model from ``build_sam2`` (or a transformers ``Sam2Model``).

        Args:
            sam_model: the model.
            mask_threshold: logits above it are foreground.
            max_hole_area: fill background regions of at most this many low-res pixels.
            max_sprinkle_area: remove foreground regions of at most this many low-res pixels.
            **kwargs: accepted and ignored, as by the original.
        """
        loaded = loaded_from(sam_model, "image")
        self.model = loaded.model
        self._engine = Sam2Predictor(loaded)
        config: Any = self.model.config
        resolution = int(config.prompt_encoder_config.image_size)
        self._transforms = SAM2Transforms(
            resolution, mask_threshold, max_hole_area, max_sprinkle_area
        )
        self._is_image_set = False
        self._features: dict[str, Any] | None = None
        self._orig_hw: list[tuple[int, int]] | None = None
        self._is_batch = False
        self.mask_threshold = mask_threshold
        self._bb_feat_sizes = [(resolution // s, resolution // s) for s in (4, 8, 16)]

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs: Any) -> SAM2ImagePredictor:
        """Load one of Meta's hub checkpoints (``"facebook/sam2.1-hiera-large"``), or any
        transformers SAM 2 checkpoint; ``kwargs`` go to ``build_sam2_hf`` and the constructor,
        as in the original (e.g. ``device="cpu"``)."""
        from .build_sam import build_sam2_hf

        return cls(build_sam2_hf(model_id, **kwargs), **kwargs)

    @property
    def device(self) -> torch.device:
        """The model's device."""
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------------ images

    @torch.no_grad()
    def set_image(self, image: NDArray[Any] | Image) -> None:
        """Compute the embedding of one image for ``predict``.

        Args:
            image: (H, W, 3) RGB uint8 array or a PIL image (also what
                ``sam2_hf.load_image`` reads: paths, URLs, grey or RGBA).
        """
        self.reset_predictor()
        array = load_image(image)
        self._orig_hw = [(int(array.shape[0]), int(array.shape[1]))]
        self._set_features([array])
        logger.info("Image embeddings computed.")

    @torch.no_grad()
    def set_image_batch(self, image_list: list[NDArray[Any]]) -> None:
        """Compute the embeddings of several images (sizes may differ) for ``predict_batch``.

        Args:
            image_list: a list of (H, W, 3) RGB uint8 arrays.
        """
        self.reset_predictor()
        if not isinstance(image_list, list):
            raise TypeError(f"image_list must be a list of arrays, got {type(image_list).__name__}")
        for index, image in enumerate(image_list):
            if not isinstance(image, np.ndarray):
                raise TypeError(
                    f"image_list[{index}] must be an (H, W, 3) RGB np.ndarray, got "
                    f"{type(image).__name__}"
                )
        arrays = [load_image(image) for image in image_list]
        self._orig_hw = [(int(a.shape[0]), int(a.shape[1])) for a in arrays]
        self._set_features(arrays)
        self._is_batch = True

    def _set_features(self, arrays: list[NDArray[Any]]) -> None:
        self._sync_device()
        levels = encode(self._engine, arrays)
        self._features = {"image_embed": levels[-1], "high_res_feats": levels[:-1]}
        self._is_image_set = True

    def get_image_embedding(self) -> torch.Tensor:
        """The current image's embedding, (1, C, h, w) (C = 256, h = w = 64 for the released
        models)."""
        if not self._is_image_set or self._features is None:
            raise RuntimeError(
                "An image must be set with .set_image(...) to generate an embedding."
            )
        return self._features["image_embed"]

    def reset_predictor(self) -> None:
        """Forget the image(s) and their embeddings."""
        self._is_image_set = False
        self._features = None
        self._orig_hw = None
        self._is_batch = False

    # ----------------------------------------------------------------------- prompts

    def predict(
        self,
        point_coords: ArrayLike | None = None,
        point_labels: ArrayLike | None = None,
        box: ArrayLike | None = None,
        mask_input: ArrayLike | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
        normalize_coords: bool = True,
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
        """Masks for prompts on the current image, as the original's ``predict``.

        Args:
            point_coords: (N, 2) points (x, y) in pixels, or (B, N, 2) for B objects.
            point_labels: (N,) or (B, N): 1 foreground, 0 background.
            box: (4,) box (x0, y0, x1, y1) in pixels, or (B, 4).
            mask_input: (1, 256, 256) low-res logits from a previous prediction.
            multimask_output: three candidates instead of one.
            return_logits: logits instead of 0/1 masks.
            normalize_coords: False if the coordinates are already in [0, 1].

        Returns:
            masks (C, H, W) float32 (B, C, H, W for B objects), IoU predictions (C,) float32
            and low-res logits (C, 256, 256) float32, candidates in the decoder's order.
        """
        if not self._is_image_set:
            raise RuntimeError("An image must be set with .set_image(...) before mask prediction.")
        mask_input, coords, labels, boxes = self._prep_prompts(
            point_coords, point_labels, box, mask_input, normalize_coords
        )
        masks, iou, low_res = self._predict(
            coords, labels, boxes, mask_input, multimask_output, return_logits=return_logits
        )
        return _numpy(masks), _numpy(iou), _numpy(low_res)

    def predict_batch(
        self,
        point_coords_batch: list[ArrayLike] | None = None,
        point_labels_batch: list[ArrayLike] | None = None,
        box_batch: list[ArrayLike] | None = None,
        mask_input_batch: list[ArrayLike] | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
        normalize_coords: bool = True,
    ) -> tuple[list[NDArray[np.float32]], list[NDArray[np.float32]], list[NDArray[np.float32]]]:
        """``predict`` for each image of ``set_image_batch``; returns lists of its results."""
        if not self._is_batch:
            raise RuntimeError("This function should only be used when in batched mode")
        if not self._is_image_set or self._features is None:
            raise RuntimeError(
                "An image must be set with .set_image_batch(...) before mask prediction."
            )
        all_masks, all_ious, all_low_res = [], [], []
        for index in range(len(self._features["image_embed"])):

            def pick(batch: list[ArrayLike] | None) -> ArrayLike | None:
                return batch[index] if batch is not None else None  # noqa: B023

            mask_input, coords, labels, boxes = self._prep_prompts(
                pick(point_coords_batch),
                pick(point_labels_batch),
                pick(box_batch),
                pick(mask_input_batch),
                normalize_coords,
                img_idx=index,
            )
            masks, iou, low_res = self._predict(
                coords,
                labels,
                boxes,
                mask_input,
                multimask_output,
                return_logits=return_logits,
                img_idx=index,
            )
            all_masks.append(_numpy(masks))
            all_ious.append(_numpy(iou))
            all_low_res.append(_numpy(low_res))
        return all_masks, all_ious, all_low_res

    def _prep_prompts(
        self,
        point_coords: ArrayLike | None,
        point_labels: ArrayLike | None,
        box: ArrayLike | None,
        mask_logits: ArrayLike | None,
        normalize_coords: bool,
        img_idx: int = -1,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """Prompts as the model's tensors: (mask_input, coords, labels, box corners)."""
        if self._orig_hw is None:
            raise RuntimeError("An image must be set with .set_image(...) before mask prediction.")
        orig_hw = self._orig_hw[img_idx]
        device = self.device
        coords = labels = boxes = masks = None
        if point_coords is not None:
            if point_labels is None:
                raise ValueError("point_labels must be supplied if point_coords is supplied.")
            points = torch.as_tensor(np.asarray(point_coords), dtype=torch.float, device=device)
            if points.shape[-1:] != (2,) or points.dim() not in (2, 3):
                raise ValueError(
                    f"point_coords must have shape (N, 2) or (B, N, 2), got {tuple(points.shape)}"
                )
            coords = self._transforms.transform_coords(points, normalize_coords, orig_hw)
            labels = torch.as_tensor(np.asarray(point_labels), dtype=torch.int, device=device)
            if labels.shape != points.shape[:-1]:
                raise ValueError(
                    f"point_labels must have shape {tuple(points.shape[:-1])} to match "
                    f"point_coords, got {tuple(labels.shape)}"
                )
            if coords.dim() == 2:
                coords, labels = coords[None], labels[None]
        if box is not None:
            box_tensor = torch.as_tensor(np.asarray(box), dtype=torch.float, device=device)
            if box_tensor.numel() % 4 or box_tensor.shape[-1:] != (4,):
                raise ValueError(
                    f"box must have shape (4,) or (B, 4), got {tuple(box_tensor.shape)}"
                )
            boxes = self._transforms.transform_boxes(box_tensor, normalize_coords, orig_hw)
        if mask_logits is not None:
            masks = torch.as_tensor(np.asarray(mask_logits), dtype=torch.float, device=device)
            if masks.dim() == 3:
                masks = masks[None]
        return masks, coords, labels, boxes

    @torch.no_grad()
    def _predict(
        self,
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        boxes: torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
        img_idx: int = -1,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decode prompts already in the model's input frame, as the original's ``_predict``.

        Args:
            point_coords: (B, N, 2) float points, or None.
            point_labels: (B, N) int labels, or None.
            boxes: (B, 2, 2) or (B, 4) box corners, or None.
            mask_input: (B, 1, h, w) low-res logits, or None.

        Returns:
            masks (B, C, H, W) (bool, or float logits with ``return_logits``), IoU predictions
            (B, C) and clamped low-res logits (B, C, h, w), torch tensors on the model's device.
        """
        if not self._is_image_set or self._features is None or self._orig_hw is None:
            raise RuntimeError("An image must be set with .set_image(...) before mask prediction.")
        coords, labels = point_coords, point_labels
        if boxes is not None:
            # Box corners go first as points labelled 2 and 3, as the original (and SAM 2's
            # training) orders them.
            corners = boxes.reshape(-1, 2, 2)
            corner_labels = torch.tensor([[2, 3]], dtype=torch.int, device=corners.device)
            corner_labels = corner_labels.repeat(corners.shape[0], 1)
            if coords is not None and labels is not None:
                coords = torch.cat([corners, coords], dim=1)
                labels = torch.cat([corner_labels, labels], dim=1)
            else:
                coords, labels = corners, corner_labels
        levels = [level[img_idx].unsqueeze(0) for level in self._features["high_res_feats"]]
        levels.append(self._features["image_embed"][img_idx].unsqueeze(0))
        low_res, iou = _decode(self.model, levels, coords, labels, mask_input, multimask_output)
        masks = self._transforms.postprocess_masks(low_res, self._orig_hw[img_idx])
        low_res = torch.clamp(low_res, -_LOGIT_CLAMP, _LOGIT_CLAMP)
        if not return_logits:
            masks = masks > self.mask_threshold
        return masks, iou, low_res

    def _sync_device(self) -> None:
        # The model may have been moved (model.to(...)) since the predictor was made.
        follow_model(self._engine, self.device)


def _decode(
    model: Any,
    levels: list[torch.Tensor],
    coords: torch.Tensor | None,
    labels: torch.Tensor | None,
    mask_input: torch.Tensor | None,
    multimask_output: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Low-res logits (B, C, h, w) and IoU predictions (B, C) for B objects on one image."""
    if coords is None or labels is None:
        return _decode_without_points(model, levels, mask_input, multimask_output)
    if mask_input is not None and mask_input.shape[0] > 1:
        # One mask prompt per object: the shared-image decoder takes one mask, so decode each
        # object with its own.
        parts = [
            _decode(model, levels, coords[i : i + 1], labels[i : i + 1], mask_input[i : i + 1],
                    multimask_output)
            for i in range(mask_input.shape[0])
        ]  # fmt: skip
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    low_res, iou, _ = decode_prompts(
        model,
        levels,
        input_points=coords[None].to(levels[-1].dtype),
        input_labels=labels[None].long(),
        input_masks=mask_input,
        multimask_output=multimask_output,
    )
    return low_res.float(), iou.float()


def _decode_without_points(
    model: Any,
    levels: list[torch.Tensor],
    mask_input: torch.Tensor | None,
    multimask_output: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """No point and no box: the original decodes with no sparse prompt token at all
    (transformers' forward would add a padding point)."""
    encoder = model.prompt_encoder
    image = levels[-1]
    if mask_input is not None:
        dense = encoder.mask_embed(mask_input.to(image.dtype))
    else:
        dense = encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(
            1, -1, *encoder.image_embedding_size
        )
    sparse = image.new_zeros((dense.shape[0], 1, 0, encoder.hidden_size))
    masks, iou, _, _ = model.mask_decoder(
        image_embeddings=image,
        image_positional_embeddings=model.get_image_wide_positional_embeddings(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=multimask_output,
        high_resolution_features=levels[:-1],
    )
    return masks[:, 0].float(), iou[:, 0].float()


def _numpy(tensor: torch.Tensor) -> NDArray[np.float32]:
    """The original's output conversion: drop a leading object axis of 1, float32 numpy."""
    return tensor.squeeze(0).float().detach().cpu().numpy()
