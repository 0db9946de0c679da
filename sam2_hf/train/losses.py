"""SAM 2's training losses: focal and dice on masks, L1 on the predicted IoU, and a binary
cross-entropy on the object score (sam2's ``training/loss_fns.py``, weights 20 : 1 : 1 : 1).

With several candidate masks (one ambiguous click), the focal and dice losses are taken on
the candidate with the smallest weighted sum of the two, and the IoU loss on every candidate.
Mask losses count only for objects present in the target (always, for still images).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss


@dataclass(frozen=True)
class LossWeights:
    """Weights of the four losses and the focal loss's parameters (SAM 2's defaults)."""

    focal: float = 20.0
    dice: float = 1.0
    iou: float = 1.0
    object_score: float = 1.0
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0

    def __post_init__(self) -> None:
        for name in ("focal", "dice", "iou", "object_score", "focal_gamma"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")


LOSS_NAMES = ("focal", "dice", "iou", "object_score")


def dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - soft Dice, smoothed by 1 as sam2: (..., H, W) logits and 0/1 target -> (...)."""
    probabilities = logits.sigmoid().flatten(-2)
    target = target.flatten(-2)
    numerator = 2 * (probabilities * target).sum(-1)
    denominator = probabilities.sum(-1) + target.sum(-1)
    return 1 - (numerator + 1) / (denominator + 1)


def mask_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of ``logits > 0`` with a 0/1 target: (..., H, W) -> (...); 0 where both are empty."""
    predicted = logits.flatten(-2) > 0
    truth = target.flatten(-2) > 0
    intersection = (predicted & truth).sum(-1).float()
    union = (predicted | truth).sum(-1).float()
    return intersection / union.clamp(min=1.0)


def prediction_losses(
    logits: torch.Tensor,
    predicted_iou: torch.Tensor,
    score_logits: torch.Tensor,
    target: torch.Tensor,
    weights: LossWeights,
) -> dict[str, torch.Tensor]:
    """The losses of one decoder pass, per object.

    Args:
        logits: (m, C, S, S) float mask logits at the target's size, C = 1 or 3 candidates.
        predicted_iou: (m, C) float predicted IoUs.
        score_logits: (m, 1) float object-score logits.
        target: (m, S, S) float 0/1 true masks.
        weights: the loss weights and focal parameters.

    Returns:
        ``{"focal", "dice", "iou", "object_score"}``, each (m,) float32, unweighted.
    """
    candidates = target[:, None].expand_as(logits)
    focal = sigmoid_focal_loss(
        logits, candidates, alpha=weights.focal_alpha, gamma=weights.focal_gamma, reduction="none"
    )
    focal = focal.flatten(2).mean(-1)  # (m, C)
    dice = dice_loss(logits, candidates)
    with torch.no_grad():
        actual_iou = mask_iou(logits, candidates)
    iou = (predicted_iou - actual_iou).abs()
    if logits.shape[1] > 1:
        best = torch.argmin(weights.focal * focal + weights.dice * dice, dim=1, keepdim=True)
        focal, dice = focal.gather(1, best), dice.gather(1, best)
    present = target.flatten(1).any(1).float()
    object_score = F.binary_cross_entropy_with_logits(score_logits[:, 0], present, reduction="none")
    return {
        "focal": focal[:, 0] * present,
        "dice": dice[:, 0] * present,
        "iou": iou.mean(1) * present,
        "object_score": object_score,
    }


def weighted_total(losses: dict[str, torch.Tensor], weights: LossWeights) -> torch.Tensor:
    """The weighted sum of the losses (any shape, elementwise)."""
    return (
        weights.focal * losses["focal"]
        + weights.dice * losses["dice"]
        + weights.iou * losses["iou"]
        + weights.object_score * losses["object_score"]
    )
