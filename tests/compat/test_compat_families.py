"""The original sam2 API (sam2_hf.compat) on EdgeTAM, and its refusal of SAM 3's tracker.

EdgeTAM's reference code is a fork of sam2 (its ``SAM2ImagePredictor``,
``build_sam2_video_predictor``), so the compat classes serve EdgeTAM checkpoints and give what
sam2-hf's own classes give on them. The original sam2 package has no SAM 3: a SAM 3 tracker
model is refused with an error naming the family and sam2-hf's own classes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_frames

from sam2_hf import Sam2Predictor, VideoTracker, load_model
from sam2_hf.compat import (
    SAM2AutomaticMaskGenerator,
    SAM2ImagePredictor,
    SAM2VideoPredictor,
    build_sam2_hf,
    build_sam2_video_predictor_hf,
)


def test_image_predictor_on_edgetam_gives_sam2_hfs_masks(edgetam_checkpoint, image_hw):
    compat = SAM2ImagePredictor.from_pretrained(str(edgetam_checkpoint), device="cpu")
    assert type(compat.model).__name__ == "EdgeTamModel"
    compat.set_image(image_hw)
    masks, scores, logits = compat.predict(
        point_coords=np.array([[40, 12], [10, 30]]), point_labels=np.array([1, 0])
    )
    native = Sam2Predictor.from_pretrained(edgetam_checkpoint, device="cpu")
    native.set_image(image_hw)
    result = native.predict(point_coords=[(40, 12), (10, 30)], point_labels=[1, 0])
    # The original keeps the decoder's order; sam2-hf sorts best first.
    order = np.argsort(-scores, kind="stable")
    np.testing.assert_array_equal(masks[order].astype(bool), result.masks)
    np.testing.assert_allclose(scores[order], result.scores, atol=1e-6)
    assert logits.shape == (3, 32, 32)


def test_automatic_generator_on_edgetam_runs(edgetam_checkpoint, image_hw):
    generator = SAM2AutomaticMaskGenerator(
        build_sam2_hf(str(edgetam_checkpoint), device="cpu"),
        points_per_side=4,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
    )
    records = generator.generate(image_hw)
    assert records and all(r["segmentation"].shape == image_hw.shape[:2] for r in records)


def test_image_predictor_from_an_edgetam_video_model_shares_its_weights(edgetam_checkpoint):
    video = load_model(edgetam_checkpoint, task="video", device="cpu").model
    compat = SAM2ImagePredictor(video)
    assert type(compat.model).__name__ == "EdgeTamModel"
    image_weights = compat.model.state_dict()
    video_weights = video.state_dict()
    assert all(image_weights[k].data_ptr() == video_weights[k].data_ptr() for k in image_weights)


def test_video_predictor_on_edgetam_gives_the_trackers_masks(edgetam_checkpoint):
    video = make_frames(4, seed=2)
    compat = build_sam2_video_predictor_hf(str(edgetam_checkpoint), device="cpu")
    assert isinstance(compat, SAM2VideoPredictor)
    assert type(compat.model).__name__ == "EdgeTamVideoModel"
    state = compat.init_state(video)
    compat.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
    ours = {f: (logits > 0).cpu().numpy() for f, _, logits in compat.propagate_in_video(state)}

    tracker = VideoTracker.from_pretrained(edgetam_checkpoint, device="cpu", progress=False)
    session = tracker.open(video)
    session.add(frame_idx=0, obj_id=1, points=[(20, 20)])
    expected = {r.frame_idx: r.stack() for r in session.propagate()}
    assert sorted(ours) == sorted(expected) == list(range(len(video)))
    for frame_idx, masks in ours.items():
        assert masks[:, 0].any()
        np.testing.assert_array_equal(masks[:, 0], expected[frame_idx])


def test_sam3_tracker_is_refused_with_the_family_and_the_fix(sam3_checkpoint):
    message = (
        r"Sam3Tracker(Video)?Model is a SAM 3 \(tracker\) model: sam2_hf\.compat reproduces the "
        r"original sam2 package's API, which has no SAM 3 .* sam2_hf\.Sam2Predictor, "
        r"MaskGenerator or VideoTracker \.from_pretrained\('sam3'\)"
    )
    with pytest.raises(ValueError, match=message):
        SAM2ImagePredictor.from_pretrained(str(sam3_checkpoint), device="cpu")
    with pytest.raises(ValueError, match=message):
        build_sam2_video_predictor_hf(str(sam3_checkpoint), device="cpu")
    with pytest.raises(ValueError, match=message):
        SAM2AutomaticMaskGenerator(load_model(sam3_checkpoint, device="cpu"))
    video = load_model(sam3_checkpoint, task="video", device="cpu")
    with pytest.raises(ValueError, match=message):
        SAM2VideoPredictor(video.model)
    assert isinstance(video.model, torch.nn.Module)
