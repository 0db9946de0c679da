"""VideoTracker on a tiny random video model: equivalence with transformers' session calls,
the original SAM 2 rules where the two differ, streaming memory, frame IO and exports."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import IMAGE_SIZE, make_frames
from PIL import Image
from transformers import (
    Sam2VideoModel,
    Sam2VideoProcessor,
    Sam2VideoVideoProcessor,
)
from video_helpers import (
    N_FRAMES,
    H,
    W,
    assert_points_and_boxes_equal_raw_session_calls,
    raw_masks,
    raw_session,
)

from sam2_hf import video_io
from sam2_hf.engine import video_contract
from sam2_hf.formats.coco import from_coco_rle
from sam2_hf.video.tracker import FrameMasks, VideoTracker, _fill_holes, track_video


@pytest.fixture(scope="module")
def checkpoint(video_checkpoint: Path) -> Path:
    """conftest's hub-shaped tiny video checkpoint (objects biased to "present")."""
    return video_checkpoint


@pytest.fixture(scope="module")
def tracker(checkpoint: Path) -> VideoTracker:
    return VideoTracker.from_pretrained(checkpoint, device="cpu", fill_hole_area=0, progress=False)


@pytest.fixture(scope="module")
def raw(checkpoint: Path) -> tuple[Sam2VideoModel, Sam2VideoProcessor]:
    """The same checkpoint as plain transformers objects, for reference runs."""
    model = Sam2VideoModel.from_pretrained(checkpoint).eval()
    return model, Sam2VideoProcessor.from_pretrained(checkpoint)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return make_frames(N_FRAMES)


def low_res(session, obj_id: int, frame_idx: int) -> torch.Tensor:
    return video_contract.low_res_logits(session._state, obj_id, frame_idx)


def test_open_list_gives_session_of_frames(tracker: VideoTracker, frames) -> None:
    session = tracker.open(frames)
    assert len(session) == N_FRAMES
    assert session.size == (H, W)
    assert session.obj_ids == []


def test_folder_frames_sort_naturally(tmp_path: Path) -> None:
    for value, name in ((1, "frame2.png"), (2, "frame10.png"), (0, "frame1.jpg")):
        Image.fromarray(np.full((8, 6, 3), value * 100, np.uint8)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not a frame")
    frames = video_io.read_frames(tmp_path)
    assert len(frames) == 3
    assert [int(round(f.mean() / 100)) for f in frames] == [0, 1, 2]


def test_video_file_is_decoded(tmp_path: Path, frames) -> None:
    results = [FrameMasks(i, {}, {}, {}) for i in range(len(frames))]
    path = video_io.write_overlay(frames, results, tmp_path / "clip.mp4", fps=5)
    decoded = video_io.read_frames(path)
    assert len(decoded) == len(frames)
    assert decoded.size == (H, W)
    assert decoded[0].dtype == np.uint8


def test_bad_videos_are_explained(tmp_path: Path, tracker: VideoTracker, frames) -> None:
    with pytest.raises(ValueError, match="has no frames"):
        tracker.open(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tracker.open(tmp_path / "missing.mp4")
    (tmp_path / "broken.mp4").write_text("not a video")
    with pytest.raises(ValueError, match="cannot be read as a video"):
        tracker.open(tmp_path / "broken.mp4")
    with pytest.raises(ValueError, match=r"video\[1\] is \(40, 64\), video\[0\] is \(48, 64\)"):
        tracker.open([frames[0], frames[1][:40]])
    with pytest.raises(ValueError, match="has no frames"):
        tracker.open([])


def test_missing_pyav_says_how_to_install(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "av", None)
    (tmp_path / "clip.mp4").write_bytes(b"\0")
    with pytest.raises(ImportError, match=r'pip install "sam2-hf\[video\]"'):
        video_io.read_frames(tmp_path / "clip.mp4")


def test_preprocessing_is_pil_bicubic_then_the_processors_normalisation(
    tracker: VideoTracker, frames
) -> None:
    resized = [
        np.asarray(Image.fromarray(f).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC))
        for f in frames[:2]
    ]
    expected = Sam2VideoVideoProcessor(do_resize=False)(videos=[resized], return_tensors="pt")
    ours = torch.stack([tracker._preprocess(f) for f in frames[:2]])
    torch.testing.assert_close(ours, expected["pixel_values_videos"][0], atol=1e-5, rtol=0)


# ------------------------------------------------------------------ tracking


def test_equivalent_to_raw_transformers_session_calls(tracker, raw, frames) -> None:
    # ``raw`` is the checkpoint loaded again as plain transformers objects.
    model, processor = raw
    for result, scores in assert_points_and_boxes_equal_raw_session_calls(
        tracker, frames, model, processor
    ):
        assert result.present == {1: scores[0] > 0, 2: scores[1] > 0}


def test_reverse_equivalent_to_raw_and_visits_frames_backwards(tracker, raw, frames) -> None:
    model, processor = raw
    session = tracker.open(frames)
    session.add(frame=4, obj_id=5, points=[(30, 20)])
    ours = list(session.propagate(reverse=True))
    state = raw_session(tracker, frames)
    with torch.inference_mode():
        processor.add_inputs_to_inference_session(
            state, 4, 5, input_points=[[[[30, 20]]]], input_labels=[[[1]]]
        )
        model(state, frame_idx=4)
        reference = [model(state, frame_idx=i, reverse=True) for i in (4, 3, 2, 1, 0)]
    assert [r.frame_idx for r in ours] == [4, 3, 2, 1, 0]
    for result, expected in zip(ours, reference, strict=True):
        np.testing.assert_array_equal(result.stack(), raw_masks(processor, expected.pred_masks))


def test_masks_shapes_ids_and_order(tracker: VideoTracker, frames) -> None:
    session = tracker.open(frames)
    first = session.add(frame=0, obj_id=7, points=[(20, 20)])
    assert first.obj_ids == [7]
    session.add(frame=2, obj_id=3, box=(5, 5, 40, 40))
    mask = np.zeros((H, W), bool)
    mask[10:30, 30:50] = True
    on_frame = session.add(frame=0, obj_id=11, mask=mask)
    assert on_frame.obj_ids == [7, 11]  # object 3 has no result on frame 0 yet
    results = list(session.propagate(max_frames=3))
    assert [r.frame_idx for r in results] == [0, 1, 2]
    for _, masks in results:  # unpacks as (frame_idx, masks)
        assert list(masks) == [7, 3, 11]  # the order the objects were first prompted
        for m in masks.values():
            assert m.shape == (H, W) and m.dtype == bool
    assert results[2].stack().shape == (3, H, W)
    assert set(results[1].present) == {7, 3, 11}


def test_masks_are_resized_once_like_the_original(tracker: VideoTracker, frames) -> None:
    """The original resizes the low-res logits straight to the frame size (bilinear)."""
    session = tracker.open(frames)
    result = session.add(frame=0, obj_id=1, points=[(20, 20)])
    logits = F.interpolate(low_res(session, 1, 0), size=(H, W), mode="bilinear")
    assert result.masks[1].any()
    np.testing.assert_array_equal(result.masks[1], (logits[0, 0] > 0).numpy())


def test_both_directions_from_a_middle_frame(tracker: VideoTracker, frames) -> None:
    session = tracker.open(frames)
    session.add(frame=2, obj_id=1, points=[(25, 20)])
    order = [r.frame_idx for r in session.propagate(both_directions=True)]
    assert order == [2, 3, 4, 5, 1, 0]
    assert [r.frame_idx for r in session.propagate(start=3, max_frames=2)] == [3, 4]
    order = [r.frame_idx for r in session.propagate(start=3, max_frames=2, both_directions=True)]
    assert order == [3, 4, 2, 1]


def test_correction_changes_later_frames_not_earlier(tracker: VideoTracker, frames) -> None:
    session = tracker.open(frames)
    session.add(frame=0, obj_id=1, points=[(20, 20)])
    list(session.propagate())
    before = {i: low_res(session, 1, i).clone() for i in range(N_FRAMES)}
    session.add(frame=3, obj_id=1, points=[(15, 40)], labels=[0])
    corrected = low_res(session, 1, 3).clone()
    assert not torch.equal(corrected, before[3])
    list(session.propagate(start=4))  # as in the original: from the frame after the click
    for i in range(3):
        assert torch.equal(low_res(session, 1, i), before[i])
    assert torch.equal(low_res(session, 1, 3), corrected)
    for i in range(4, N_FRAMES):
        assert not torch.equal(low_res(session, 1, i), before[i])


def test_corrections_as_conditioning_frames_survive_propagation(checkpoint, frames) -> None:
    tracker = VideoTracker.from_pretrained(
        checkpoint, device="cpu", fill_hole_area=0, add_all_frames_to_correct_as_cond=True
    )
    session = tracker.open(frames)
    session.add(frame=0, obj_id=1, points=[(20, 20)])
    list(session.propagate())
    before = {i: low_res(session, 1, i).clone() for i in range(N_FRAMES)}
    session.add(frame=3, obj_id=1, points=[(15, 40)], labels=[0])
    corrected = low_res(session, 1, 3).clone()
    list(session.propagate())  # from frame 0, over the corrected frame
    assert torch.equal(low_res(session, 1, 0), before[0])
    assert torch.equal(low_res(session, 1, 3), corrected)
    # Frames 1-2 change too: every frame reads all conditioning frames' memories, later
    # ones included, as in the original.
    for i in range(4, N_FRAMES):
        assert not torch.equal(low_res(session, 1, i), before[i])


def test_remove_object_leaves_the_others_as_if_it_never_was(tracker, frames) -> None:
    session = tracker.open(frames)
    session.add(frame=0, obj_id=1, points=[(20, 20)])
    session.add(frame=0, obj_id=2, points=[(40, 30)])
    session.add(frame=1, obj_id=3, box=(5, 5, 30, 30))
    session.remove_object(2)
    assert session.obj_ids == [1, 3]
    ours = list(session.propagate())

    alone = tracker.open(frames)
    alone.add(frame=0, obj_id=1, points=[(20, 20)])
    alone.add(frame=1, obj_id=3, box=(5, 5, 30, 30))
    for result, expected in zip(ours, alone.propagate(), strict=True):
        assert result.obj_ids == [1, 3]
        np.testing.assert_array_equal(result.stack(), expected.stack())
    with pytest.raises(ValueError, match=r"obj_id 2 is not tracked; tracked ids: \[1, 3\]"):
        session.remove_object(2)


def test_clear_frame_and_reset(tracker: VideoTracker, frames) -> None:
    session = tracker.open(frames)
    session.add(frame=0, obj_id=1, points=[(20, 20)])
    session.add(frame=2, obj_id=1, points=[(30, 20)])
    session.clear_frame(2)
    assert [r.frame_idx for r in session.propagate()] == list(range(N_FRAMES))
    session.clear_frame(0, obj_id=1)
    with pytest.raises(RuntimeError, match=r"objects \[1\] have no prompt left"):
        list(session.propagate())
    session.reset()
    assert session.obj_ids == []
    with pytest.raises(RuntimeError, match=r"Call add\(...\)"):
        session.propagate()


def test_bad_prompts_are_explained(tracker: VideoTracker, checkpoint: Path, frames) -> None:
    session = tracker.open(frames)
    with pytest.raises(ValueError, match=r"frame_idx must be a frame index in \[0, 5\].*got 6"):
        session.add(frame=6, obj_id=1, points=[(1, 1)])
    with pytest.raises(ValueError, match=r"mask must have the frame's shape \(H, W\) = \(48, 64\)"):
        session.add(frame=0, obj_id=1, mask=np.ones((10, 10), bool))
    with pytest.raises(ValueError, match="obj_id 4 is not tracked"):
        session.add(frame=0, obj_id=4, points=[(5, 5)], labels=[0])
    with pytest.raises(ValueError, match="point_coords must lie inside the image"):
        session.add(frame=0, obj_id=1, points=[(100, 5)])
    with pytest.raises(ValueError, match="either mask or points/box"):
        session.add(frame=0, obj_id=1, points=[(5, 5)], mask=np.ones((H, W), bool))
    with pytest.raises(TypeError, match="obj_id must be an int"):
        session.add(frame=0, obj_id="a", points=[(5, 5)])
    with pytest.raises(ValueError, match="start must be a frame index"):
        session.propagate(start=-1)
    with pytest.raises(ValueError, match="fill_hole_area must be >= 0"):
        VideoTracker.from_pretrained(checkpoint, device="cpu", fill_hole_area=-1)


# ------------------------------------------------------------------ the original's rules


class Spy:
    """Records the keyword arguments of every call to one of Sam2VideoModel's methods.

    Patched on transformers' class, so it sees what _OriginalRules hands transformers.
    """

    def __init__(self, monkeypatch, name: str) -> None:
        self.calls: list[dict] = []
        original = getattr(Sam2VideoModel, name)

        def spy(model, *args, **kwargs):
            self.calls.append(kwargs)
            return original(model, *args, **kwargs)

        monkeypatch.setattr(Sam2VideoModel, name, spy)


def test_rule1_correction_click_feeds_previous_logits(monkeypatch, tracker, raw, frames) -> None:
    session = tracker.open(frames)
    session.add(frame=0, obj_id=1, points=[(20, 20)])
    list(session.propagate())
    previous = low_res(session, 1, 3).clone()
    spy = Spy(monkeypatch, "_single_frame_forward")
    session.add(frame=3, obj_id=1, points=[(15, 40)], labels=[0])
    (call,) = spy.calls
    torch.testing.assert_close(call["input_masks"], previous.clamp(-32, 32), rtol=0, atol=0)

    # transformers on its own passes none: when this fails, upstream fixed it.
    model, processor = raw
    state = raw_session(tracker, frames)
    with torch.inference_mode():
        processor.add_inputs_to_inference_session(
            state, 0, 1, input_points=[[[[20, 20]]]], input_labels=[[[1]]]
        )
        for i in range(4):
            model(state, frame_idx=i)
        spy = Spy(monkeypatch, "_single_frame_forward")
        processor.add_inputs_to_inference_session(
            state, 3, 1, input_points=[[[[15, 40]]]], input_labels=[[[0]]]
        )
        model(state, frame_idx=3)
    assert spy.calls[0]["input_masks"] is None


def test_rule2_other_objects_untouched_by_a_click(tracker, raw, frames) -> None:
    session = tracker.open(frames)
    session.add(frame=0, obj_id=1, points=[(20, 20)])
    session.add(frame=0, obj_id=2, points=[(40, 30)])
    list(session.propagate())
    state = session._state
    untouched = state.output_dict_per_obj[1]["non_cond_frame_outputs"][3]
    session.add(frame=3, obj_id=1, points=[(15, 40)], labels=[0])
    assert state.output_dict_per_obj[1]["non_cond_frame_outputs"][3] is untouched

    # transformers re-runs object 2 and re-encodes its memory as if it had been clicked.
    model, processor = raw
    raw_state = raw_session(tracker, frames)
    with torch.inference_mode():
        for obj_id, point in ((1, [20, 20]), (2, [40, 30])):
            processor.add_inputs_to_inference_session(
                raw_state, 0, obj_id, input_points=[[[point]]], input_labels=[[[1]]]
            )
            model(raw_state, frame_idx=0)
        for i in range(1, 4):
            model(raw_state, frame_idx=i)
        before = raw_state.output_dict_per_obj[1]["non_cond_frame_outputs"][3]
        processor.add_inputs_to_inference_session(
            raw_state, 3, 1, input_points=[[[[15, 40]]]], input_labels=[[[0]]]
        )
        model(raw_state, frame_idx=3)
    assert raw_state.output_dict_per_obj[1]["non_cond_frame_outputs"][3] is not before


def test_rules3_and_4_mask_prompt(monkeypatch, tracker, raw, frames) -> None:
    mask = np.zeros((H, W), bool)
    mask[10:30, 30:50] = True
    decoder = Spy(monkeypatch, "_single_frame_forward")
    memory = Spy(monkeypatch, "_encode_new_memory")
    session = tracker.open(frames)
    session.add(frame=0, obj_id=1, mask=mask)
    assert [c["multimask_output"] for c in decoder.calls] == [False]  # rule 3
    (call,) = memory.calls
    expected = F.interpolate(low_res(session, 1, 0), size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear")
    torch.testing.assert_close(call["pred_masks_high_res"], expected, rtol=0, atol=0)  # rule 4
    assert call["is_mask_from_pts"] is True

    # transformers: multimask pointer, full-resolution input mask in memory.
    model, processor = raw
    state = raw_session(tracker, frames)
    decoder = Spy(monkeypatch, "_single_frame_forward")
    memory = Spy(monkeypatch, "_encode_new_memory")
    with torch.inference_mode():
        processor.add_inputs_to_inference_session(state, 0, 1, input_masks=mask)
        model(state, frame_idx=0)
    assert decoder.calls[0].get("multimask_output", True) is True
    assert not torch.equal(memory.calls[0]["pred_masks_high_res"], expected)


# ------------------------------------------------------------------ holes, streaming


def test_fill_holes_as_the_original() -> None:
    logits = torch.full((1, 1, 8, 8), 5.0)
    logits[0, 0, 2:4, 2:4] = -3.0  # a 4-pixel hole
    logits[0, 0, 5:8, 5:8] = -3.0  # a 9-pixel region touching the border
    filled = _fill_holes(logits, 8)
    assert torch.all(filled[0, 0, 2:4, 2:4] == 0.1)
    assert torch.all(filled[0, 0, 5:8, 5:8] == -3.0)
    assert torch.equal(_fill_holes(logits, 0), logits)
    assert torch.equal(logits[0, 0, 2, 2], torch.tensor(-3.0))  # input untouched


def test_streaming_matches_whole_video_and_stays_bounded(tracker: VideoTracker) -> None:
    # At least max_object_pointers_in_encoder (16) frames, so that both modes scale the
    # object pointers' temporal encoding alike.
    frames = make_frames(20, seed=1)
    stream = tracker.stream()
    assert stream.push(frames[0]).obj_ids == []
    first = stream.add(obj_id=1, points=[(20, 20)])
    streamed, held, stored_bytes = [first], [], []
    for frame in frames[1:]:
        streamed.append(stream.push(frame))
        held.append(len(stream.stored_frames))
        stored_bytes.append(stream.stored_bytes)
    # prompted frame 0 + the last 15 tracked frames (object pointers), no more.
    assert max(held) == 16
    assert stored_bytes[-1] == stored_bytes[16]

    session = tracker.open(frames)
    session.add(frame=0, obj_id=1, points=[(20, 20)])
    for ours, expected in zip(streamed, session.propagate(), strict=True):
        assert ours.frame_idx == expected.frame_idx
        np.testing.assert_array_equal(ours.stack(), expected.stack())

    with pytest.raises(ValueError, match=r"latest pushed frame \(19\), got frame_idx 3"):
        stream.add(obj_id=1, points=[(5, 5)], frame=3)
    with pytest.raises(ValueError, match="all frames must have the same size"):
        stream.push(frames[0][:20])
    with pytest.raises(RuntimeError, match=r"Call push\(frame\) before add"):
        tracker.stream().add(obj_id=1, points=[(5, 5)])


# ------------------------------------------------------------------ exports


def test_exports_pngs_overlays_and_track_video(tmp_path: Path, checkpoint: Path, frames) -> None:
    results = track_video(
        frames,
        [
            {"frame": 2, "obj_id": 1, "points": [(20, 20)], "labels": [1]},
            {"frame": 2, "obj_id": 2, "box": (30, 5, 60, 40)},
        ],
        output_dir=tmp_path / "masks",
        overlay_path=tmp_path / "overlay.gif",
        model=checkpoint,
        device="cpu",
        progress=False,
    )
    assert [r.frame_idx for r in results] == list(range(N_FRAMES))
    pngs = sorted((tmp_path / "masks").glob("*.png"))
    assert [p.name for p in pngs] == [f"{i:05d}.png" for i in range(N_FRAMES)]
    labels = np.array(Image.open(pngs[3]))
    np.testing.assert_array_equal(labels, video_io.label_image(results[3], (H, W)))
    assert set(np.unique(labels)) <= {0, 1, 2}
    rles = results[3].to_coco_rle()
    assert list(rles) == [1, 2]
    np.testing.assert_array_equal(from_coco_rle(rles[2]), results[3].masks[2])
    with Image.open(tmp_path / "overlay.gif") as gif:
        assert gif.n_frames == N_FRAMES and gif.size == (W, H)

    mp4 = video_io.write_overlay(frames, results, tmp_path / "overlay.mp4")
    assert len(video_io.read_frames(mp4)) == N_FRAMES
    with pytest.raises(ValueError, match="must end in .mp4 or .gif"):
        video_io.write_overlay(frames, results, tmp_path / "overlay.avi")


def test_progress_bars_are_notebook_aware_and_shown_on_long_work(monkeypatch) -> None:
    import tqdm.auto

    assert video_io.tqdm is tqdm.auto.tqdm  # a widget in Jupyter / Colab, text elsewhere
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: a notebook's stderr
    steps = video_io.PROGRESS_MIN_STEPS
    assert not video_io.progress(range(steps), total=steps, desc="x", show=None).disable
    assert video_io.progress(range(steps - 1), total=steps - 1, desc="x", show=None).disable
    assert not video_io.progress(range(3), total=3, desc="x", show=True).disable
    assert video_io.progress(range(50), total=50, desc="x", show=False).disable


def test_tracking_shows_progress_by_default(checkpoint, capsys) -> None:
    tracker = VideoTracker.from_pretrained(checkpoint, device="cpu", fill_hole_area=0)
    frames = make_frames(video_io.PROGRESS_MIN_STEPS)
    session = tracker.open(frames)
    session.add(frame_idx=0, obj_id=1, points=[(20, 20)])
    capsys.readouterr()
    list(session.propagate())
    assert "track" in capsys.readouterr().err
    list(session.propagate(max_frames=2))  # short work stays quiet
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------ names and bad input


def test_add_takes_frame_idx_positionally_by_name_or_by_its_alias_frame(tracker, frames) -> None:
    results = []
    for call in (
        lambda s: s.add(frame_idx=1, obj_id=4, points=[(20, 20)]),
        lambda s: s.add(1, 4, points=[(20, 20)]),
        lambda s: s.add(frame=1, obj_id=4, points=[(20, 20)]),
    ):
        results.append(call(tracker.open(frames)))
    for result in results:
        assert result.frame_idx == 1 and result.obj_ids == [4]
        np.testing.assert_array_equal(result.stack(), results[0].stack())
    session = tracker.open(frames)
    with pytest.raises(TypeError, match="give frame_idx or its alias frame, not both"):
        session.add(frame_idx=1, frame=1, obj_id=4, points=[(20, 20)])
    with pytest.raises(TypeError, match="add\\(\\) needs frame_idx"):
        session.add(obj_id=4, points=[(20, 20)])
    with pytest.raises(TypeError, match="add\\(\\) needs obj_id"):
        session.add(frame_idx=1, points=[(20, 20)])
    stream = tracker.stream()
    stream.push(frames[0])
    assert stream.add(obj_id=1, points=[(20, 20)], frame_idx=0).obj_ids == [1]
    with pytest.raises(ValueError, match=r"latest pushed frame \(0\), got frame_idx 2"):
        stream.add(obj_id=1, points=[(20, 20)], frame_idx=2)


def test_propagate_max_frames_must_be_an_int(tracker, frames) -> None:
    session = tracker.open(frames)
    session.add(frame_idx=0, obj_id=1, points=[(20, 20)])
    with pytest.raises(TypeError, match="max_frames must be an int, got float 2.5"):
        session.propagate(max_frames=2.5)
    with pytest.raises(ValueError, match="max_frames must be >= 1, got 0"):
        session.propagate(max_frames=0)
    with pytest.raises(TypeError, match="max_frames must be an int"):
        session.propagate(max_frames=True)
    with pytest.raises(ValueError, match=r"start must be a frame index in \[0, 5\].*got 9"):
        session.propagate(start=9)
    assert [r.frame_idx for r in session.propagate(max_frames=np.int64(2))] == [0, 1]


@pytest.mark.parametrize("name", ["photo.png", "photo.JPG", "photo.webp", "still.gif"])
def test_a_single_image_is_not_a_video(tmp_path: Path, tracker, frames, name) -> None:
    path = tmp_path / name
    Image.fromarray(frames[0]).save(path)
    for read in (video_io.read_frames, lambda p: list(video_io.iter_frames(p)), tracker.open):
        with pytest.raises(ValueError, match=r"is a single image, not a video: segment it with"):
            read(path)


def test_an_animated_gif_is_a_video(tmp_path: Path, frames) -> None:
    pytest.importorskip("av")
    path = tmp_path / "clip.gif"
    pictures = [Image.fromarray(f) for f in frames[:3]]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=100, loop=0)
    assert len(video_io.read_frames(path)) == 3


def test_overlay_frame_keeps_the_first_release_name(frames) -> None:
    mask = np.zeros((H, W), bool)
    mask[5:20, 5:20] = True
    result = FrameMasks(0, {3: mask}, {3: True}, {3: 1.0})
    drawn = video_io.overlay_frame(frames[0], result)
    assert drawn.shape == (H, W, 3) and drawn.dtype == np.uint8
    assert not np.array_equal(drawn[mask], frames[0][mask])
    np.testing.assert_array_equal(drawn[~mask], frames[0][~mask])
    assert video_io.overlay is video_io.overlay_frame


def test_the_callers_model_is_never_altered(checkpoint, frames) -> None:
    """No subclass swap and no attribute patched on the model, even for a while."""
    model = Sam2VideoModel.from_pretrained(checkpoint).eval()
    processor = Sam2VideoProcessor.from_pretrained(checkpoint)
    from sam2_hf.engine.loading import LoadedModel

    before = dict(vars(model))
    tracker = VideoTracker(
        LoadedModel(model, processor, torch.device("cpu"), torch.float32, "test"), progress=False
    )
    session = tracker.open(frames)
    mask = np.zeros((H, W), bool)
    mask[10:30, 30:50] = True
    session.add(frame_idx=0, obj_id=1, mask=mask)
    session.add(frame_idx=0, obj_id=2, points=[(20, 20)])
    list(session.propagate())
    assert type(model) is Sam2VideoModel and tracker.model is model
    assert vars(model).keys() == before.keys()
