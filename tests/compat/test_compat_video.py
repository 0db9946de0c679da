"""``sam2_hf.compat.SAM2VideoPredictor`` against the original sam2 on the same random weights:
every call returns the same ``(frame_idx, obj_ids, video_res_masks)``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("sam2")
# The original builds its image transforms with torch.jit.script, which torch now deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")

from original_sam2 import (  # noqa: E402
    CONFIG,
    TINY_OVERRIDES,
    Originals,
    original_on_cpu,
    originals,
    quiet_tqdm,
    write_frames,
)

from sam2_hf.compat import SAM2VideoPredictor, build_sam2_video_predictor  # noqa: E402

H, W = 48, 64


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Originals:
    quiet_tqdm()
    return originals(tmp_path_factory.mktemp("original"))


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_frames(tmp_path_factory.mktemp("frames"), count=5, height=H, width=W)


@pytest.fixture(scope="module")
def compat(tiny: Originals) -> SAM2VideoPredictor:
    return build_sam2_video_predictor(
        CONFIG, tiny.checkpoint, device="cpu", hydra_overrides_extra=TINY_OVERRIDES
    )


@pytest.fixture
def states(tiny: Originals, compat: SAM2VideoPredictor, frames: Path):
    """(original predictor, its state, compat predictor, its state), the original patched to
    run on the CPU as on a GPU (hole filling, float32 memory attention)."""
    with original_on_cpu():
        yield (
            tiny.video_predictor,
            tiny.video_predictor.init_state(str(frames)),
            compat,
            (compat.init_state(str(frames))),
        )


def assert_same(theirs: tuple, mine: tuple) -> None:
    """Same frame, same object ids, same logits (N, 1, H, W) float32 on the model's device."""
    assert type(mine) is tuple and len(mine) == 3
    assert mine[0] == theirs[0]
    assert list(mine[1]) == list(theirs[1])
    masks, reference = mine[2], theirs[2]
    assert isinstance(masks, torch.Tensor) and masks.dtype == torch.float32
    assert masks.shape == reference.shape == (len(theirs[1]), 1, H, W)
    assert masks.device == reference.device
    torch.testing.assert_close(masks, reference, atol=1e-4, rtol=0)
    mine_fg = (masks > 0.0).cpu().numpy()  # the notebooks' idiom
    theirs_fg = (reference > 0.0).cpu().numpy()
    union = (mine_fg | theirs_fg).sum()
    assert union == 0 or (mine_fg & theirs_fg).sum() / union >= 0.999


def propagate_both(original, original_state, compat, compat_state, **kwargs) -> list[int]:
    theirs = list(original.propagate_in_video(original_state, **kwargs))
    mine = list(compat.propagate_in_video(compat_state, **kwargs))
    assert len(mine) == len(theirs)
    for a, b in zip(theirs, mine, strict=True):
        assert_same(a, b)
    return [frame for frame, _, _ in mine]


def test_points_box_and_mask_prompts_then_propagation(states) -> None:
    original, original_state, compat, compat_state = states
    calls = [
        ("add_new_points_or_box", dict(frame_idx=0, obj_id=1, points=[[30, 20]], labels=[1])),
        ("add_new_points_or_box", dict(frame_idx=0, obj_id=2, box=[0, 0, 20, 20])),
        (
            "add_new_points_or_box",
            dict(frame_idx=0, obj_id=4, box=[30, 5, 60, 40], points=[[45, 20]], labels=[1]),
        ),
    ]
    mask = np.zeros((H, W), bool)
    mask[30:45, 5:25] = True
    for name, kwargs in calls:
        assert_same(
            getattr(original, name)(original_state, **kwargs),
            getattr(compat, name)(compat_state, **kwargs),
        )
    assert_same(
        original.add_new_mask(original_state, 2, 3, mask),
        compat.add_new_mask(compat_state, 2, 3, mask),
    )
    assert compat_state["obj_ids"] == [1, 2, 4, 3]
    frames = propagate_both(original, original_state, compat, compat_state)
    assert frames == [0, 1, 2, 3, 4]
    # Masks are not trivial: the comparisons above prove something.
    _, _, logits = compat.add_new_points_or_box(
        compat_state, frame_idx=0, obj_id=1, points=[[30, 20]], labels=[1]
    )
    original.add_new_points_or_box(
        original_state, frame_idx=0, obj_id=1, points=[[30, 20]], labels=[1]
    )
    assert 0 < (logits > 0).float().mean() < 1


def test_corrections_after_propagation_and_reverse(states) -> None:
    original, original_state, compat, compat_state = states
    for predictor, state in ((original, original_state), (compat, compat_state)):
        predictor.add_new_points_or_box(state, frame_idx=1, obj_id=1, points=[[30, 20]], labels=[1])
        predictor.add_new_points_or_box(state, frame_idx=1, obj_id=2, points=[[10, 40]], labels=[1])
    propagate_both(original, original_state, compat, compat_state)
    # A negative click on a tracked frame, added to the earlier clicks: a correction.
    correction = dict(frame_idx=3, obj_id=1, points=[[40, 25]], labels=[0], clear_old_points=False)
    assert_same(
        original.add_new_points_or_box(original_state, **correction),
        compat.add_new_points_or_box(compat_state, **correction),
    )
    assert propagate_both(original, original_state, compat, compat_state, start_frame_idx=3) == [
        3,
        4,
    ]
    reverse = dict(start_frame_idx=4, reverse=True, max_frame_num_to_track=2)
    assert propagate_both(original, original_state, compat, compat_state, **reverse) == [4, 3, 2]
    # Backwards from the first prompted frame to frame 0, then nothing before frame 0.
    assert propagate_both(original, original_state, compat, compat_state, reverse=True) == [1, 0]
    assert (
        propagate_both(
            original, original_state, compat, compat_state, start_frame_idx=0, reverse=True
        )
        == []
    )


def test_normalized_coordinates_and_tensors(states) -> None:
    original, original_state, compat, compat_state = states
    prompt = dict(
        frame_idx=0,
        obj_id=5,
        points=torch.tensor([[0.5, 0.4]]),
        labels=torch.tensor([1], dtype=torch.int32),
        normalize_coords=False,
    )
    assert_same(
        original.add_new_points(original_state, **prompt),
        compat.add_new_points(compat_state, **prompt),
    )
    propagate_both(original, original_state, compat, compat_state, max_frame_num_to_track=1)


def test_remove_object_clear_prompts_and_reset(states) -> None:
    original, original_state, compat, compat_state = states
    for predictor, state in ((original, original_state), (compat, compat_state)):
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, points=[[30, 20]], labels=[1])
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=2, box=[0, 0, 20, 20])
        predictor.add_new_points_or_box(state, frame_idx=2, obj_id=2, points=[[9, 9]], labels=[1])
    propagate_both(original, original_state, compat, compat_state)
    theirs = original.remove_object(original_state, 2)
    mine = compat.remove_object(compat_state, 2)
    assert mine[0] == list(theirs[0]) == [1]
    assert [frame for frame, _ in mine[1]] == [frame for frame, _ in theirs[1]] == [0, 2]
    for (frame, a), (_, b) in zip(theirs[1], mine[1], strict=True):
        assert_same((frame, [1], a), (frame, [1], b))
    assert compat.remove_object(compat_state, 99) == ([1], [])
    with pytest.raises(RuntimeError, match="Cannot remove object id 99"):
        compat.remove_object(compat_state, 99, strict=True)
    propagate_both(original, original_state, compat, compat_state)

    assert_same(
        original.clear_all_prompts_in_frame(original_state, 0, 1),
        compat.clear_all_prompts_in_frame(compat_state, 0, 1),
    )
    with pytest.raises(RuntimeError, match="No input points or masks are provided for object"):
        compat.propagate_in_video_preflight(compat_state)

    original.reset_state(original_state)
    compat.reset_state(compat_state)
    assert compat_state["obj_ids"] == list(original_state["obj_ids"]) == []
    with pytest.raises(RuntimeError, match="No input points or masks are provided for any"):
        next(compat.propagate_in_video(compat_state))
    prompt = dict(frame_idx=1, obj_id=7, points=[[30, 20]], labels=[1])
    assert_same(
        original.add_new_points_or_box(original_state, **prompt),
        compat.add_new_points_or_box(compat_state, **prompt),
    )
    assert compat.remove_object(compat_state, 7) == ([], [])  # the last one: a reset


def test_inference_state_keys(states) -> None:
    _, original_state, _, compat_state = states
    for key in ("num_frames", "video_height", "video_width", "offload_video_to_cpu", "obj_ids"):
        assert compat_state[key] == original_state[key]
    assert compat_state["device"] == torch.device("cpu")
    assert len(compat_state["images"]) == 5
    assert tuple(compat_state["images"][0].shape) == tuple(original_state["images"][0].shape)


def test_input_errors(states) -> None:
    _, _, compat, compat_state = states
    with pytest.raises(ValueError, match="points and labels must be provided together"):
        compat.add_new_points_or_box(compat_state, 0, 1, points=[[1, 1]])
    with pytest.raises(ValueError, match="at least one of points or box"):
        compat.add_new_points_or_box(compat_state, 0, 1)
    with pytest.raises(ValueError, match="cannot add box without clearing old points"):
        compat.add_new_points_or_box(compat_state, 0, 1, box=[0, 0, 5, 5], clear_old_points=False)
    with pytest.raises(TypeError, match="init_state"):
        compat.add_new_points_or_box({}, 0, 1, points=[[1, 1]], labels=[1])
