"""MaskGenerator: grid and crop layout, filtering and NMS on controlled decoder outputs,
output modes, settings validation, and end-to-end runs on the tiny random model."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from image_helpers import RECORD_KEYS
from pycocotools import mask as coco_mask

from sam2_hf.engine import fast_decode
from sam2_hf.engine.loading import LoadedModel
from sam2_hf.image.automatic import (
    OUTPUT_MODES,
    MaskGenerator,
    mask_boxes,
    masks_from_records,
    stability_score,
)
from sam2_hf.image.grid import (
    build_all_layer_point_grids,
    build_point_grid,
    crop_points,
    generate_crop_boxes,
)
from sam2_hf.image.predictor import Sam2Predictor

STRONG = 8.0  # logit magnitude that survives any stability offset used here

# A decoder stand-in: click (x, y) in image pixels -> [(full-image logits, predicted iou), ...].
Scene = Callable[[float, float], list[tuple[np.ndarray, float]]]


def rect(shape: tuple[int, int], y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Logits: STRONG inside rows y0:y1, cols x0:x1, -STRONG elsewhere."""
    logits = np.full(shape, -STRONG, dtype=np.float32)
    logits[y0:y1, x0:x1] = STRONG
    return logits


def use_scene(monkeypatch: pytest.MonkeyPatch, scene: Scene, calls: list | None = None) -> None:
    """Replace the decoder: logits come back at the crop's own size, so upscaling is identity."""

    def predict(self, embeddings, points, crop_box, mask_input):
        x0, y0, x1, y1 = crop_box
        if calls is not None:
            calls.append((crop_box, points.clone(), mask_input))
        logits, scores = [], []
        for x, y in points.tolist():
            answers = scene(x + x0, y + y0)
            logits.append(np.stack([full[y0:y1, x0:x1] for full, _ in answers]))
            scores.append([score for _, score in answers])
        return torch.from_numpy(np.stack(logits)), torch.tensor(scores, dtype=torch.float32)

    monkeypatch.setattr(MaskGenerator, "_predict_points", predict)


def generator(predictor, **settings) -> MaskGenerator:
    defaults = {"points_per_side": 4, "points_per_batch": 5}
    return MaskGenerator(predictor, **{**defaults, **settings})


# ------------------------------------------------------------------ layout


def test_point_grid_is_the_originals_cell_centres():
    expected = [(x, y) for y in (0.125, 0.375, 0.625, 0.875) for x in (0.125, 0.375, 0.625, 0.875)]
    np.testing.assert_array_equal(build_point_grid(4), expected)
    # Deeper layers: int(n / factor**i) per side.
    assert [len(g) for g in build_all_layer_point_grids(9, 2, 2)] == [81, 16, 4]
    with pytest.raises(ValueError, match="crop layer 2 gets no points"):
        build_all_layer_point_grids(2, 2, 2)


def test_crop_points_are_pixels_of_the_crop():
    points = crop_points(build_point_grid(2), (10, 20, 74, 68))  # a 64 x 48 crop
    assert points.dtype == np.float32
    np.testing.assert_array_equal(points, [[16, 12], [48, 12], [16, 36], [48, 36]])


def test_crop_boxes_follow_the_originals_formula():
    boxes, layers = generate_crop_boxes((48, 64), 2, 512 / 1500)
    # Layer 1: overlap int(0.3413 * 48) = 16, crops ceil((16 + 64) / 2) x ceil((16 + 48) / 2).
    # Layer 2: overlap int(0.3413 * 48 / 2) = 8, crops 22 x 18 stepping 14 x 10.
    layer2 = [
        (x0, y0, min(x0 + 22, 64), min(y0 + 18, 48))
        for x0 in (0, 14, 28, 42)
        for y0 in (0, 10, 20, 30)
    ]
    assert boxes == [
        (0, 0, 64, 48),
        (0, 0, 40, 32),
        (0, 16, 40, 48),
        (24, 0, 64, 32),
        (24, 16, 64, 48),
        *layer2,
    ]
    assert layers == [0] + [1] * 4 + [2] * 16


def test_clicks_reach_the_decoder_in_crop_pixels(predictor, monkeypatch):
    calls = []
    use_scene(monkeypatch, lambda x, y: [(rect((48, 64), 0, 1, 0, 1), 0.1)], calls)
    generator(predictor, points_per_batch=16).generate(np.zeros((48, 64, 3), np.uint8))
    ((crop_box, points, _),) = calls
    assert crop_box == (0, 0, 64, 48)
    # Cell centres (2k + 1) / 8 of 64 x 48 pixels, row by row.
    expected = [(x, y) for y in (6, 18, 30, 42) for x in (8, 24, 40, 56)]
    np.testing.assert_array_equal(points.numpy(), expected)


def test_decoder_gets_the_originals_normalised_coordinates(predictor, monkeypatch):
    seen = {}
    encoder = predictor.model.prompt_encoder
    forward = encoder.forward

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return forward(*args, **kwargs)

    monkeypatch.setattr(encoder, "forward", spy)
    gen = generator(predictor)
    embedding = predictor.engine.encode([np.zeros((48, 64, 3), np.uint8)])
    points = torch.tensor([[6.0, 3.0], [60.0, 45.0]])
    gen._predict_points(embedding, points, (0, 0, 64, 48), None)
    # x / W * 128 and y / H * 128 (the tiny model's input size), as float32.
    expected = torch.tensor([[6 / 64, 3 / 48], [60 / 64, 45 / 48]], dtype=torch.float32) * 128
    torch.testing.assert_close(seen["input_points"][0, :, 0], expected, rtol=0, atol=0)
    assert seen["input_labels"].tolist() == [[[1], [1]]]


# ------------------------------------------------------------------ filtering


def two_objects(x: float, y: float) -> list[tuple[np.ndarray, float]]:
    """Clicks on A (rows 4:20, cols 4:28) or B (rows 26:44, cols 34:60) of a 48x64 image."""
    shape = (48, 64)
    if 4 <= y < 20 and 4 <= x < 28:
        return [(rect(shape, 4, 20, 4, 28), 0.9), (rect(shape, 4, 21, 4, 28), 0.8)]
    if 26 <= y < 44 and 34 <= x < 60:
        return [(rect(shape, 26, 44, 34, 60), 0.95), (rect(shape, 0, 48, 0, 64), 0.85)]
    return [(rect(shape, 0, 0, 0, 0), 0.99), (rect(shape, 0, 48, 0, 64), 0.3)]


def test_records_fields_order_and_values(predictor, monkeypatch):
    use_scene(monkeypatch, two_objects)
    records = generator(predictor).generate(np.zeros((48, 64, 3), np.uint8))
    assert [list(r) for r in records] == [RECORD_KEYS] * len(records)
    ious = [r["predicted_iou"] for r in records]
    assert ious == sorted(ious, reverse=True)
    best = records[0]  # B
    assert best["predicted_iou"] == pytest.approx(0.95)
    assert best["bbox"] == [34.0, 26.0, 25.0, 17.0]  # x, y, x_max - x_min, y_max - y_min
    assert best["area"] == 18 * 26
    assert best["point_coords"] in ([[40.0, 30.0]], [[56.0, 30.0]], [[40.0, 42.0]], [[56.0, 42.0]])
    assert best["stability_score"] == 1.0
    assert best["crop_box"] == [0.0, 0.0, 64.0, 48.0]
    assert best["segmentation"].dtype == bool and best["segmentation"].shape == (48, 64)
    assert best["segmentation"].sum() == best["area"]
    for record in records:
        assert all(isinstance(v, float) for v in record["bbox"] + record["crop_box"])
        assert isinstance(record["area"], int)


def test_pred_iou_thresh_is_strict(predictor, monkeypatch):
    use_scene(monkeypatch, two_objects)
    image = np.zeros((48, 64, 3), np.uint8)
    kept = generator(predictor, pred_iou_thresh=0.8, box_nms_thresh=1.0).generate(image)
    ious = sorted({round(r["predicted_iou"], 4) for r in kept})
    assert ious == [0.85, 0.9, 0.95]  # 0.8 itself is dropped (strict >), so is 0.3
    everything = generator(predictor, pred_iou_thresh=0.0, box_nms_thresh=1.0).generate(image)
    assert {round(r["predicted_iou"], 4) for r in everything} == {0.3, 0.8, 0.85, 0.9, 0.95}


def test_empty_masks_fail_the_stability_filter(predictor, monkeypatch):
    use_scene(monkeypatch, two_objects)
    image = np.zeros((48, 64, 3), np.uint8)
    records = generator(predictor, box_nms_thresh=1.0).generate(image)
    assert all(r["area"] > 0 for r in records)  # the 0.99 empty masks have NaN stability


def test_stability_threshold_is_inclusive(predictor, monkeypatch):
    def scene(x, y):
        logits = rect((48, 64), 10, 30, 10, 30)
        logits[10:20, 10:30] = 0.5  # above mask_threshold, below mask_threshold + offset
        return [(logits, 0.9)]

    use_scene(monkeypatch, scene)
    image = np.zeros((48, 64, 3), np.uint8)
    (record,) = generator(predictor, stability_score_thresh=0.5).generate(image)
    assert record["stability_score"] == 0.5
    assert record["area"] == 400  # binarised at mask_threshold=0: the soft half counts
    assert generator(predictor, stability_score_thresh=0.51).generate(image) == []
    (offset_half,) = generator(
        predictor, stability_score_thresh=0.0, stability_score_offset=0.25
    ).generate(image)
    assert offset_half["stability_score"] == 1.0


def test_box_nms_keeps_the_higher_iou_of_overlapping_masks(predictor, monkeypatch):
    use_scene(monkeypatch, two_objects)
    image = np.zeros((48, 64, 3), np.uint8)
    b, a, full = (
        ([34.0, 26.0, 25.0, 17.0], 0.95),
        ([4.0, 4.0, 23.0, 15.0], 0.9),
        ([0.0, 0.0, 63.0, 47.0], 0.85),
    )
    twin = ([4.0, 4.0, 23.0, 16.0], 0.8)
    records = generator(predictor, pred_iou_thresh=0.5).generate(image)
    # A (0.9) suppresses its one-row-taller twin (0.8): box IoU 15/16 > 0.7. Every click on A
    # or B gives the same masks: one of each survives.
    assert [(r["bbox"], round(r["predicted_iou"], 4)) for r in records] == [b, a, full]
    records = generator(predictor, pred_iou_thresh=0.5, box_nms_thresh=0.95).generate(image)
    assert [(r["bbox"], round(r["predicted_iou"], 4)) for r in records] == [b, a, full, twin]


def test_stability_score_and_mask_boxes_helpers():
    logits = torch.tensor([[[2.0, 0.5], [-2.0, -0.5]], [[-2.0] * 2] * 2])
    # > 1: one cell; > -1: three cells (2.0, 0.5, -0.5).
    torch.testing.assert_close(stability_score(logits, 0.0, 1.0)[:1], torch.tensor([1 / 3]))
    assert math.isnan(stability_score(logits, 0.0, 1.0)[1])
    masks = torch.zeros(2, 5, 6, dtype=torch.bool)
    masks[0, 1:4, 2:5] = True
    assert mask_boxes(masks).tolist() == [[2, 1, 4, 3], [0, 0, 0, 0]]


# ------------------------------------------------------------------ crops


def test_crops_map_back_to_the_image_and_deduplicate(predictor, monkeypatch):
    shape = (120, 160)
    small = rect(shape, 30, 46, 40, 56)  # inside crop (0, 0, 100, 80), clear of its edges
    wide = rect(shape, 30, 46, 40, 130)  # crosses the x = 60..100 crop edges

    def scene(x, y):
        if 30 <= y < 46 and 40 <= x < 56:
            return [(small, 0.9)]
        if 30 <= y < 46 and 56 <= x < 130:
            return [(wide, 0.85)]
        return [(rect(shape, 0, 0, 0, 0), 0.1)]

    calls = []
    use_scene(monkeypatch, scene, calls)
    gen = generator(predictor, points_per_side=8, points_per_batch=64, crop_n_layers=1)
    records = gen.generate(np.zeros((*shape, 3), np.uint8))
    assert [c[0] for c in calls] == [
        (0, 0, 160, 120),
        (0, 0, 100, 80),
        (0, 40, 100, 120),
        (60, 0, 160, 80),
        (60, 40, 160, 120),
    ]
    by_iou = {round(r["predicted_iou"], 4): r for r in records}
    assert sorted(by_iou) == [0.85, 0.9]
    # The small square is found in the whole image and in crop 1: the smaller crop wins.
    square = by_iou[0.9]
    assert square["crop_box"] == [0.0, 0.0, 100.0, 80.0]
    assert square["bbox"] == [40.0, 30.0, 15.0, 15.0]
    np.testing.assert_array_equal(square["segmentation"], small > 0)
    # Its click is a crop-1 grid point moved into image pixels: x0 + (2k+1)/16 * 100.
    x, y = square["point_coords"][0]
    assert (x - 0) / 100 * 16 % 2 == pytest.approx(1) and (y - 0) / 80 * 16 % 2 == pytest.approx(1)
    # The wide box touches crop edges inside the image in every crop but the whole image.
    assert by_iou[0.85]["crop_box"] == [0.0, 0.0, 160.0, 120.0]
    assert len(records) == 2


# ------------------------------------------------------------------ min_mask_region_area


def test_min_mask_region_area_fills_holes_and_removes_islands(predictor, monkeypatch):
    logits = rect((48, 64), 10, 30, 10, 30)
    logits[15, 15] = -STRONG  # a one-pixel hole
    logits[40:42, 50:52] = STRONG  # a four-pixel island far away

    use_scene(monkeypatch, lambda x, y: [(logits, 0.9)])
    image = np.zeros((48, 64, 3), np.uint8)
    (raw,) = generator(predictor).generate(image)
    assert raw["area"] == 400 - 1 + 4 and raw["bbox"] == [10.0, 10.0, 41.0, 31.0]
    (clean,) = generator(predictor, min_mask_region_area=5).generate(image)
    assert clean["area"] == 400
    assert clean["bbox"] == [10.0, 10.0, 19.0, 19.0]
    np.testing.assert_array_equal(clean["segmentation"], rect((48, 64), 10, 30, 10, 30) > 0)


def test_predictor_hole_filling_applies_to_low_res_logits(checkpoint_loaded, monkeypatch):
    logits = rect((48, 64), 10, 30, 10, 30)
    logits[15, 15] = -STRONG
    use_scene(monkeypatch, lambda x, y: [(logits, 0.9)])
    predictor = Sam2Predictor(checkpoint_loaded, max_hole_area=1)
    (record,) = generator(predictor).generate(np.zeros((48, 64, 3), np.uint8))
    assert record["area"] == 400


@pytest.fixture(scope="module")
def checkpoint_loaded(predictor) -> LoadedModel:
    return LoadedModel(predictor.model, predictor.processor, predictor.device, predictor.dtype, "")


# ------------------------------------------------------------------ output modes


@pytest.mark.parametrize("mode", OUTPUT_MODES)
def test_output_modes_round_trip_through_pycocotools(predictor, monkeypatch, mode):
    use_scene(monkeypatch, two_objects)
    image = np.zeros((48, 64, 3), np.uint8)
    binary = generator(predictor).generate(image)
    records = generator(predictor, output_mode=mode).generate(image)
    assert len(records) == len(binary) > 0
    for record, reference in zip(records, binary, strict=True):
        segmentation = record["segmentation"]
        if mode == "coco_rle":
            assert isinstance(segmentation["counts"], str)
            rle = {"size": segmentation["size"], "counts": segmentation["counts"].encode()}
        elif mode == "uncompressed_rle":
            assert all(isinstance(c, int) for c in segmentation["counts"])
            rle = coco_mask.frPyObjects(segmentation, *segmentation["size"])
        else:
            rle = coco_mask.encode(np.asfortranarray(segmentation.astype(np.uint8)))
        np.testing.assert_array_equal(coco_mask.decode(rle).astype(bool), reference["segmentation"])
        assert int(coco_mask.area(rle)) == record["area"]
    np.testing.assert_array_equal(
        masks_from_records(records), np.stack([r["segmentation"] for r in binary])
    )


def test_masks_from_records_with_no_records():
    assert masks_from_records([], (48, 64)).shape == (0, 48, 64)
    with pytest.raises(ValueError, match="pass image_size"):
        masks_from_records([])


# ------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"points_per_side": 0}, ValueError, r"points_per_side must be >= 1, got 0"),
        ({"points_per_side": 2.5}, TypeError, r"points_per_side must be an int, got float"),
        ({"point_grids": [np.zeros((1, 2))]}, ValueError, r"exactly one of points_per_side"),
        ({"points_per_side": None}, ValueError, r"exactly one of .* got neither"),
        ({"output_mode": "png"}, ValueError, r"output_mode must be one of 'binary_mask', .*'png'"),
        ({"pred_iou_thresh": 1.5}, ValueError, r"pred_iou_thresh must be in \[0, 1\], got 1.5"),
        ({"stability_score_thresh": -0.1}, ValueError, r"stability_score_thresh must be in"),
        ({"box_nms_thresh": float("nan")}, ValueError, r"box_nms_thresh must be in"),
        ({"crop_nms_thresh": 2}, ValueError, r"crop_nms_thresh must be in \[0, 1\], got 2"),
        ({"points_per_batch": 0}, ValueError, r"points_per_batch must be >= 1"),
        ({"min_mask_region_area": -1}, ValueError, r"min_mask_region_area must be >= 0"),
        ({"use_m2m": 1}, TypeError, r"use_m2m must be True or False, got 1"),
        (
            {"points_per_side": None, "point_grids": [np.full((2, 2), 1.5)]},
            ValueError,
            r"point_grids\[0\] must hold \(x, y\) in \[0, 1\]",
        ),
        (
            {"points_per_side": None, "point_grids": [np.zeros((2, 2))], "crop_n_layers": 1},
            ValueError,
            r"one grid per crop layer \(2 for crop_n_layers=1\), got 1",
        ),
    ],
)
def test_bad_settings_name_the_argument(predictor, settings, error, message):
    with pytest.raises(error, match=message):
        MaskGenerator(predictor, **settings)


def test_predictor_must_be_a_predictor():
    with pytest.raises(TypeError, match="predictor must be a Sam2Predictor, ImageEngine or Load"):
        MaskGenerator("tiny")


def test_explicit_point_grids(predictor, monkeypatch):
    calls = []
    use_scene(monkeypatch, two_objects, calls)
    gen = MaskGenerator(predictor, points_per_side=None, point_grids=[np.array([[0.25, 0.25]])])
    (record,) = gen.generate(np.zeros((48, 64, 3), np.uint8))
    assert calls[0][1].tolist() == [[16.0, 12.0]]
    assert record["point_coords"] == [[16.0, 12.0]]


# ------------------------------------------------------------------ the real model


def test_end_to_end_on_the_tiny_model_non_square(predictor, image_hw, capsys):
    gen = MaskGenerator(
        predictor, points_per_side=6, pred_iou_thresh=0.0, stability_score_thresh=0.0
    )
    records = gen.generate(image_hw, progress=True)
    assert "batch" in capsys.readouterr().err
    assert records
    for record in records:
        assert list(record) == RECORD_KEYS
        mask = record["segmentation"]
        assert mask.shape == (48, 64) and mask.dtype == bool
        assert record["area"] == int(mask.sum())
        assert record["crop_box"] == [0.0, 0.0, 64.0, 48.0]
        x, y = record["point_coords"][0]
        assert 0 < x < 64 and 0 < y < 48
    ious = [r["predicted_iou"] for r in records]
    assert ious == sorted(ious, reverse=True)
    # generate_batch gives a list per image; the same image gives the same records.
    twice = gen.generate_batch([image_hw, image_hw])
    assert len(twice) == 2
    for again in twice:
        assert [r["bbox"] for r in again] == [r["bbox"] for r in records]


def test_m2m_and_crops_run_on_the_tiny_model(predictor, image_hw):
    gen = MaskGenerator(
        predictor,
        points_per_side=4,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
        use_m2m=True,
        crop_n_layers=1,
        output_mode="coco_rle",
    )
    records = gen.generate(image_hw)
    assert records  # thresholds at 0 keep masks: the loop below must run
    for record in records:
        assert record["segmentation"]["size"] == [48, 64]


@pytest.mark.parametrize("multimask_output", [True, False])
def test_fast_decoding_gives_the_plain_model_calls_records(
    predictor, image_hw, monkeypatch, multimask_output
):
    """Batches of 10 clicks and a last one of 6, through the fast path and through model(...)."""
    gen = MaskGenerator(
        predictor,
        points_per_side=6,
        points_per_batch=10,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
        multimask_output=multimask_output,
    )
    fast = gen.generate(image_hw)
    monkeypatch.setattr(fast_decode, "supports_fast_decode", lambda model: False)
    plain = gen.generate(image_hw)
    assert len(fast) == len(plain) > 0
    for ours, theirs in zip(fast, plain, strict=True):
        np.testing.assert_array_equal(ours["segmentation"], theirs["segmentation"])
        assert {k: v for k, v in ours.items() if k != "segmentation"} == {
            k: v for k, v in theirs.items() if k != "segmentation"
        }


def test_from_pretrained_loads_a_checkpoint_folder(video_checkpoint):
    gen = MaskGenerator.from_pretrained(video_checkpoint, device="cpu", points_per_side=2)
    assert gen.points_per_side == 2 and len(gen.point_grids[0]) == 4
    assert isinstance(gen.predictor, Sam2Predictor)


class _Output(dict):
    """A model output read both ways, as transformers' ModelOutput is."""

    __getattr__ = dict.__getitem__


def test_same_records_as_the_transformers_pipeline(predictor, monkeypatch):
    """An independent implementation on the same decoder outputs: transformers' pipeline.

    A synthetic decoder (discs around each click, soft edges, scores from the click) makes the
    masks varied; a square image keeps the pipeline's click scaling right (it scales y by the
    longest side, which is wrong for SAM 2 on non-square images).
    """
    from PIL import Image
    from transformers import pipeline

    def forward(*, input_points, input_labels, multimask_output=True, **kwargs):
        ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
        click = input_points[0, :, 0] / 4  # 128 input pixels -> 32 low-res cells
        dist = ((xs - click[:, None, None, 0]) ** 2 + (ys - click[:, None, None, 1]) ** 2).sqrt()
        radii = torch.tensor([3.0, 6.0, 11.0])
        logits = (radii[None, :, None, None] - dist[:, None]) * 1.5
        scores = torch.stack(
            [(click[:, 0] * 0.37 + click[:, 1] * 0.11 + r) % 1.0 for r in (0.1, 0.5, 0.7)], 1
        )
        present = torch.zeros(1, len(click), 1)
        return _Output(
            pred_masks=logits[None], iou_scores=scores[None], object_score_logits=present
        )

    model = predictor.model
    monkeypatch.setattr(model, "forward", forward)
    # The synthetic decoder replaces forward, so take the plain model call, not the fast path.
    monkeypatch.setattr(fast_decode, "supports_fast_decode", lambda model: False)
    image = (np.random.default_rng(1).random((64, 64, 3)) * 255).astype(np.uint8)
    pipe = pipeline(
        "mask-generation",
        model=model,
        image_processor=predictor.processor.image_processor,
        device="cpu",
    )
    settings = {"pred_iou_thresh": 0.3, "stability_score_thresh": 0.7}
    theirs = pipe(
        Image.fromarray(image),
        points_per_crop=8,
        points_per_batch=16,
        crops_nms_thresh=0.7,
        **settings,
    )
    ours = MaskGenerator(predictor, points_per_side=8, points_per_batch=16, **settings).generate(
        image
    )
    assert len(ours) == len(theirs["masks"]) > 5
    for record, mask, score in zip(ours, theirs["masks"], theirs["scores"], strict=True):
        np.testing.assert_array_equal(record["segmentation"], mask.numpy())
        assert record["predicted_iou"] == float(score)


# ------------------------------------------------------------------ the engine underneath


def test_generator_uses_the_engine_of_what_it_is_given(predictor, monkeypatch):
    from sam2_hf.engine.image import ImageEngine

    use_scene(monkeypatch, two_objects)
    image = np.zeros((48, 64, 3), np.uint8)
    from_predictor = generator(predictor)
    assert from_predictor.engine is predictor.engine and from_predictor.predictor is predictor
    expected = from_predictor.generate(image)
    for source in (predictor.engine, predictor.engine.loaded):
        gen = generator(source)
        assert isinstance(gen.engine, ImageEngine) and gen.engine.model is predictor.model
        assert isinstance(gen.predictor, Sam2Predictor) and gen.predictor.engine is gen.engine
        assert [r["bbox"] for r in gen.generate(image)] == [r["bbox"] for r in expected]


def test_one_mask_threshold(predictor):
    strict = Sam2Predictor(predictor.engine, mask_threshold=0.5)
    assert generator(strict).mask_threshold == 0.5  # the predictor's, not a default of its own
    own = generator(strict, mask_threshold=0.25, max_hole_area=2)
    assert own.mask_threshold == own.engine.mask_threshold == 0.25
    assert own.engine.max_hole_area == 2 and own.engine.model is predictor.model
    assert strict.mask_threshold == 0.5 and strict.max_hole_area == 0
    assert own.predictor.engine is own.engine


def test_mask_threshold_decides_stability_binarising_and_clean_up(predictor, monkeypatch):
    logits = rect((48, 64), 10, 30, 10, 30)
    logits[15:17, 15:17] = 0.5  # a hole at threshold 1, foreground at threshold 0
    use_scene(monkeypatch, lambda x, y: [(logits, 0.9)])
    image = np.zeros((48, 64, 3), np.uint8)
    (plain,) = generator(predictor, stability_score_thresh=0.0).generate(image)
    assert plain["area"] == 400
    settings = {"stability_score_thresh": 0.0, "stability_score_offset": 0.25}
    (holed,) = generator(predictor, mask_threshold=1.0, **settings).generate(image)
    assert holed["area"] == 396
    # max_hole_area fills the hole as the engine sees it: at the same threshold.
    (filled,) = generator(predictor, mask_threshold=1.0, max_hole_area=4, **settings).generate(
        image
    )
    assert filled["area"] == 400


def test_generator_settings_type_lists_the_constructors_keywords():
    import inspect

    from sam2_hf.image.automatic import GeneratorSettings

    parameters = list(inspect.signature(MaskGenerator.__init__).parameters)[2:]
    assert set(GeneratorSettings.__annotations__) == set(parameters)


def test_from_pretrained_sets_the_engine_options(video_checkpoint):
    gen = MaskGenerator.from_pretrained(
        video_checkpoint,
        device="cpu",
        points_per_side=2,
        mask_threshold=0.5,
        max_hole_area=4,
        max_sprinkle_area=3,
    )
    engine = gen.engine
    assert (engine.mask_threshold, engine.max_hole_area, engine.max_sprinkle_area) == (0.5, 4, 3)
    assert gen.predictor.max_hole_area == 4
    with pytest.raises(TypeError, match="max_hole_area must be an int, got float 2.7"):
        MaskGenerator.from_pretrained(video_checkpoint, device="cpu", max_hole_area=2.7)
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['point_per_side'\]"):
        MaskGenerator.from_pretrained(video_checkpoint, device="cpu", point_per_side=2)


# ------------------------------------------------------------------ one image, many images


def test_generate_takes_one_image_and_generate_batch_several(predictor, monkeypatch):
    use_scene(monkeypatch, two_objects)
    image = np.zeros((48, 64, 3), np.uint8)
    gen = generator(predictor)
    with pytest.raises(TypeError, match=r"generate\(\) takes one image, got a list of 2; use"):
        gen.generate([image, image])
    batch = gen.generate_batch((image, image[:40]))
    assert len(batch) == 2 and all(isinstance(records, list) for records in batch)
    assert [r["bbox"] for r in batch[0]] == [r["bbox"] for r in gen.generate(image)]
    with pytest.raises(TypeError, match="images must be a list or tuple of images"):
        gen.generate_batch(image)


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (np.zeros(5), ValueError, r"images\[1\]: image array must have shape"),
        ("missing.png", FileNotFoundError, r"images\[1\]: image file .*missing.png"),
        (3, TypeError, r"images\[1\]: image must be a file path"),
        ("notes.txt", ValueError, r"images\[1\]: image file .*notes.txt.* cannot be read"),
    ],
)
def test_generate_batch_names_a_bad_item_before_processing_any(
    predictor, monkeypatch, tmp_path, bad, error, message
):
    (tmp_path / "notes.txt").write_text("not an image")
    monkeypatch.chdir(tmp_path)
    calls = []
    use_scene(monkeypatch, two_objects, calls)
    image = np.zeros((48, 64, 3), np.uint8)
    with pytest.raises(error, match=message):
        generator(predictor).generate_batch([image, bad, image])
    assert calls == []


@pytest.mark.parametrize(("points_per_batch", "shown"), [(1, True), (5, False)])
def test_progress_is_shown_by_default_on_long_work(
    predictor, monkeypatch, capsys, points_per_batch, shown
):
    use_scene(monkeypatch, two_objects)
    gen = generator(predictor, points_per_batch=points_per_batch)  # 16 or 4 batches
    gen.generate(np.zeros((48, 64, 3), np.uint8))
    assert ("16/16" in capsys.readouterr().err) is shown
    gen.generate(np.zeros((48, 64, 3), np.uint8), progress=False)
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------ crops on small images


@pytest.mark.parametrize(("size", "layers"), [((20, 30), 3), ((1, 40), 2), ((2, 2), 4)])
def test_crop_boxes_on_small_images_are_real_and_distinct(size, layers):
    boxes, box_layers = generate_crop_boxes(size, layers, 512 / 1500)
    height, width = size
    assert len(boxes) == len(box_layers) == len(set(boxes))
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert box_layers == sorted(box_layers) and box_layers[0] == 0


def test_crop_layers_on_a_small_image_run_on_the_tiny_model(predictor):
    gen = MaskGenerator(
        predictor,
        points_per_side=4,
        crop_n_layers=3,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
    )
    image = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    records = gen.generate(image)
    assert records
    for record in records:
        assert record["segmentation"].shape == (20, 30)
        x, y, w, h = record["crop_box"]
        assert w > 0 and h > 0 and x + w <= 30 and y + h <= 20
