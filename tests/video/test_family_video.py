"""VideoTracker on EdgeTAM and SAM 3 tracker checkpoints (issue 14).

Per family, on conftest's tiny hub-shaped checkpoints: the package's masks equal transformers'
own session calls (the family's processor, session class and video model); streaming equals
the whole video with bounded memory; the original's rules apply where the family's reference
predictor has them (SAM 3's tracker does not feed a correction click the previous mask); the
contract's copy of ``_use_mask_as_output`` equals each family's; and an image-only checkpoint
asked to track gets an error naming the family and the fix.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import transformers
from conftest import make_frames
from video_helpers import (
    N_FRAMES,
    H,
    W,
    assert_points_and_boxes_equal_raw_session_calls,
    raw_masks,
    raw_session,
    tracker_family,
    transformers_mask_as_output,
)

from sam2_hf import VideoTracker, load_model
from sam2_hf.engine import video_contract as contract
from sam2_hf.engine.registry import FAMILIES

FAMILY = {"edgetam": "edgetam", "sam3": "sam3_tracker"}
FIXTURES = {"edgetam": "edgetam_checkpoint", "sam3": "sam3_checkpoint"}
HUB_IDS = {"edgetam": "yonigozlan/EdgeTAM-hf", "sam3": "facebook/sam3"}


@pytest.fixture(scope="module", params=list(FIXTURES))
def name(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def checkpoint(request, name: str) -> Path:
    return request.getfixturevalue(FIXTURES[name])


@pytest.fixture(scope="module")
def tracker(checkpoint: Path) -> VideoTracker:
    return VideoTracker.from_pretrained(checkpoint, device="cpu", fill_hole_area=0, progress=False)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return make_frames(N_FRAMES)


class Spy:
    """Records the keyword arguments of every call to one method of a transformers class."""

    def __init__(self, monkeypatch, cls: type, method: str) -> None:
        self.calls: list[dict] = []
        original = getattr(cls, method)

        def spy(model, *args, **kwargs):
            self.calls.append(kwargs)
            return original(model, *args, **kwargs)

        monkeypatch.setattr(cls, method, spy)


# ------------------------------------------------------------------ loading


def test_tracker_runs_the_familys_video_model_and_session(tracker, name, frames) -> None:
    family = FAMILIES[FAMILY[name]]
    assert type(tracker.model).__name__ == family.video_model
    assert type(tracker.processor).__name__ == family.video_processor
    session = tracker.open(frames)
    assert type(session._state).__name__ == family.video_session
    assert contract.contract_problems(tracker.model) == []


def test_tracker_loads_each_family_by_hub_id(families_hub_cache, name) -> None:
    tracker = VideoTracker.from_pretrained(
        name, device="cpu", cache_dir=families_hub_cache, progress=False
    )
    assert type(tracker.model).__name__ == FAMILIES[FAMILY[name]].video_model
    by_id = VideoTracker.from_pretrained(
        HUB_IDS[name], device="cpu", cache_dir=families_hub_cache, progress=False
    )
    assert type(by_id.model) is type(tracker.model)


# ------------------------------------------------------------------ equivalence


def test_points_and_boxes_equal_raw_transformers_session_calls(tracker, frames) -> None:
    assert_points_and_boxes_equal_raw_session_calls(
        tracker, frames, tracker.model, tracker.processor
    )


def test_reverse_equals_raw_transformers(tracker, frames) -> None:
    session = tracker.open(frames)
    session.add(frame_idx=4, obj_id=5, points=[(30, 20)])
    ours = list(session.propagate(reverse=True))
    state = raw_session(tracker, frames)
    with torch.inference_mode():
        tracker.processor.add_inputs_to_inference_session(
            state, 4, 5, input_points=[[[[30, 20]]]], input_labels=[[[1]]]
        )
        tracker.model(state, frame_idx=4)
        reference = [tracker.model(state, frame_idx=i, reverse=True) for i in (4, 3, 2, 1, 0)]
    assert [r.frame_idx for r in ours] == [4, 3, 2, 1, 0]
    for result, expected in zip(ours, reference, strict=True):
        np.testing.assert_array_equal(
            result.stack(), raw_masks(tracker.processor, expected.pred_masks)
        )


def test_streaming_equals_the_whole_video_and_stays_bounded(tracker) -> None:
    config = tracker.model.config
    keep = max(config.num_maskmem - 1, config.max_object_pointers_in_encoder - 1, 1)
    frames = make_frames(keep + 5, seed=1)
    stream = tracker.stream()
    assert stream.push(frames[0]).obj_ids == []
    streamed, held, stored_bytes = [stream.add(obj_id=1, points=[(20, 20)])], [], []
    for frame in frames[1:]:
        streamed.append(stream.push(frame))
        held.append(len(stream.stored_frames))
        stored_bytes.append(stream.stored_bytes)
    assert max(held) == keep + 1  # the prompted frame and the last `keep` tracked frames
    assert stored_bytes[-1] == stored_bytes[keep]

    session = tracker.open(frames)
    session.add(frame_idx=0, obj_id=1, points=[(20, 20)])
    for ours, expected in zip(streamed, session.propagate(), strict=True):
        assert ours.frame_idx == expected.frame_idx
        assert ours.stack().any()
        np.testing.assert_array_equal(ours.stack(), expected.stack())


# ------------------------------------------------------------------ the original's rules


def test_correction_click_feeds_the_previous_mask_only_where_the_reference_does(
    monkeypatch, tracker, name, frames
) -> None:
    """EdgeTAM (SAM 2's predictor code): yes. SAM 3's tracker: no (its reference predictor
    sets ``iter_use_prev_mask_pred = False``)."""
    session = tracker.open(frames)
    session.add(frame_idx=0, obj_id=1, points=[(20, 20)])
    list(session.propagate())
    previous = contract.low_res_logits(session._state, 1, 3).clone()
    spy = Spy(monkeypatch, type(tracker.model), "_single_frame_forward")
    session.add(frame_idx=3, obj_id=1, points=[(15, 40)], labels=[0])
    (call,) = spy.calls
    if name == "edgetam":
        torch.testing.assert_close(call["input_masks"], previous.clamp(-32, 32), rtol=0, atol=0)
    else:
        assert call["input_masks"] is None


def test_mask_prompt_decodes_one_mask_and_remembers_the_low_res_mask(
    monkeypatch, tracker, frames
) -> None:
    """Rules 3 and 4 for every family: the pointer from a single-mask decoder pass, the memory
    from the low-res mask upsampled to the input size and binarised."""
    mask = np.zeros((H, W), bool)
    mask[10:30, 30:50] = True
    model_cls = type(tracker.model)
    decoder = Spy(monkeypatch, model_cls, "_single_frame_forward")
    memory = Spy(monkeypatch, model_cls, "_encode_new_memory")
    session = tracker.open(frames)
    session.add(frame_idx=0, obj_id=1, mask=mask)
    assert [c["multimask_output"] for c in decoder.calls] == [False]
    (call,) = memory.calls
    side = tracker.model.image_size
    low_res = contract.low_res_logits(session._state, 1, 0)
    expected = F.interpolate(low_res, size=(side, side), mode="bilinear")
    torch.testing.assert_close(call["pred_masks_high_res"], expected, rtol=0, atol=0)
    assert call["is_mask_from_pts"] is True
    assert list(session.propagate())[-1].stack().any()


def test_mask_as_output_is_the_familys_use_mask_as_output(tracker, frames) -> None:
    """The contract's copy equals each family's transformers method with the decoder's default
    (multimask_output=True), shapes included."""
    mask = np.zeros((H, W), bool)
    mask[8:30, 10:40] = True
    model = tracker.model
    state = raw_session(tracker, frames)
    tracker.processor.add_inputs_to_inference_session(state, 0, 1, input_masks=mask)
    mask_inputs = state.mask_inputs_per_obj[0][0]
    unsqueeze = contract.FAMILY_VIDEO[tracker_family(tracker)].mask_score_unsqueezed
    feats, theirs = transformers_mask_as_output(model, state, mask_inputs)
    with torch.inference_mode():
        ours = contract._mask_as_output(
            model, feats, mask_inputs, multimask_output=True, unsqueeze_score=unsqueeze
        )
    for key in contract.STEP_OUTPUT_KEYS:
        assert torch.equal(ours[key], getattr(theirs, key)), key


# ------------------------------------------------------------------ errors


def test_image_only_checkpoint_for_video_names_the_family_and_the_fix(
    checkpoint, name, tmp_path
) -> None:
    image = load_model(checkpoint, device="cpu")
    image.model.save_pretrained(tmp_path)
    image.processor.save_pretrained(tmp_path)
    family = FAMILIES[FAMILY[name]]
    expected = f"is an image-only {re.escape(family.title)} checkpoint"
    with pytest.raises(ValueError, match=expected) as caught:
        VideoTracker.from_pretrained(tmp_path, device="cpu")
    assert f"such as {name!r} ({HUB_IDS[name]})" in str(caught.value)
    with pytest.raises(TypeError) as caught:
        VideoTracker(image)  # an image model handed over directly
    assert str(caught.value) == (
        f"{family.image_model} is a {family.title} image model; videos need the family's video "
        f"model {family.video_model}: load a {family.title} video checkpoint with task='video', "
        f"such as {name!r} ({HUB_IDS[name]})"
    )


def test_every_family_video_class_is_in_transformers() -> None:
    for family in FAMILIES.values():
        model_cls, session_cls = contract.family_classes(family)
        assert model_cls is getattr(transformers, family.video_model)
        assert contract.contract_problems(family=family) == [], family.name
        assert session_cls().obj_ids == []
