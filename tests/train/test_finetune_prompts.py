"""Prompt simulation and losses on hand-made masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import sigmoid_focal_loss

from sam2_hf.train import LossWeights, PromptSettings
from sam2_hf.train.losses import dice_loss, mask_iou, prediction_losses
from sam2_hf.train.prompts import center_click, draw_prompts, error_clicks, resize_masks


def _square(size: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[y0 : y1 + 1, x0 : x1 + 1] = True
    return mask


def test_boxes_jitter_within_bounds_and_clicks_fall_inside():
    masks = np.stack([_square(64, 10, 20, 29, 49), _square(64, 40, 5, 60, 12)])
    settings = PromptSettings(box_noise=0.1, box_noise_max=20.0, correction_clicks=2)
    for seed in range(20):
        prompts = draw_prompts(masks, np.random.default_rng(seed), settings)
        # width 19 -> up to 1.9 px; the cap (20 px at 1024 = 1.25 px at 64) binds first.
        tight = np.array([[10, 20, 29, 49], [40, 5, 60, 12]], np.float32)
        assert np.abs(prompts.boxes - tight).max() <= 1.25 + 1e-6
        assert (prompts.boxes >= 0).all() and (prompts.boxes <= 63).all()
        for mask, (x, y) in zip(masks, prompts.clicks.astype(int), strict=True):
            assert mask[y, x]
        assert prompts.draws.shape == prompts.from_object.shape == (2, 2)
    same = draw_prompts(masks, np.random.default_rng(5), settings)
    again = draw_prompts(masks, np.random.default_rng(5), settings)
    np.testing.assert_array_equal(same.boxes, again.boxes)
    np.testing.assert_array_equal(same.draws, again.draws)


def test_box_probability_extremes():
    masks = _square(32, 4, 4, 9, 9)[None]
    always = PromptSettings(box_probability=1.0)
    never = PromptSettings(box_probability=0.0)
    assert all(draw_prompts(masks, np.random.default_rng(s), always).use_box for s in range(10))
    assert not any(draw_prompts(masks, np.random.default_rng(s), never).use_box for s in range(10))


def test_resize_masks_keeps_tiny_objects():
    masks = np.zeros((2, 300, 400), bool)
    masks[0, 100:200, 100:300] = True
    masks[1, 5, 7] = True  # one pixel: vanishes at 32x32 unless kept
    resized = resize_masks(masks, 32)
    assert resized.shape == (2, 32, 32) and resized.dtype == torch.bool
    assert resized[1].sum() == 1 and resized[1, 0, 0]
    rows, cols = np.nonzero(resized[0].numpy())
    assert rows.min() == 11 and rows.max() == 20 and cols.min() == 8 and cols.max() == 23


def test_error_clicks_land_in_the_error_with_the_right_label():
    target = torch.from_numpy(np.stack([_square(16, 2, 2, 9, 9)] * 3))
    predicted = torch.zeros_like(target)
    predicted[1] = target[1]
    predicted[1, 12:14, 12:14] = True  # only a false positive
    predicted[2] = target[2]  # perfect
    for draw in (0.0, 0.37, 0.999):
        draws = torch.full((3,), draw)
        points, labels = error_clicks(target, predicted, draws, torch.zeros(3, dtype=torch.bool))
        x, y = points.long().T
        assert labels[0] == 1 and target[0, y[0], x[0]]  # missed object -> positive
        assert labels[1] == 0 and 12 <= x[1] <= 13 and 12 <= y[1] <= 13  # extra -> negative
        assert labels[2] == 0 and not target[2, y[2], x[2]]  # perfect -> background click
    points, labels = error_clicks(
        target, target.clone(), torch.full((3,), 0.5), torch.ones(3, dtype=torch.bool)
    )
    assert (labels == 1).all()  # from the whole object: positive, inside
    assert all(target[i, int(points[i, 1]), int(points[i, 0])] for i in range(3))


def test_center_click():
    target = _square(21, 3, 3, 13, 13)
    assert center_click(target) == ((8, 8), 1)
    predicted = target.copy()
    predicted[3:14, 10:14] = False  # a 4-wide strip of the object missed
    (x, y), label = center_click(target, predicted)
    assert label == 1 and 10 <= x <= 13 and target[y, x]
    extra = target.copy()
    extra[15:21, 0:21] = True  # a band of background taken
    (x, y), label = center_click(target, extra)
    assert label == 0 and y >= 15
    assert center_click(target, target) is None


def test_losses_match_their_definitions():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 8, 8)
    target = (torch.rand(2, 8, 8) > 0.5).float()
    predicted_iou = torch.rand(2, 3)
    score = torch.randn(2, 1)
    weights = LossWeights()
    losses = prediction_losses(logits, predicted_iou, score, target, weights)
    stacked = target[:, None].expand_as(logits)
    focal = sigmoid_focal_loss(logits, stacked, alpha=0.25, gamma=2.0, reduction="none")
    focal = focal.flatten(2).mean(-1)
    dice = dice_loss(logits, stacked)
    best = (20 * focal + dice).argmin(1)
    rows = torch.arange(2)
    torch.testing.assert_close(losses["focal"], focal[rows, best])
    torch.testing.assert_close(losses["dice"], dice[rows, best])
    actual = mask_iou(logits, stacked)
    torch.testing.assert_close(losses["iou"], (predicted_iou - actual).abs().mean(1))
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        score[:, 0], torch.ones(2), reduction="none"
    )
    torch.testing.assert_close(losses["object_score"], expected)


def test_absent_objects_get_no_mask_loss():
    logits = torch.randn(1, 1, 8, 8)
    losses = prediction_losses(
        logits, torch.rand(1, 1), torch.zeros(1, 1), torch.zeros(1, 8, 8), LossWeights()
    )
    assert losses["focal"] == 0 and losses["dice"] == 0 and losses["iou"] == 0
    assert losses["object_score"] > 0


def test_settings_are_validated():
    with pytest.raises(ValueError, match="box_probability must be in"):
        PromptSettings(box_probability=1.5)
    with pytest.raises(TypeError, match="correction_clicks must be an int"):
        PromptSettings(correction_clicks=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="objects_per_image must be >= 1"):
        PromptSettings(objects_per_image=0)
    with pytest.raises(ValueError, match="dice must be >= 0"):
        LossWeights(dice=-1)
