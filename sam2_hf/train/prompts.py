"""Simulated prompts, as SAM 2 was trained: jittered boxes, clicks, correction clicks.

Training (``draw_prompts`` + ``error_clicks``, following sam2's ``training/utils/data_utils``
and ``SAM2Base._iter_correct_pt_sampling``): all objects of an image start from the same kind
of prompt, a box (probability ``box_probability``) or one positive click drawn uniformly inside
the mask. Box corners move by up to ``box_noise`` of the box's width / height (at most
``box_noise_max`` pixels at a 1024 input). Then ``correction_clicks`` rounds each add one click
drawn uniformly from the error region of the previous prediction (positive where the object
was missed, negative where the background was taken), with the previous low-res logits fed
back as a mask prompt; with probability ``gt_click_probability`` the click is drawn from the
whole object instead. The random draws are made per (seed, epoch, image), so every process
and every resumed run sees the same prompts.

Evaluation (``center_click``): deterministic, as sam2's ``pt_sampling_for_eval="center"``:
the click goes to the point of the larger error region farthest from its border.

Coordinates: ``(x, y)``; training prompts in pixels of the model's square input
(``image_size`` x ``image_size``), evaluation clicks in pixels of the original image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from scipy import ndimage

from ..formats.masks import mask_to_box

_DRAW_STEPS = 1 << 24  # a draw in [0, 1) as an integer fraction: exact for float32 draws


@dataclass(frozen=True)
class PromptSettings:
    """How training prompts are simulated; the defaults are SAM 2's training configuration.

    Attributes:
        objects_per_image: objects drawn from an image for one step (all when it has fewer).
        box_probability: chance that an image's objects start from a box instead of a click.
        box_noise: box corner jitter, as a fraction of the box's width and height.
        box_noise_max: the jitter's cap in pixels of a 1024 input (scaled to the model's).
        correction_clicks: correction rounds after the first prompt; the loss covers every
            round, so a step costs ``1 + correction_clicks`` decoder passes.
        gt_click_probability: chance that a correction click is drawn from the whole object.
    """

    objects_per_image: int = 4
    box_probability: float = 0.5
    box_noise: float = 0.1
    box_noise_max: float = 20.0
    correction_clicks: int = 7
    gt_click_probability: float = 0.1

    def __post_init__(self) -> None:
        for name in ("objects_per_image", "correction_clicks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if self.objects_per_image < 1:
            raise ValueError(f"objects_per_image must be >= 1, got {self.objects_per_image}")
        if self.correction_clicks < 0:
            raise ValueError(f"correction_clicks must be >= 0, got {self.correction_clicks}")
        for name in ("box_probability", "gt_click_probability"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        if self.box_noise < 0 or self.box_noise_max < 0:
            raise ValueError("box_noise and box_noise_max must be >= 0")


@dataclass(frozen=True)
class ImagePrompts:
    """The random part of one image's training prompts, for its m objects and R rounds.

    Attributes:
        use_box: whether the objects start from ``boxes`` (else from ``clicks``).
        boxes: (m, 4) float32 jittered boxes (x0, y0, x1, y1), model-input pixels.
        clicks: (m, 2) float32 first clicks (x, y), model-input pixels, inside each mask.
        draws: (R, m) float32 in [0, 1): where in the error region each correction click falls.
        from_object: (R, m) bool: draw that correction click from the whole object.
    """

    use_box: bool
    boxes: NDArray[np.float32]
    clicks: NDArray[np.float32]
    draws: NDArray[np.float32]
    from_object: NDArray[np.bool_]


def resize_masks(masks: NDArray[np.bool_], size: int) -> torch.Tensor:
    """Object masks at the model's square input size, as the image is resized.

    Args:
        masks: (m, H, W) bool masks at the original image size.
        size: the model's input side (1024 for the released checkpoints).

    Returns:
        (m, size, size) bool. A mask too small to survive the resize keeps one pixel at its
        first pixel's position, so no object turns empty.
    """
    stack = torch.from_numpy(np.ascontiguousarray(masks)).float()[:, None]
    resized = F.interpolate(stack, (size, size), mode="bilinear", antialias=True) >= 0.5
    resized = resized[:, 0]
    height, width = masks.shape[1:]
    for number in range(len(masks)):
        if not resized[number].any():
            y, x = np.argwhere(masks[number])[0]
            resized[number, int(y * size / height), int(x * size / width)] = True
    return resized


def draw_prompts(
    masks: NDArray[np.bool_], rng: np.random.Generator, settings: PromptSettings
) -> ImagePrompts:
    """Draw one image's first prompts and correction randomness.

    Args:
        masks: (m, S, S) bool object masks at the model's input size, each non-empty.
        rng: the generator for this (seed, epoch, image).
        settings: the prompt recipe.
    """
    count, size = masks.shape[0], masks.shape[-1]
    use_box = bool(rng.random() < settings.box_probability)
    boxes = mask_to_box(masks).astype(np.float32).reshape(count, 4)
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    cap = settings.box_noise_max * size / 1024.0
    max_dx = np.minimum(widths * settings.box_noise, cap)
    max_dy = np.minimum(heights * settings.box_noise, cap)
    noise = rng.uniform(-1.0, 1.0, size=(count, 4)).astype(np.float32)
    boxes = boxes + noise * np.stack([max_dx, max_dy, max_dx, max_dy], axis=1)
    boxes = np.clip(boxes, 0, size - 1).astype(np.float32)
    clicks = np.empty((count, 2), np.float32)
    for number, mask in enumerate(masks):
        inside = np.flatnonzero(mask)
        pick = int(inside[rng.integers(len(inside))])
        clicks[number] = (pick % size, pick // size)
    rounds = settings.correction_clicks
    draws = rng.random((rounds, count), dtype=np.float32)
    from_object = rng.random((rounds, count)) < settings.gt_click_probability
    return ImagePrompts(use_box, boxes, clicks, draws, from_object)


def error_clicks(
    target: torch.Tensor, predicted: torch.Tensor, draws: torch.Tensor, from_object: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One correction click per object, uniform over the error region (sam2's "uniform").

    A missed pixel gives a positive click, a wrongly taken one a negative click. Where the
    prediction is already right, the click is a negative one in the background; with
    ``from_object`` it is a positive click anywhere in the object.

    Args:
        target: (m, S, S) bool true masks.
        predicted: (m, S, S) bool predicted masks.
        draws: (m,) float in [0, 1): the position of the click within its region.
        from_object: (m,) bool.

    Returns:
        (m, 2) float32 clicks (x, y) in pixels, and (m,) int64 labels (1 positive, 0 negative).
    """
    count, size = target.shape[0], target.shape[-1]
    predicted = predicted & ~from_object[:, None, None]
    region = target ^ predicted
    correct = ~region.flatten(1).any(1)
    region = torch.where(correct[:, None, None], ~target, region)
    # An object covering the whole image has no background: click inside it instead.
    region = torch.where(region.flatten(1).any(1)[:, None, None], region, target)
    flat = region.flatten(1)
    totals = flat.sum(1)
    # Integer arithmetic picks the same pixel on every device (MPS has no float64).
    quantized = (draws.float() * _DRAW_STEPS).long()
    rank = torch.minimum((quantized * totals) // _DRAW_STEPS, totals - 1)
    position = torch.searchsorted(flat.long().cumsum(1), (rank + 1)[:, None])[:, 0]
    labels = target.flatten(1).gather(1, position[:, None])[:, 0].long()
    points = torch.stack([position % size, position // size], dim=1).float()
    return points.reshape(count, 2), labels


def center_click(
    target: NDArray[np.bool_], predicted: NDArray[np.bool_] | None = None
) -> tuple[tuple[int, int], int] | None:
    """The evaluation click: the point deepest inside the larger error region.

    Args:
        target: (H, W) bool true mask.
        predicted: (H, W) bool prediction, or None for the first click (then the click is the
            point of the object farthest from its border).

    Returns:
        ``((x, y), label)`` in pixels of ``target`` with label 1 (missed object) or 0
        (wrongly taken background), or None when the prediction has no error.
    """
    if predicted is None:
        predicted = np.zeros_like(target)
    missed = np.pad(target & ~predicted, 1)
    extra = np.pad(~target & predicted, 1)
    if not missed.any() and not extra.any():
        return None
    missed_depth = ndimage.distance_transform_edt(missed)[1:-1, 1:-1]
    extra_depth = ndimage.distance_transform_edt(extra)[1:-1, 1:-1]
    positive = bool(missed_depth.max() > extra_depth.max())
    depth = missed_depth if positive else extra_depth
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return (int(x), int(y)), int(positive)
