"""The contract between ``sam2_hf.compat._internals`` and the rest of sam2_hf: each internal it
reads is named here, so a refactor that moves one fails in this file, not in a user's run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import Sam2Model

from sam2_hf import Sam2Predictor, VideoTracker
from sam2_hf.compat import _internals


@pytest.fixture(scope="module")
def tracker(video_checkpoint: Path) -> VideoTracker:
    return VideoTracker.from_pretrained(video_checkpoint, device="cpu", progress=False)


def test_encode_is_the_engine_batch_encoder(predictor: Sam2Predictor) -> None:
    images = [np.zeros((20, 30, 3), np.uint8), np.full((16, 16, 3), 200, np.uint8)]
    levels = _internals.encode(predictor, images)
    assert [level.shape[0] for level in levels] == [2, 2, 2]
    assert levels[-1].shape[-2:] == (8, 8)  # the tiny model's 128 / 16
    alone = _internals.encode(predictor, images[1:])
    torch.testing.assert_close(alone[-1][0], levels[-1][1], atol=1e-5, rtol=0)


def test_follow_model_moves_the_engine_with_its_model(video_checkpoint: Path) -> None:
    predictor = Sam2Predictor.from_pretrained(video_checkpoint, device="cpu")
    assert predictor.engine.device == torch.device("cpu")
    _internals.follow_model(predictor, torch.device("meta"))
    assert predictor.device == predictor.engine.device == torch.device("meta")


def test_session_internals(tracker: VideoTracker) -> None:
    frames = [np.zeros((24, 32, 3), np.uint8)] * 3
    session = tracker.open(frames)
    state = _internals.session_state(session)
    assert state.get_frame(0).shape[-2:] == (128, 128)
    session.add(0, 5, points=[(10, 10)])
    session.add(1, 6, box=(0, 0, 20, 20))
    assert _internals.prompted_frames(session, 5) == {0}
    assert _internals.conditioning_frames(session, 6) == {1}
    logits = _internals.frame_logits(session, 0)
    assert list(logits) == [5] and logits[5].shape == (1, 1, 32, 32)
    list(session.propagate())
    assert set(_internals.frame_logits(session, 2)) == {5, 6}
    assert _internals.conditioning_frames(session, 5) == {0}


def test_image_model_of_a_video_model_shares_its_weights(tracker: VideoTracker) -> None:
    image = _internals.image_model_of(tracker.model)
    assert type(image) is Sam2Model
    shared = image.mask_decoder.iou_token.weight
    assert shared.data_ptr() == tracker.model.mask_decoder.iou_token.weight.data_ptr()


def test_loaded_from_rejects_other_things() -> None:
    with pytest.raises(TypeError, match="build_sam2"):
        _internals.loaded_from("facebook/sam2.1-hiera-tiny", "image")
