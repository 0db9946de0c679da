"""Result objects reach the mask utilities in one call."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from sam2_hf import FrameMasks, Masks, Prediction, load_mask
from sam2_hf.results import ObjectMask


def make_masks(count: int = 2) -> Masks:
    masks = np.zeros((count, 6, 8), bool)
    for i in range(count):
        masks[i, 1 : 3 + i, 2 : 4 + i] = True
    return Masks(
        masks=masks,
        scores=np.linspace(0.9, 0.5, count, dtype=np.float32),
        logits=np.zeros((count, 4, 4), np.float32),
        object_score_logits=np.ones(count, np.float32),
        boxes=np.array([[0, 0, 7, 5]] * count, np.float32),
    )


def test_masks_save_one_file_or_a_folder(tmp_path):
    one = make_masks(1)
    (written,) = one.save(tmp_path / "single.png")
    np.testing.assert_array_equal(load_mask(written), one.masks[0])
    many = make_masks(3)
    files = many.save(tmp_path / "out")
    assert [f.name for f in files] == ["mask_0.png", "mask_1.png", "mask_2.png"]
    np.testing.assert_array_equal(load_mask(files[2]), many.masks[2])
    with pytest.raises(ValueError, match="must be a folder for 3 masks"):
        many.save(tmp_path / "x.png")


def test_masks_coco_rle_and_boxes():
    masks = make_masks(2)
    rles = masks.to_coco_rle()
    for rle, mask in zip(rles, masks.masks, strict=True):
        ref = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert rle["counts"] == ref["counts"].decode()
    np.testing.assert_array_equal(masks.mask_boxes, [[2, 1, 3, 2], [2, 1, 4, 3]])
    np.testing.assert_array_equal(masks.area, [4, 9])


def test_masks_cutout_and_overlay():
    masks = make_masks(2)
    image = np.full((6, 8, 3), 100, np.uint8)
    rgba = masks.cutout(image, index=1)
    assert rgba.shape == (6, 8, 4)
    np.testing.assert_array_equal(rgba[..., 3] > 0, masks.masks[1])
    drawn = masks.overlay(image, contours=False)
    assert drawn.shape == (6, 8, 3) and not np.array_equal(drawn, image)
    np.testing.assert_array_equal(image, 100)


def test_prediction_to_masks_save_and_rle(tmp_path):
    candidates = np.zeros((3, 6, 8), bool)
    candidates[0, :2] = True
    prediction = Prediction(
        masks=candidates,
        scores=np.array([0.9, 0.5, 0.1], np.float32),
        logits=np.zeros((3, 4, 4), np.float32),
        object_score_logits=np.float32(2.0),
    )
    best = prediction.to_masks()
    assert len(best) == 1 and best.scores[0] == np.float32(0.9)
    (written,) = prediction.save(tmp_path / "best.png")
    np.testing.assert_array_equal(load_mask(written), candidates[0])
    (rle,) = prediction.to_coco_rle()
    assert rle["size"] == [6, 8]
    batched = Prediction(
        masks=np.stack([candidates, candidates]),
        scores=np.ones((2, 3), np.float32),
        logits=np.zeros((2, 3, 4, 4), np.float32),
        object_score_logits=np.zeros(2, np.float32),
    )
    assert batched.to_masks().masks.shape == (2, 6, 8)


def test_masks_checks_row_counts():
    with pytest.raises(ValueError, match=r"scores must be an \(N,\) array with N = 2 as masks"):
        Masks(np.zeros((2, 3, 3), bool), np.zeros(1), np.zeros((2, 4, 4)), np.zeros(2))


# --- Prediction is the original's 3-tuple ------------------------------------------------------


def make_prediction() -> Prediction:
    candidates = np.zeros((3, 6, 8), bool)
    candidates[0, :2] = True
    return Prediction(
        masks=candidates,
        scores=np.array([0.9, 0.5, 0.1], np.float32),
        logits=np.zeros((3, 4, 4), np.float32),
        object_score_logits=np.float32(2.0),
    )


def test_prediction_is_a_sequence_of_three():
    prediction = make_prediction()
    assert isinstance(prediction, Sequence)
    assert len(prediction) == 3
    assert prediction[0] is prediction.masks
    assert prediction[1] is prediction.scores
    assert prediction[2] is prediction.logits and prediction[-1] is prediction.logits
    as_tuple = (prediction.masks, prediction.scores, prediction.logits)
    for index in (slice(None), slice(0, 2), slice(1, None), slice(None, None, -1)):
        assert all(a is b for a, b in zip(prediction[index], as_tuple[index], strict=True))
    masks, scores, logits = prediction
    assert masks is prediction.masks and scores is prediction.scores and logits is prediction.logits
    with pytest.raises(IndexError):
        prediction[3]
    assert prediction.index(prediction.masks) == 0  # Sequence mixins, as on a tuple
    assert float(prediction.object_score_logits) == 2.0  # extras stay outside the sequence


def test_prediction_checks_shapes():
    good = make_prediction()
    with pytest.raises(ValueError, match=r"masks must be a \(C, H, W\) or \(N, C, H, W\) array"):
        Prediction(good.masks[0], good.scores, good.logits, good.object_score_logits)
    with pytest.raises(TypeError, match="masks must be bool masks or float logits, got dtype"):
        Prediction(good.masks.astype(np.uint8), good.scores, good.logits, np.float32(0))
    with pytest.raises(ValueError, match=r"scores must be of shape \(3,\) .* got shape \(2,\)"):
        Prediction(good.masks, good.scores[:2], good.logits, good.object_score_logits)
    with pytest.raises(ValueError, match=r"logits must be of shape \(3, h, w\) .* got shape \(2"):
        Prediction(good.masks, good.scores, good.logits[:2], good.object_score_logits)
    with pytest.raises(ValueError, match=r"object_score_logits must be of shape \(2,\)"):
        Prediction(
            np.stack([good.masks] * 2), np.stack([good.scores] * 2),
            np.stack([good.logits] * 2), np.zeros(3, np.float32),
        )  # fmt: skip


def test_prediction_repr_is_a_summary():
    text = repr(make_prediction())
    assert text == (
        "Prediction(masks=(3, 6, 8) bool, scores=[0.9, 0.5, 0.1], "
        "logits=(3, 4, 4) float32, object_score_logits=2)"
    )


# --- Masks is a per-object collection ---------------------------------------------------------


def test_masks_index_slice_and_select_return_masks():
    masks = make_masks(4)
    for index, rows in (
        (1, [1]),
        (-1, [3]),
        (np.int64(2), [2]),
        (slice(1, 3), [1, 2]),
        (slice(None, None, -2), [3, 1]),
        (masks.scores > 0.7, [0, 1]),
        ([3, 0], [3, 0]),
        (np.array([-1]), [3]),
        ([], []),
    ):
        chosen = masks[index]
        assert isinstance(chosen, Masks) and len(chosen) == len(rows), index
        np.testing.assert_array_equal(chosen.masks, masks.masks[rows])
        np.testing.assert_array_equal(chosen.scores, masks.scores[rows])
        np.testing.assert_array_equal(chosen.logits, masks.logits[rows])
        np.testing.assert_array_equal(chosen.object_score_logits, masks.object_score_logits[rows])
        np.testing.assert_array_equal(chosen.boxes, masks.boxes[rows])


def test_masks_bad_indices():
    masks = make_masks(2)
    with pytest.raises(IndexError, match="index 2 is out of range for 2 objects"):
        masks[2]
    with pytest.raises(IndexError, match="index -3 is out of range for 2 objects"):
        masks[[0, -3]]
    with pytest.raises(IndexError, match=r"one entry per object \(2\), got shape \(3,\)"):
        masks[np.ones(3, bool)]
    with pytest.raises(TypeError, match="Masks index must be an int, a slice"):
        masks[0.5]
    with pytest.raises(TypeError, match="Masks index must be an int, a slice"):
        masks[True]


def test_masks_iterate_per_object_and_do_not_unpack_as_arrays():
    masks = make_masks(3)
    objects = list(masks)
    assert len(objects) == len(masks) == 3
    for index, obj in enumerate(objects):
        assert isinstance(obj, ObjectMask)
        np.testing.assert_array_equal(obj.mask, masks.masks[index])
        assert obj.score == pytest.approx(float(masks.scores[index]))
        np.testing.assert_array_equal(obj.box, masks.boxes[index])
        assert obj.area == masks.area[index]
        np.testing.assert_array_equal(obj.mask_box, masks.mask_boxes[index])
    first, _, _ = masks  # three objects, not (masks, scores, logits)
    with pytest.raises(AttributeError, match="read arrays by name instead: result.masks"):
        first.shape  # noqa: B018
    with pytest.raises(ValueError, match="not enough values to unpack"):
        _, _, _ = make_masks(2)
    assert not Masks.empty((6, 8)) and make_masks(1)


def test_object_mask_writes_its_mask(tmp_path):
    obj = next(iter(make_masks(2)[1:]))
    np.testing.assert_array_equal(load_mask(obj.save(tmp_path / "one.png")), obj.mask)
    assert obj.to_coco_rle() == make_masks(2).to_coco_rle()[1]
    assert obj.cutout(np.zeros((6, 8, 3), np.uint8), crop=True).shape == (3, 3, 4)


_SHAPE = r" array with N = 3 as masks, got shape "


@pytest.mark.parametrize(
    ("name", "bad", "error", "message"),
    [
        ("masks", np.zeros((3, 4), bool), ValueError, r"bool array, got shape \(3, 4\)"),
        ("masks", np.zeros((3, 6, 8), np.uint8), TypeError, "bool array, got dtype uint8"),
        (
            "scores",
            np.zeros((3, 1)),
            ValueError,
            r"scores must be an \(N,\)" + _SHAPE + r"\(3, 1\)",
        ),
        ("scores", np.zeros(3, bool), TypeError, "scores must be an .* of numbers, got dtype bool"),
        ("logits", np.zeros((3, 4)), ValueError, r"logits must be an \(N, h, w\)" + _SHAPE),
        ("object_score_logits", np.zeros(2), ValueError, _SHAPE + r"\(2,\)"),
        ("boxes", np.zeros((3, 2)), ValueError, r"boxes must be an \(N, 4\) array \(x0, y0"),
    ],
)
def test_masks_validation_prints_the_bad_shape(name, bad, error, message):
    good = make_masks(3)
    fields = {
        "masks": good.masks,
        "scores": good.scores,
        "logits": good.logits,
        "object_score_logits": good.object_score_logits,
        "boxes": good.boxes,
    }
    with pytest.raises(error, match=message):
        Masks(**{**fields, name: bad})
    assert Masks(**{**fields, "boxes": None}).boxes is None


def test_masks_empty_and_repr():
    empty = Masks.empty((6, 8), logits_size=(4, 4))
    assert len(empty) == 0 and empty.image_size == (6, 8)
    assert empty.masks.shape == (0, 6, 8) and empty.logits.shape == (0, 4, 4)
    assert empty.boxes is not None and empty.boxes.shape == (0, 4)
    assert list(empty) == [] and empty.area.shape == (0,)
    with pytest.raises(TypeError, match=r"size\[0\] must be an int, got float 6.5"):
        Masks.empty((6.5, 8))  # type: ignore[arg-type]
    assert repr(make_masks(1)) == (
        "Masks(1 object, masks=(1, 6, 8) bool, scores=[0.9], logits=(1, 4, 4) float32, "
        "object_score_logits=[1], boxes=(1, 4) float32)"
    )
    many = repr(make_masks(8))
    assert "scores=[0.9, 0.843, 0.786, 0.729, 0.671, ... 3 more]" in many and len(many) < 250


def test_masks_save_is_all_or_nothing(tmp_path, monkeypatch):
    from PIL import Image

    calls = []

    def save_twice_then_fail(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == 3:
            raise OSError("disk full")
        fp.write(b"png")

    monkeypatch.setattr(Image.Image, "save", save_twice_then_fail)
    with pytest.raises(OSError, match="disk full"):
        make_masks(3).save(tmp_path / "new")
    assert not (tmp_path / "new").exists()  # the folder it created is gone again
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "mask_0.png").write_bytes(b"earlier run")
    calls.clear()
    with pytest.raises(OSError, match="disk full"):
        make_masks(3).save(tmp_path / "old")
    assert [p.name for p in (tmp_path / "old").iterdir()] == ["mask_0.png"]
    assert (tmp_path / "old" / "mask_0.png").read_bytes() == b"earlier run"


# --- FrameMasks --------------------------------------------------------------------------------


def make_frame() -> FrameMasks:
    masks = {3: np.zeros((4, 5), bool), 1: np.ones((4, 5), bool)}
    return FrameMasks(7, masks, {3: False, 1: True}, {3: -4.5, 1: 2.25})


def test_frame_masks_unpack_as_frame_and_masks():
    frame = make_frame()
    frame_idx, masks = frame
    assert frame_idx == 7 and masks is frame.masks and frame.obj_ids == [3, 1]
    assert frame.stack().shape == (2, 4, 5)
    assert repr(frame) == (
        "FrameMasks(frame_idx=7, obj_ids=[3, 1], masks=(4, 5) bool each, "
        "present=[False, True], scores=[-4.5, 2.25])"
    )
    assert repr(FrameMasks(0, {}, {}, {})).startswith("FrameMasks(frame_idx=0, obj_ids=[]")


def test_frame_masks_validation():
    mask = np.zeros((4, 5), bool)
    with pytest.raises(TypeError, match="frame_idx must be an int, got float 1.5"):
        FrameMasks(1.5, {}, {}, {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="frame_idx must be >= 0, got -1"):
        FrameMasks(-1, {}, {}, {})
    with pytest.raises(TypeError, match="masks must be a dict keyed by obj_id, got list"):
        FrameMasks(0, [mask], {}, {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"present must have the keys of masks .* \[1\], got \[\]"):
        FrameMasks(0, {1: mask}, {}, {1: 0.0})
    with pytest.raises(ValueError, match=r"masks\[1\] must be an \(H, W\) bool array, got shape"):
        FrameMasks(0, {1: mask[None]}, {1: True}, {1: 0.0})
    with pytest.raises(ValueError, match=r"frame's size \(4, 5\), got \(4, 6\) for obj_id 2"):
        FrameMasks(0, {1: mask, 2: np.zeros((4, 6), bool)}, {1: True, 2: True}, {1: 0.0, 2: 0.0})
