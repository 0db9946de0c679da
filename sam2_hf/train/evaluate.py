"""Validation: mean IoU for box prompts, for one click, and after correction clicks.

The prompts are deterministic (sam2's evaluation sampling), so scores before and after
training, or of two checkpoints, are measured on the same prompts:

- box: the object's tight box (inclusive pixel bounds), one mask asked for;
- one click: the point deepest inside the object; three candidates, the one with the highest
  predicted IoU kept (what ``Sam2Predictor`` users see for an ambiguous click);
- corrected: then ``corrections`` clicks, each at the point deepest inside the larger error
  region of the previous mask, positive or negative, with the previous low-res logits fed
  back as a mask prompt.

IoUs are computed at the original image size, on masks upscaled as the predictor upscales them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from typing_extensions import Unpack

from ..engine.loading import LoadedModel, LoadOptions, autocast, load_model
from .data import SegmentationData, open_data
from .export import write_json
from .items import pixel_values
from .model import image_embeddings
from .prompts import center_click

_LOGIT_CLAMP = 32.0


@dataclass(frozen=True)
class EvalScores:
    """Mean IoUs over the validation objects.

    Attributes:
        box: with the object's tight box as the prompt.
        one_click: with one click at the object's centre.
        corrected: after ``corrections`` further correction clicks.
        corrections: how many correction clicks ``corrected`` had.
        objects: how many objects were scored.
    """

    box: float
    one_click: float
    corrected: float
    corrections: int
    objects: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"box {self.box:.3f}, 1 click {self.one_click:.3f}, "
            f"+{self.corrections} corrections {self.corrected:.3f} ({self.objects} objects)"
        )


def summarize(ious: Sequence[Sequence[float]], corrections: int) -> EvalScores:
    """Per-object ``(box, one_click, corrected)`` IoUs -> their means."""
    table = np.asarray(ious, dtype=np.float64).reshape(-1, 3)
    means = table.mean(axis=0) if len(table) else np.full(3, np.nan)
    return EvalScores(
        box=float(means[0]),
        one_click=float(means[1]),
        corrected=float(means[2]),
        corrections=corrections,
        objects=len(table),
    )


def _decode(
    model: torch.nn.Module, features: list[torch.Tensor], **prompts: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    out = model(image_embeddings=features, **prompts)
    return out.pred_masks[:, 0].float(), out.iou_scores[:, 0].float()


def _upscale(low_res: torch.Tensor, size: tuple[int, int]) -> NDArray[np.bool_]:
    """(m, s, s) logits -> (m, H, W) bool masks, as ``post_process_masks`` upscales them."""
    full = F.interpolate(low_res[:, None], size, mode="bilinear", align_corners=False)[:, 0]
    return (full > 0).cpu().numpy()


def _iou(predicted: NDArray[np.bool_], target: NDArray[np.bool_]) -> NDArray[np.float64]:
    intersection = (predicted & target).sum(axis=(1, 2))
    union = (predicted | target).sum(axis=(1, 2))
    return intersection / np.maximum(union, 1)


@torch.no_grad()
def score_image(
    model: torch.nn.Module,
    features: list[torch.Tensor],
    masks: NDArray[np.bool_],
    image_size: int,
    corrections: int = 3,
) -> NDArray[np.float64]:
    """The three IoUs of every object of one image.

    Args:
        model: a transformers ``Sam2Model`` in eval mode.
        features: the image's embeddings, batch of one (``image_embeddings``).
        masks: (m, H, W) bool true masks at the original size.
        image_size: the model's square input side.
        corrections: correction clicks after the first click.

    Returns:
        (m, 3) float64: box, one click, corrected.
    """
    count, height, width = masks.shape
    device = features[0].device
    scale = torch.tensor([image_size / width, image_size / height], device=device)
    batch = [level.expand(count, -1, -1, -1) for level in features]
    scores = np.zeros((count, 3))

    from ..formats.masks import mask_to_box

    boxes = torch.as_tensor(mask_to_box(masks).reshape(count, 4), dtype=torch.float32)
    boxes = boxes.to(device) * scale.repeat(2)
    low_res, _ = _decode(model, batch, input_boxes=boxes[:, None], multimask_output=False)
    scores[:, 0] = _iou(_upscale(low_res[:, 0], (height, width)), masks)

    # A non-empty mask always has a deepest point.
    centres = [center_click(mask) or ((0, 0), 1) for mask in masks]
    points = torch.tensor([[xy] for xy, _ in centres], dtype=torch.float32, device=device)
    points = points[:, None] * scale  # (m, 1, 1, 2)
    labels = torch.ones(points.shape[:3], dtype=torch.long, device=device)
    low_res, iou = _decode(
        model, batch, input_points=points, input_labels=labels, multimask_output=True
    )
    chosen = low_res[torch.arange(count, device=device), iou.argmax(1)]  # (m, s, s)
    predicted = _upscale(chosen, (height, width))
    scores[:, 1] = _iou(predicted, masks)

    for _ in range(corrections):
        new_points, new_labels = [], []
        for number in range(count):
            click = center_click(masks[number], predicted[number])
            # A perfect mask gets no click; repeating its last click leaves the prompt unchanged.
            xy, label = click if click else (None, None)
            if xy is None:
                new_points.append(points[number, 0, -1])
                new_labels.append(labels[number, 0, -1])
            else:
                new_points.append(torch.tensor(xy, dtype=torch.float32, device=device) * scale)
                new_labels.append(torch.tensor(label, device=device))
        points = torch.cat([points, torch.stack(new_points)[:, None, None]], dim=2)
        labels = torch.cat([labels, torch.stack(new_labels)[:, None, None]], dim=2)
        low_res, _ = _decode(
            model,
            batch,
            input_points=points,
            input_labels=labels,
            input_masks=chosen[:, None].clamp(-_LOGIT_CLAMP, _LOGIT_CLAMP),
            multimask_output=False,
        )
        chosen = low_res[:, 0]
        predicted = _upscale(chosen, (height, width))
    scores[:, 2] = _iou(predicted, masks)
    return scores


def score_data(
    model: torch.nn.Module,
    data: SegmentationData,
    indices: Sequence[int],
    features_of: Callable[[int], list[torch.Tensor]],
    image_size: int,
    corrections: int = 3,
) -> list[list[float]]:
    """Per-object ``[box, one_click, corrected]`` IoUs for the images at ``indices``."""
    rows: list[list[float]] = []
    for index in indices:
        scores = score_image(model, features_of(index), data.masks(index), image_size, corrections)
        rows.extend(scores.tolist())
    return rows


def evaluate(
    model: str | os.PathLike[str] | LoadedModel,
    data: Any,
    *,
    corrections: int = 3,
    output_json: str | os.PathLike[str] | None = None,
    **options: Unpack[LoadOptions],
) -> EvalScores:
    """Score a checkpoint on images with masks: box, one click, and after correction clicks.

    Args:
        model: a short name, hub id or folder (such as a ``finetune`` result), or a model
            from ``load_model(..., task="image")``.
        data: anything ``open_data`` reads (COCO JSON, mask folder, ``datasets`` dataset).
        corrections: correction clicks after the first click.
        output_json: also write the scores there as JSON.
        **options: ``LoadOptions`` (``device``, ``dtype`` ...) when ``model`` is a name.

    Example:
        >>> evaluate("out/", "val/annotations.json")  # doctest: +SKIP
        EvalScores(box=0.91, one_click=0.78, corrected=0.93, corrections=3, objects=412)
    """
    loaded = model if isinstance(model, LoadedModel) else load_model(model, **options)
    dataset = open_data(data)
    network: Any = loaded.model.eval()
    size = int(network.prompt_encoder.input_image_size)

    def features_of(index: int) -> list[torch.Tensor]:
        values = pixel_values(loaded.processor, dataset.image(index))[None].to(loaded.device)
        with torch.no_grad(), autocast(loaded.device, loaded.dtype):
            return image_embeddings(network, values)

    with autocast(loaded.device, loaded.dtype):
        rows = score_data(network, dataset, range(len(dataset)), features_of, size, corrections)
    scores = summarize(rows, corrections)
    if output_json is not None:
        write_json(output_json, scores.to_dict())
    return scores
