"""Sam2Predictor against the raw transformers calls, on a tiny random-weight checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from image_helpers import assert_matches_raw, raw_transformers

from sam2_hf import Masks, Prediction, Sam2Predictor, segment


@pytest.fixture
def ready(predictor: Sam2Predictor, image_hw: np.ndarray) -> Sam2Predictor:
    predictor.set_image(image_hw)
    return predictor


# ---------------------------------------------------------------- equivalence


def test_many_boxes_match_raw_transformers(ready, image_hw):
    boxes = np.array([[5, 6, 50, 40], [0, 0, 20, 20], [30, 10, 63, 47]])
    result = ready.predict(box=boxes, multimask_output=False)
    raw_masks, raw_scores, _ = raw_transformers(
        ready, image_hw, False, input_boxes=[boxes.tolist()]
    )
    assert result.masks.shape == (3, 1, 48, 64)
    assert_matches_raw(result.masks, result.scores, raw_masks, raw_scores)
    batched = ready.predict_boxes(boxes)
    np.testing.assert_array_equal(batched.masks, raw_masks[:, 0])
    np.testing.assert_allclose(batched.scores, raw_scores[:, 0], atol=1e-6)


def test_returned_logits_are_clamped_and_reusable(ready, image_hw):
    result = ready.predict(point_coords=[(40, 12)])
    _, _, raw_low_res = raw_transformers(
        ready, image_hw, True, input_points=[[[[40, 12]]]], input_labels=[[[1]]]
    )
    order = np.argsort(-result.scores)  # already sorted: identity
    np.testing.assert_array_equal(order, np.arange(3))
    assert np.abs(result.logits).max() <= 32.0
    expected = np.clip(raw_low_res[0], -32, 32)
    assert any(np.array_equal(result.logits[0], candidate) for candidate in expected)


# ---------------------------------------------------------------- shapes, order, geometry


@pytest.mark.parametrize("height, width", [(480, 640), (640, 480)])
def test_masks_have_the_original_size(predictor, height, width):
    image = np.random.default_rng(1).integers(0, 255, (height, width, 3), dtype=np.uint8)
    predictor.set_image(image)
    result = predictor.predict(point_coords=[(width - 5, 5)])
    assert result.masks.shape == (3, height, width)
    assert result.best.shape == (height, width)
    assert predictor.image_size == (height, width)


def test_coordinates_reach_the_model_as_x_then_y(predictor, monkeypatch):
    """On a non-square image a swap of x and y changes what the model receives."""
    seen = {}
    encoder = predictor.model.prompt_encoder
    forward = encoder.forward

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return forward(*args, **kwargs)

    monkeypatch.setattr(encoder, "forward", spy)
    predictor.set_image(np.zeros((40, 80, 3), np.uint8))
    predictor.predict(point_coords=[(60, 10)], box=(-10, 5, 70, 90))
    scale_x, scale_y = 128 / 80, 128 / 40
    np.testing.assert_allclose(seen["input_points"][0, 0, 0].numpy(), [60 * scale_x, 10 * scale_y])
    # The box is clipped to the image before scaling: (0, 5, 70, 40).
    np.testing.assert_allclose(
        seen["input_boxes"][0, 0].numpy(), [0, 5 * scale_y, 70 * scale_x, 40 * scale_y], rtol=1e-6
    )


def test_candidates_are_sorted_best_first(ready):
    result = ready.predict(point_coords=[(10, 10)])
    assert np.all(np.diff(result.scores) <= 0)
    np.testing.assert_array_equal(result.best, result.masks[0])
    assert result.best_score == result.scores[0]
    assert result.object_score_logits.shape == ()


def test_result_unpacks_like_the_original(ready):
    masks, scores, logits = ready.predict(point_coords=[(10, 10)])
    low_res = ready.model.prompt_encoder.mask_input_size
    assert masks.shape == (3, 48, 64) and scores.shape == (3,)
    assert logits.shape == (3, *low_res) and logits.dtype == np.float32


def test_multimask_defaults(ready):
    assert ready.predict(point_coords=[(10, 10)]).masks.shape[0] == 3
    assert ready.predict(box=(1, 1, 30, 30)).masks.shape[0] == 1
    assert ready.predict(box=(1, 1, 30, 30), multimask_output=True).masks.shape[0] == 3
    assert ready.predict(point_coords=[(10, 10)], multimask_output=False).masks.shape[0] == 1


def test_return_logits_gives_float_masks(ready):
    logits = ready.predict(point_coords=[(10, 10)], return_logits=True)
    masks = ready.predict(point_coords=[(10, 10)])
    assert logits.masks.dtype == np.float32
    np.testing.assert_array_equal(logits.masks > 0, masks.masks)


def test_normalized_coordinates(ready):
    pixels = ready.predict(point_coords=[(32, 12)], box=(16, 6, 48, 36))
    relative = ready.predict(
        point_coords=[(0.5, 0.25)], box=(0.25, 0.125, 0.75, 0.75), normalize_coords=False
    )
    np.testing.assert_array_equal(pixels.masks, relative.masks)


def test_points_for_several_objects(ready):
    result = ready.predict(point_coords=[[(10, 10)], [(40, 30)]], point_labels=[[1], [1]])
    assert result.masks.shape == (2, 3, 48, 64)
    assert result.scores.shape == (2, 3) and result.object_score_logits.shape == (2,)
    single = ready.predict(point_coords=[(40, 30)])
    np.testing.assert_array_equal(result.masks[1], single.masks)


def test_binary_mask_input_equals_logit_mask_input(predictor):
    """A full-size bool mask made of whole low-res cells gives the prediction of its logits."""
    low_h, low_w = predictor.model.prompt_encoder.mask_input_size
    cells = np.zeros((low_h, low_w), bool)
    cells[5:20, 8:25] = True
    factor_y, factor_x = 2, 3
    image = np.random.default_rng(2).integers(0, 255, (low_h * 2, low_w * 3, 3), dtype=np.uint8)
    predictor.set_image(image)
    full_size = np.kron(cells, np.ones((factor_y, factor_x), bool))
    logits = np.where(cells, 10.0, -10.0).astype(np.float32)
    from_logits = predictor.predict(point_coords=[(30, 20)], mask_input=logits)
    from_mask = predictor.predict(point_coords=[(30, 20)], mask_input=full_size)
    np.testing.assert_array_equal(from_logits.masks, from_mask.masks)
    np.testing.assert_array_equal(from_logits.scores, from_mask.scores)


def test_hole_filling_matches_cleaning_the_low_res_logits(predictor, image_hw):
    from sam2_hf.formats.masks import clean_mask_logits

    plain = predictor
    plain.set_image(image_hw)
    raw = plain.predict(point_coords=[(20, 20)], return_logits=True)
    cleaner = Sam2Predictor(plain.engine, max_hole_area=40, max_sprinkle_area=40)
    assert cleaner.model is plain.model and plain.max_hole_area == 0
    cleaner.set_embedding(plain.embedding)
    cleaned = cleaner.predict(point_coords=[(20, 20)])
    expected = clean_mask_logits(raw.logits, max_hole_area=40, max_sprinkle_area=40)
    expected_masks = (
        torch.nn.functional.interpolate(
            torch.from_numpy(expected)[None], (48, 64), mode="bilinear", align_corners=False
        )[0].numpy()
        > 0
    )
    np.testing.assert_array_equal(cleaned.masks, expected_masks)


# ---------------------------------------------------------------- reuse and batching


def count_encoder_calls(predictor, monkeypatch) -> list[int]:
    calls: list[int] = []
    encoder = predictor.model.vision_encoder
    original = encoder.forward

    def counted(pixel_values, *args, **kwargs):
        calls.append(pixel_values.shape[0])
        return original(pixel_values, *args, **kwargs)

    monkeypatch.setattr(encoder, "forward", counted)
    return calls


def test_set_image_encodes_once_for_many_prompts(predictor, image_hw, monkeypatch):
    calls = count_encoder_calls(predictor, monkeypatch)
    predictor.set_image(image_hw)
    for x in range(5, 60, 10):
        predictor.predict(point_coords=[(x, 20)])
    predictor.predict_boxes([(1, 1, 20, 20), (5, 5, 40, 40)])
    assert calls == [1]


def test_predict_batch_encodes_once_with_ragged_boxes(predictor, image_hw, monkeypatch):
    images = [image_hw, image_hw[:40, :50], np.flipud(image_hw)]
    boxes = [[(5, 6, 50, 40)], [(0, 0, 20, 20), (10, 10, 45, 35), (1, 2, 3, 4)], []]
    boxes[2] = [(30, 10, 63, 47), (2, 2, 30, 30)]
    calls = count_encoder_calls(predictor, monkeypatch)
    results = predictor.predict_batch(images, boxes)
    assert calls == [3]
    assert [r.masks.shape for r in results] == [(1, 48, 64), (3, 40, 50), (2, 48, 64)]
    for image, image_boxes, result in zip(images, boxes, results, strict=True):
        assert isinstance(result, Masks)
        predictor.set_image(image)
        alone = predictor.predict_boxes(image_boxes)
        np.testing.assert_array_equal(result.masks, alone.masks)
        np.testing.assert_allclose(result.scores, alone.scores, atol=1e-5)


def test_predict_batch_with_points(predictor, image_hw):
    results = predictor.predict_batch(
        [image_hw, image_hw[:30]], point_coords=[[(10, 10), (40, 20)], [(5, 5)]]
    )
    assert [r.masks.shape for r in results] == [(2, 48, 64), (1, 30, 64)]
    assert results[0].boxes is None


def test_masks_result_indexing(ready):
    result = ready.predict_boxes([(1, 1, 20, 20), (5, 5, 40, 40), (0, 0, 63, 47)])
    assert len(result) == 3 and len(result[1]) == 1 and len(result[-1]) == 1
    np.testing.assert_array_equal(result[1:].boxes, result.boxes[1:])
    keep = result[result.scores >= np.median(result.scores)]
    assert len(keep) == int((result.scores >= np.median(result.scores)).sum())
    np.testing.assert_array_equal(result.area, result.masks.sum(axis=(1, 2)))
    assert result.masks.shape == (3, 48, 64) and result.logits.shape == (3, 32, 32)


# ---------------------------------------------------------------- migration from sam2


def test_seed_tutorial_snippets_run_after_changing_the_import(video_checkpoint):
    """The original SAM2ImagePredictor tutorial, with only the import and loading line changed."""
    predictor = Sam2Predictor.from_pretrained(video_checkpoint, device="cpu")
    image = np.random.default_rng(3).integers(0, 255, (1200, 1800, 3), dtype=np.uint8)
    predictor.set_image(image)

    input_point = np.array([[500, 375]])
    input_label = np.array([1])
    masks, scores, logits = predictor.predict(
        point_coords=input_point, point_labels=input_label, multimask_output=True
    )
    sorted_ind = np.argsort(scores)[::-1]
    masks, scores, logits = masks[sorted_ind], scores[sorted_ind], logits[sorted_ind]
    assert masks.shape == (3, 1200, 1800)
    mask_input = logits[np.argmax(scores), :, :]
    masks, scores, _ = predictor.predict(
        point_coords=input_point,
        point_labels=input_label,
        mask_input=mask_input[None, :, :],
        multimask_output=False,
    )
    assert masks.shape == (1, 1200, 1800)

    input_box = np.array([425, 600, 700, 875])
    masks, scores, _ = predictor.predict(
        point_coords=None, point_labels=None, box=input_box[None, :], multimask_output=False
    )
    assert masks.shape == (1, 1200, 1800)

    input_point = np.array([[575, 750]])
    input_label = np.array([0])
    masks, scores, logits = predictor.predict(
        point_coords=input_point, point_labels=input_label, box=input_box, multimask_output=False
    )
    assert masks.shape == (1, 1200, 1800)

    input_boxes = np.array(
        [[75, 275, 1725, 850], [425, 600, 700, 875], [1375, 550, 1650, 800], [1240, 675, 1400, 750]]
    )
    masks, scores, _ = predictor.predict(
        point_coords=None, point_labels=None, box=input_boxes, multimask_output=False
    )
    assert masks.shape == (4, 1, 1200, 1800) and scores.shape == (4, 1)


def test_segment_one_call(video_checkpoint, image_hw):
    result = segment(image_hw, point_coords=[(10, 10)], model=str(video_checkpoint), device="cpu")
    assert isinstance(result, Prediction) and result.masks.shape == (3, 48, 64)


def test_bfloat16_autocast_returns_float32_numpy(video_checkpoint, image_hw):
    predictor = Sam2Predictor.from_pretrained(video_checkpoint, device="cpu", dtype="bf16")
    assert predictor.dtype == torch.bfloat16
    assert next(predictor.model.parameters()).dtype == torch.float32
    predictor.set_image(image_hw)
    result = predictor.predict(point_coords=[(10, 10)])
    assert result.masks.dtype == bool and result.scores.dtype == np.float32
    assert result.logits.dtype == np.float32


def test_input_image_is_not_modified(ready, image_hw):
    before = image_hw.copy()
    ready.set_image(image_hw)
    points = np.array([[10.0, 10.0]])
    ready.predict(point_coords=points, box=np.array([-5.0, 0, 30, 30]))
    np.testing.assert_array_equal(image_hw, before)
    np.testing.assert_array_equal(points, [[10.0, 10.0]])


# ---------------------------------------------------------------- bad input


def test_predict_before_set_image(video_checkpoint):
    fresh = Sam2Predictor.from_pretrained(video_checkpoint, device="cpu")
    with pytest.raises(RuntimeError, match=r"Call set_image\(...\) before predict\(\)"):
        fresh.predict(point_coords=[(1, 1)])
    fresh.set_image(np.zeros((8, 8, 3), np.uint8))
    fresh.reset_image()
    with pytest.raises(RuntimeError, match="set_image"):
        fresh.predict_boxes([(0, 0, 4, 4)])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({}, ValueError, "needs a prompt"),
        ({"point_coords": [1, 2, 3]}, ValueError, r"point_coords must have shape .* got \(3,\)"),
        ({"point_coords": [(1, 2, 3)]}, ValueError, r"got \(1, 3\)"),
        ({"point_coords": [(1, 2)], "point_labels": [1, 0]}, ValueError, "one label per point"),
        ({"point_coords": [(1, 2)], "point_labels": [2]}, ValueError, r"1 \(foreground\).*\[2\]"),
        ({"point_coords": [(np.nan, 2)]}, ValueError, "point_coords must be finite"),
        ({"point_coords": [(np.inf, 2)]}, ValueError, "point_coords must be finite"),
        ({"point_coords": [(65, 2)]}, ValueError, r"inside the image .*got \(65, 2\)"),
        ({"point_coords": [(5, -1)]}, ValueError, "inside the image"),
        ({"point_coords": "abc"}, TypeError, "point_coords must be numbers"),
        ({"point_labels": [1]}, ValueError, "without point_coords"),
        ({"box": (10, 5, 4, 20)}, ValueError, "x0 <= x1 and y0 <= y1"),
        ({"box": (1, 2, 3)}, ValueError, r"box must be 4 numbers .* got shape \(3,\)"),
        ({"box": (100, 100, 200, 200)}, ValueError, "box must overlap the image"),
        ({"box": [(1, 1, 5, 5)] * 2, "point_coords": [(1, 1)]}, ValueError, "1 object.* 2"),
        ({"point_coords": [(1, 1)], "mask_input": np.zeros((5, 5))}, ValueError, "mask_input"),
        (
            {"point_coords": [(1, 1)], "mask_input": np.zeros((4, 4), bool)},
            ValueError,
            r"\(48, 64\)",
        ),
        ({"point_coords": [(1, 1)], "mask_input": np.full((48, 64), 3)}, ValueError, "0/1"),
        ({"box": [(1, 1, 5, 5)] * 2, "mask_input": np.zeros((32, 32))}, ValueError, "one object"),
    ],
)
def test_bad_prompts_get_clear_errors(ready, kwargs, error, message):
    with pytest.raises(error, match=message):
        ready.predict(**kwargs)


def test_bad_batch_arguments(ready, image_hw):
    with pytest.raises(TypeError, match="images must be a list"):
        ready.predict_batch(image_hw, [[(1, 1, 5, 5)]])
    with pytest.raises(ValueError, match=r"boxes must have one entry per image \(2\), got 1"):
        ready.predict_batch([image_hw, image_hw], [[(1, 1, 5, 5)]])
    with pytest.raises(ValueError, match="needs boxes, point_coords or mask_input"):
        ready.predict_batch([image_hw])


def test_bad_clean_up_settings(video_checkpoint):
    with pytest.raises(ValueError, match="max_hole_area must be >= 0, got -1"):
        Sam2Predictor.from_pretrained(video_checkpoint, device="cpu", max_hole_area=-1)


def test_one_object_in_three_dimensions_is_squeezed_like_the_original(ready):
    nested = ready.predict(point_coords=[[(10, 10), (20, 5)]], point_labels=[[1, 0]])
    flat = ready.predict(point_coords=[(10, 10), (20, 5)], point_labels=[1, 0])
    assert nested.masks.shape == flat.masks.shape == (3, 48, 64)
    np.testing.assert_array_equal(nested.masks, flat.masks)


def test_no_boxes_give_empty_masks(ready, image_hw):
    empty = ready.predict_boxes([])
    assert len(empty) == 0 and empty.masks.shape == (0, 48, 64)
    results = ready.predict_batch([image_hw, image_hw[:20]], [[(1, 1, 9, 9)], []])
    assert [len(r) for r in results] == [1, 0] and results[1].masks.shape == (0, 20, 64)
    with pytest.raises(ValueError, match=r"boxes must be 4 numbers .* got shape \(3,\)"):
        ready.predict_boxes([1, 2, 3])


def test_masks_come_from_unclamped_logits(ready, image_hw, monkeypatch):
    """Clamping to [-32, 32] before upscaling would move the threshold crossing between a large
    and a small logit; the original upscales first and clamps only the returned logits."""
    from sam2_hf import fast_decode

    # The fast path is bit-identical to the forward (test_fast_decode.py); take the forward
    # here so that its output can be made loud.
    monkeypatch.setattr(fast_decode, "supports_fast_decode", lambda model: False)
    forward = ready.model.forward

    def loud(*args, **kwargs):
        outputs = forward(*args, **kwargs)
        outputs.pred_masks = outputs.pred_masks * 1e5  # far beyond the clamp
        return outputs

    monkeypatch.setattr(ready.model, "forward", loud)
    result = ready.predict(point_coords=[(40, 12)], return_logits=True)
    with torch.no_grad():
        raw = ready.model(
            image_embeddings=list(ready.embedding.features),
            **{
                k: v
                for k, v in ready.processor(
                    original_sizes=[[48, 64]],
                    input_points=[[[[40, 12]]]],
                    input_labels=[[[1]]],
                    return_tensors="pt",
                ).items()
                if k.startswith("input_")
            },
        )
    order = np.argsort(-raw.iou_scores[0, 0].numpy(), kind="stable")
    upscaled = ready.processor.post_process_masks(raw.pred_masks, [[48, 64]], binarize=False)[0]
    np.testing.assert_allclose(result.masks, upscaled[0].numpy()[order], rtol=1e-6)
    assert np.abs(result.masks).max() > 32 and np.abs(result.logits).max() == 32.0


# ---------------------------------------------------------------- the engine underneath


def test_predictor_is_a_front_end_of_its_engine(predictor, image_hw):
    from sam2_hf.engine.image import ImageEngine

    assert isinstance(predictor.engine, ImageEngine)
    assert predictor.model is predictor.engine.model and predictor.device == predictor.engine.device
    strict = Sam2Predictor(predictor.engine, mask_threshold=0.5)
    assert strict.engine is not predictor.engine and strict.engine.model is predictor.model
    assert strict.mask_threshold == 0.5 and predictor.mask_threshold == 0.0
    assert Sam2Predictor(predictor.engine).engine is predictor.engine
    from_loaded = Sam2Predictor(predictor.engine.loaded, max_hole_area=3)
    assert from_loaded.max_hole_area == 3 and from_loaded.mask_threshold == 0.0
    with pytest.raises(TypeError, match="max_hole_area must be an int, got float 2.7"):
        Sam2Predictor(predictor.engine.loaded, max_hole_area=2.7)
    with pytest.raises(TypeError, match="loaded must be a LoadedModel .* or an ImageEngine"):
        Sam2Predictor("tiny")  # type: ignore[arg-type]


def test_set_embedding_switches_images_without_encoding(predictor, image_hw, monkeypatch):
    predictor.set_image(image_hw)
    first = predictor.embedding
    first_result = predictor.predict(point_coords=[(10, 10)])
    predictor.set_image(image_hw[:20])
    calls = count_encoder_calls(predictor, monkeypatch)
    predictor.set_embedding(first)
    again = predictor.predict(point_coords=[(10, 10)])
    assert calls == [] and predictor.image_size == (48, 64)
    np.testing.assert_array_equal(again.masks, first_result.masks)
    with pytest.raises(ValueError, match="embedding must hold one image, got 2"):
        predictor.set_embedding(predictor.engine.encode([image_hw, image_hw]))


def test_a_detector_that_found_nothing_gives_an_empty_prediction(ready):
    empty = ready.predict(box=np.zeros((0, 4)))
    assert empty.masks.shape == (0, 1, 48, 64) and empty.masks.dtype == bool
    assert empty.scores.shape == (0, 1) and empty.object_score_logits.shape == (0,)
    assert empty.logits.shape == (0, 1, 32, 32)
    three = ready.predict(box=[], multimask_output=True, return_logits=True)
    assert three.masks.shape == (0, 3, 48, 64) and three.masks.dtype == np.float32


def test_a_mask_prompt_alone(ready, image_hw):
    first = ready.predict(point_coords=[(40, 12)])
    result = ready.predict(mask_input=first.logits[0])
    raw_masks, raw_scores, _ = raw_transformers(
        ready, image_hw, True, input_masks=torch.from_numpy(first.logits[0])[None, None]
    )
    assert result.masks.shape == (3, 48, 64)
    assert_matches_raw(result.masks, result.scores, raw_masks[0], raw_scores[0])


@pytest.mark.parametrize("height", [1, 3, 4])
def test_images_a_few_pixels_tall(predictor, height):
    image = np.random.default_rng(height).integers(0, 255, (height, 40, 3), dtype=np.uint8)
    predictor.set_image(image)
    assert predictor.image_size == (height, 40)
    assert predictor.predict(point_coords=[(20, 0)]).masks.shape == (3, height, 40)


def test_predict_batch_multimask_keeps_the_best_candidate(predictor, image_hw):
    boxes = [(5, 6, 50, 40), (0, 0, 20, 20)]
    (batched,) = predictor.predict_batch([image_hw], [boxes], multimask_output=True)
    predictor.set_image(image_hw)
    together = predictor.predict(box=boxes, multimask_output=True)  # the same decoder call
    np.testing.assert_array_equal(batched.masks, together.best)
    np.testing.assert_array_equal(batched.scores, together.best_score)
    np.testing.assert_array_equal(batched.logits, together.best_logits)


def test_predict_batch_normalized_coordinates(predictor, image_hw):
    pixels = predictor.predict_batch(
        [image_hw], [[(16, 6, 48, 36)]], point_coords=[[(32, 12)]], point_labels=[[1]]
    )[0]
    relative = predictor.predict_batch(
        [image_hw],
        [[(0.25, 0.125, 0.75, 0.75)]],
        point_coords=[[(0.5, 0.25)]],
        point_labels=[[1]],
        normalize_coords=False,
    )[0]
    np.testing.assert_array_equal(pixels.masks, relative.masks)
    np.testing.assert_array_equal(pixels.boxes, relative.boxes)


def test_predict_batch_mask_input_per_object(predictor, image_hw):
    boxes = np.array([(5, 6, 50, 40), (0, 0, 20, 20), (30, 10, 63, 47)], np.float32)
    first = predictor.predict_batch([image_hw], [boxes])[0]
    binary = np.zeros((3, 48, 64), bool)
    binary[:, 10:30, 20:40] = True
    for mask_input in (first.logits, binary):
        (refined,) = predictor.predict_batch([image_hw], [boxes], mask_input=[mask_input])
        predictor.set_image(image_hw)
        for index, box in enumerate(boxes):
            # Each object is its own batch entry: the same decoding up to float rounding.
            alone = predictor.predict(box=box, mask_input=mask_input[index])
            agree = (refined.masks[index] == alone.masks[0]).mean()
            assert agree > 0.999
            np.testing.assert_allclose(refined.scores[index], alone.scores[0], atol=1e-5)
    masks_only = predictor.predict_batch([image_hw], mask_input=[first.logits[:2]])[0]
    assert len(masks_only) == 2 and masks_only.boxes is None
    with pytest.raises(ValueError, match=r"mask_input\[0\] must hold one mask per object \(3\)"):
        predictor.predict_batch([image_hw], [boxes], mask_input=[first.logits[:2]])
    with pytest.raises(ValueError, match=r"mask_input\[0\] must hold one mask per object"):
        predictor.predict_batch([image_hw], [boxes], mask_input=[first.logits[0]])


def test_predict_batch_reads_each_file_once(predictor, tmp_path, image_hw, monkeypatch):
    from PIL import Image

    paths = []
    for name in ("a.png", "b.png"):
        Image.fromarray(image_hw).save(tmp_path / name)
        paths.append(tmp_path / name)
    opened: list[str] = []
    open_image = Image.open

    def counted(path, *args, **kwargs):
        opened.append(str(path))
        return open_image(path, *args, **kwargs)

    monkeypatch.setattr(Image, "open", counted)
    results = predictor.predict_batch(paths, [[(1, 1, 30, 30)], [(2, 2, 9, 9)]])
    assert sorted(opened) == sorted(map(str, paths))
    assert [len(r) for r in results] == [1, 1]
