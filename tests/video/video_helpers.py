"""What the video tests of every family share: transformers' own session calls as
the reference the tracker is compared with."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import FRAME_HW

from sam2_hf import VideoTracker
from sam2_hf.engine import video_contract
from sam2_hf.engine.registry import FAMILIES
from sam2_hf.results import FrameMasks

H, W = FRAME_HW
N_FRAMES = 6


def tracker_family(tracker: VideoTracker) -> str:
    family = video_contract.model_family(tracker.model)
    assert family is not None
    return family.name


def raw_session(tracker: VideoTracker, frames: list[np.ndarray]):
    """The family's own transformers session over the tracker's preprocessed frames."""
    _, session_cls = video_contract.family_classes(FAMILIES[tracker_family(tracker)])
    pixels = torch.stack([tracker._preprocess(f) for f in frames])
    return session_cls(video=pixels, video_height=H, video_width=W, dtype=torch.float32)


def raw_masks(processor, pred_masks: torch.Tensor) -> np.ndarray:
    """(N, H, W) bool: transformers' post-processing of one frame's ``pred_masks``."""
    (masks,) = processor.post_process_masks([pred_masks], [[H, W]], binarize=True)
    return masks[:, 0].numpy()


def assert_points_and_boxes_equal_raw_session_calls(
    tracker: VideoTracker, frames: list[np.ndarray], model, processor
) -> list[tuple[FrameMasks, list[float]]]:
    """Two objects (clicks; a box) prompted on frame 0 and propagated: the tracker's masks and
    scores equal ``model``'s own session calls. Returns each frame's result with the raw
    object scores, for checks of one family."""
    session = tracker.open(frames)
    session.add(frame_idx=0, obj_id=1, points=[(20, 20), (40, 25)], labels=[1, 0])
    session.add(frame_idx=0, obj_id=2, box=(30, 5, 60, 40))
    ours = list(session.propagate())

    state = raw_session(tracker, frames)
    with torch.inference_mode():
        processor.add_inputs_to_inference_session(
            state, 0, 1, input_points=[[[[20, 20], [40, 25]]]], input_labels=[[[1, 0]]]
        )
        model(state, frame_idx=0)  # the model must run after each object's prompt
        processor.add_inputs_to_inference_session(state, 0, 2, input_boxes=[[[30, 5, 60, 40]]])
        model(state, frame_idx=0)
        reference = [model(state, frame_idx=i) for i in range(len(frames))]

    assert [r.frame_idx for r in ours] == list(range(len(frames)))
    checked = []
    for result, expected in zip(ours, reference, strict=True):
        assert result.obj_ids == [1, 2] == expected.object_ids
        expected_masks = raw_masks(processor, expected.pred_masks)
        assert expected_masks.any()  # a non-trivial comparison
        np.testing.assert_array_equal(result.stack(), expected_masks)
        scores = expected.object_score_logits.reshape(-1).tolist()
        assert [result.scores[1], result.scores[2]] == pytest.approx(scores, abs=0)
        checked.append((result, scores))
    return checked


def transformers_mask_as_output(model, session, mask_inputs: torch.Tensor):
    """Frame 0's vision features, and transformers' own ``_use_mask_as_output`` on them: the
    reference for the contract's copy, ``video_contract._mask_as_output``."""
    with torch.inference_mode():
        feats, _ = model._prepare_vision_features(session, 0, batch_size=1)
        sizes = model.backbone_feature_sizes
        high_res = [
            x.permute(1, 2, 0).view(x.size(1), x.size(2), *s)
            for x, s in zip(feats[:-1], sizes[:-1], strict=True)
        ]
        pix_feat = feats[-1].permute(1, 2, 0).view(-1, model.hidden_dim, *sizes[-1])
        return feats, model._use_mask_as_output(pix_feat, high_res, mask_inputs)
