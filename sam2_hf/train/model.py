"""The trained network: which parts learn, LoRA adapters, and one step's simulated interaction.

``InteractiveLoss`` wraps a transformers ``Sam2Model`` so that one ``forward`` runs a whole
training step (first prompt plus correction rounds on every image of a batch) and returns the
loss: ``accelerate`` / DDP then see one forward per step, as they expect.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..engine.image import image_embeddings
from ..engine.registry import model_family
from .losses import LOSS_NAMES, LossWeights, prediction_losses, weighted_total
from .prompts import error_clicks

ImageEncoderMode = Literal["frozen", "full", "lora"]
IMAGE_ENCODER_MODES = ("frozen", "full", "lora")

# The predictor clamps the logits it hands back as a mask prompt; training feeds them the same way.
_LOGIT_CLAMP = 32.0
# Per family, the image encoder's attention projections, the usual LoRA targets in a ViT:
# Hiera's (SAM 2) and SAM 3's ViT. EdgeTAM's RepViT is convolutional, with no attention.
_LORA_TARGETS = {
    "sam2": r".*vision_encoder\.backbone\.blocks\.\d+\.attn\.(qkv|proj)",
    "sam3_tracker": r".*vision_encoder\.backbone\.layers\.\d+\.attention\.(q|k|v|o)_proj",
}


def lora_targets(model: nn.Module) -> str:
    """The LoRA target pattern of ``model``'s image encoder.

    Raises:
        ValueError: the family's encoder has no attention to adapt (EdgeTAM).
    """
    family = model_family(model)
    name = family.name if family is not None else "sam2"
    if name not in _LORA_TARGETS:
        title = family.title if family is not None else name
        raise ValueError(
            f"image_encoder='lora' puts adapters on the image encoder's attention, and "
            f"{title}'s image encoder has none (a convolutional RepViT); use "
            "image_encoder='full' or 'frozen' for it"
        )
    return _LORA_TARGETS[name]


def add_lora(model: nn.Module, rank: int) -> Any:
    """Put LoRA adapters (``peft``) on the attention projections of the image encoder.

    Returns the ``PeftModel`` (its ``merge_and_unload()`` gives back ``model`` with the adapters
    merged); ``model`` itself is changed in place and all its own weights are frozen.

    Raises:
        ValueError: the model's family has no attention in its image encoder (EdgeTAM).
    """
    from peft import LoraConfig, get_peft_model

    targets = lora_targets(model)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=targets)
    return get_peft_model(model, config)


def set_trainable(model: nn.Module, image_encoder: ImageEncoderMode, prompt_encoder: bool) -> None:
    """Freeze everything but the parts that learn.

    The mask decoder always learns. With a frozen image encoder, the decoder's two projections
    of the high-resolution features (``conv_s0``, ``conv_s1``) stay frozen too: transformers
    applies them inside the image features, which the embedding cache keeps.
    """
    for name, parameter in model.named_parameters():
        if "lora_" in name:
            parameter.requires_grad_(True)
        elif name.startswith("mask_decoder."):
            cached = name.startswith(("mask_decoder.conv_s0.", "mask_decoder.conv_s1."))
            parameter.requires_grad_(not (cached and image_encoder == "frozen"))
        elif name.startswith("prompt_encoder."):
            parameter.requires_grad_(prompt_encoder)
        else:  # the vision encoder and no_memory_embedding
            parameter.requires_grad_(image_encoder == "full")


class InteractiveLoss(nn.Module):
    """One training step of simulated interaction, returning SAM 2's losses.

    ``forward(batch, embeddings)`` takes the items of ``TrainingItems`` (one per image) and,
    when the image encoder is frozen, their cached embeddings; otherwise the items carry
    ``pixel_values`` and the encoder runs with gradients.
    """

    def __init__(self, model: Any, weights: LossWeights) -> None:
        super().__init__()
        self.model: Any = model
        self.weights = weights

    def train(self, mode: bool = True) -> InteractiveLoss:
        super().train(mode)
        # A frozen encoder stays in eval mode (no drop-path noise in what the cache holds).
        if not any(p.requires_grad for p in self.model.vision_encoder.parameters()):
            self.model.vision_encoder.eval()
        return self

    def forward(
        self, batch: list[dict[str, Any]], embeddings: list[list[torch.Tensor]] | None = None
    ) -> dict[str, torch.Tensor]:
        """Losses averaged over objects within each image, then over images.

        Returns:
            ``{"loss": weighted total, "focal", "dice", "iou", "object_score"}``, scalars;
            each is summed over the prompt rounds, as sam2 does.
        """
        if embeddings is None:
            pixel_values = torch.stack([item["pixel_values"] for item in batch])
            levels = image_embeddings(self.model, pixel_values)
            embeddings = [[level[i : i + 1] for level in levels] for i in range(len(batch))]
        per_image = [self._image_losses(item, e) for item, e in zip(batch, embeddings, strict=True)]
        losses = {name: torch.stack([p[name] for p in per_image]).mean() for name in LOSS_NAMES}
        losses["loss"] = weighted_total(losses, self.weights)
        return losses

    def _image_losses(
        self, item: dict[str, Any], embedding: list[torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        target = item["masks"]  # (m, S, S) bool
        count, size = target.shape[0], target.shape[-1]
        target_float = target.float()
        # The objects of one image ride on the batch axis: each needs its own mask prompt,
        # which transformers takes one per batch entry.
        features = [level.expand(count, -1, -1, -1) for level in embedding]
        boxes = item["boxes"][:, None] if item["use_box"] else None
        points: torch.Tensor | None = None
        labels: torch.Tensor | None = None
        if not item["use_box"]:
            points = item["clicks"][:, None, None]
            labels = torch.ones(points.shape[:3], dtype=torch.long, device=points.device)
        mask_input = None
        totals = {name: target_float.new_zeros(count) for name in LOSS_NAMES}
        rounds = item["draws"].shape[0]
        for round_number in range(rounds + 1):
            # sam2 asks for three candidates only when one click is all there is.
            multimask = points is not None and boxes is None and points.shape[2] == 1
            out = self.model(
                image_embeddings=features,
                input_points=points,
                input_labels=labels,
                input_boxes=boxes,
                input_masks=mask_input,
                multimask_output=multimask,
            )
            low_res = out.pred_masks[:, 0].float()  # (m, C, s, s)
            predicted_iou = out.iou_scores[:, 0].float()  # (m, C)
            logits = F.interpolate(low_res, (size, size), mode="bilinear", align_corners=False)
            score = out.object_score_logits[:, 0].float()  # (m, 1)
            losses = prediction_losses(logits, predicted_iou, score, target_float, self.weights)
            for name in LOSS_NAMES:
                totals[name] = totals[name] + losses[name]
            if round_number == rounds:
                break
            with torch.no_grad():
                best = predicted_iou.argmax(1)
                chosen = torch.arange(count, device=best.device)
                previous = low_res[chosen, best][:, None]  # (m, 1, s, s)
                click, label = error_clicks(
                    target,
                    logits[chosen, best] > 0,
                    item["draws"][round_number],
                    item["from_object"][round_number],
                )
            click, label = click[:, None, None], label[:, None, None]
            points = click if points is None else torch.cat([points, click], dim=2)
            labels = label if labels is None else torch.cat([labels, label], dim=2)
            mask_input = previous.detach().clamp(-_LOGIT_CLAMP, _LOGIT_CLAMP)
        return {name: total.mean() for name, total in totals.items()}
