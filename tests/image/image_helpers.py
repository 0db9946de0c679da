"""What the image tests share: the raw transformers reference they compare the package with,
for every family, and the keys of an automatic-mask record."""

from __future__ import annotations

import numpy as np
import torch

from sam2_hf import Sam2Predictor

# The keys of an automatic-mask record, in the original SAM2AutomaticMaskGenerator's order.
RECORD_KEYS = [
    "segmentation",
    "area",
    "bbox",
    "predicted_iou",
    "point_coords",
    "stability_score",
    "crop_box",
]


def raw_transformers(
    predictor: Sam2Predictor, image: np.ndarray, multimask: bool, input_masks=None, **prompts
):
    """The documented transformers path for the family: its processor (nested prompts) -> its
    image model -> ``post_process_masks``, fed the float pixels the predictor feeds."""
    processor, model = predictor.processor, predictor.model
    inputs = processor(
        images=[image.astype(np.float32) / 255.0], do_rescale=False, return_tensors="pt", **prompts
    )
    pixel_values = inputs.pop("pixel_values")
    with torch.no_grad():
        outputs = model(
            image_embeddings=reference_embeddings(model, pixel_values),
            **inputs,
            input_masks=input_masks,
            multimask_output=multimask,
        )
    masks = processor.post_process_masks(outputs.pred_masks, inputs["original_sizes"])[0]
    return masks.numpy(), outputs.iou_scores[0].numpy(), outputs.pred_masks[0].numpy()


def reference_embeddings(model, pixel_values: torch.Tensor) -> list[torch.Tensor]:
    """``model.get_image_embeddings``, except for SAM 3's tracker, whose transformers image model
    (5.24) adds the no-memory embedding to a level it then drops: there the levels are made as
    ``Sam3TrackerVideoModel`` makes them (the FPN's first three, the no-memory embedding on the
    third). tests/engine/test_image_engine_families.py checks both facts."""
    if type(model).__name__ != "Sam3TrackerModel":
        return model.get_image_embeddings(pixel_values)
    levels = model.get_image_features(pixel_values).fpn_hidden_states[:3]
    levels[-1] = levels[-1] + model.no_memory_embedding
    return [
        level.permute(1, 2, 0).reshape(1, -1, *size)
        for level, size in zip(levels, model.backbone_feature_sizes, strict=True)
    ]


def assert_matches_raw(result_masks, result_scores, raw_masks, raw_scores):
    """Same masks once the package's best-first ranking is applied to the raw output."""
    order = np.argsort(-raw_scores, axis=-1, kind="stable")
    expected_masks = np.take_along_axis(raw_masks, order[..., None, None], axis=-3)
    expected_scores = np.take_along_axis(raw_scores, order, axis=-1)
    np.testing.assert_array_equal(result_masks, expected_masks)
    np.testing.assert_allclose(result_scores, expected_scores, rtol=0, atol=1e-6)
