"""ImageEngine against the raw transformers calls on the tiny random-weight checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sam2_hf.engine.image import (
    LOGIT_CLAMP,
    MASK_PROMPT_LOGIT,
    ImageEmbedding,
    ImageEngine,
    as_rgb,
    clamp_logits,
)
from sam2_hf.engine.loading import LoadedModel
from sam2_hf.formats.masks import clean_mask_logits
from sam2_hf.image.automatic import MaskGenerator


@pytest.fixture
def engine(predictor) -> ImageEngine:
    return predictor.engine


def original_coordinates(coords: np.ndarray, size: tuple[int, int], side: int) -> torch.Tensor:
    """sam2's ``SAM2Transforms.transform_coords(normalize=True)``, written out in float32."""
    height, width = size
    scaled = torch.tensor(coords, dtype=torch.float32)
    scaled[..., 0] = scaled[..., 0] / width
    scaled[..., 1] = scaled[..., 1] / height
    return scaled * side


# ---------------------------------------------------------------- encode


def test_embedding_holds_each_image_with_its_size(engine, image_hw):
    embedding = engine.encode([image_hw, image_hw[:30, :50]])
    assert len(embedding) == 2 and embedding.sizes == ((48, 64), (30, 50))
    second = embedding[1]
    assert isinstance(second, ImageEmbedding) and second.size == (30, 50)
    assert embedding[-1].size == (30, 50)
    for whole, part in zip(embedding.features, second.features, strict=True):
        assert part.shape == (1, *whole.shape[1:])
        assert torch.equal(part[0], whole[1])
    with pytest.raises(ValueError, match="holds 2 images; take one with embedding"):
        embedding.size  # noqa: B018
    with pytest.raises(IndexError):
        embedding[2]
    assert embedding[0:2].sizes == embedding.sizes
    assert embedding.to("cpu").sizes == embedding.sizes


def test_encode_equals_the_model_on_the_processor_pixels(engine, image_hw):
    pixels = engine.processor.image_processor(
        images=[image_hw.astype(np.float32) / 255],
        do_rescale=False,
        return_tensors="pt",
        input_data_format="channels_last",
    )["pixel_values"]
    with torch.no_grad():
        expected = engine.model.get_image_embeddings(pixels)
    embedding = engine.encode([image_hw])
    assert len(embedding.features) == len(expected)
    for ours, theirs in zip(embedding.features, expected, strict=True):
        assert torch.equal(ours, theirs)


@pytest.mark.parametrize("height", [1, 3, 4])
def test_images_a_few_pixels_tall_reach_the_model_channels_last(engine, height):
    """A (3, W, 3) image looks channels-first to transformers' guess; it must not be read so."""
    image = np.random.default_rng(height).random((height, 40, 3)).astype(np.float32)
    pixels, sizes = engine.preprocess([image])
    reference = engine.processor.image_processor(
        images=[np.ascontiguousarray(image.transpose(2, 0, 1))],
        do_rescale=False,
        return_tensors="pt",
        input_data_format="channels_first",
    )["pixel_values"]
    assert sizes == [(height, 40)]
    assert torch.equal(pixels, reference)


def test_as_rgb_keeps_loaded_arrays_and_loads_the_rest(image_hw):
    assert as_rgb(image_hw) is image_hw
    gray = as_rgb(image_hw[..., 0])
    assert gray.shape == (48, 64, 3) and gray.dtype == np.uint8
    with pytest.raises(ValueError, match="image array must have shape"):
        as_rgb(np.zeros(5))


# ---------------------------------------------------------------- coordinates


@pytest.mark.parametrize("size", [(48, 64), (123, 77), (37, 201), (480, 640)])
def test_model_coordinates_are_the_originals_arithmetic(engine, size):
    height, width = size
    rng = np.random.default_rng(0)
    coords = np.concatenate(
        [rng.uniform(0, (width, height), (200, 2)), np.stack([np.arange(50.0)] * 2, 1)]
    ).astype(np.float32)
    got = engine.model_coordinates(coords, size)
    assert got.dtype == torch.float32
    assert torch.equal(got, original_coordinates(coords, size, engine.input_size))
    boxes = coords[:100].reshape(-1, 2, 2)
    assert torch.equal(
        engine.model_coordinates(boxes, size), original_coordinates(boxes, size, 128)
    )


def test_one_coordinate_path_for_the_predictor_and_the_generator(predictor, monkeypatch):
    """The same click reaches the prompt encoder bit for bit from predict() and from the
    automatic generator's grid."""
    seen = []
    encoder = predictor.model.prompt_encoder
    forward = encoder.forward

    def spy(*args, **kwargs):
        seen.append(kwargs["input_points"].clone())
        return forward(*args, **kwargs)

    monkeypatch.setattr(encoder, "forward", spy)
    image = np.zeros((37, 201, 3), np.uint8)
    predictor.set_image(image)
    predictor.predict(point_coords=[(50.25, 9.25)])
    grid = [np.array([[50.25 / 201, 9.25 / 37]])]
    MaskGenerator(predictor, points_per_side=None, point_grids=grid, pred_iou_thresh=0.0).generate(
        image
    )
    from_predict, from_generator = seen
    assert from_predict.shape == from_generator.shape == (1, 1, 1, 2)
    assert torch.equal(from_predict, from_generator)
    expected = original_coordinates(np.array([[50.25, 9.25]]), (37, 201), 128)
    assert torch.equal(from_predict[0, 0], expected)


# ---------------------------------------------------------------- decode


def raw(engine, embedding, multimask, **prompts):
    with torch.no_grad():
        out = engine.model(
            image_embeddings=list(embedding.features), multimask_output=multimask, **prompts
        )
    return out.pred_masks[0], out.iou_scores[0], out.object_score_logits[0, :, 0]


@pytest.mark.parametrize("multimask_output", [True, False])
def test_decode_equals_the_model_forward(engine, image_hw, multimask_output):
    embedding = engine.encode([image_hw])
    points = np.array([[(40, 12), (10, 30)], [(5, 5), (60, 40)]], np.float32)
    labels = np.array([[1, 0], [1, 1]])
    boxes = np.array([[5, 6, 50, 40], [0, 0, 20, 20]], np.float32)
    decoded = engine.decode(
        embedding, points=points, labels=labels, boxes=boxes, multimask_output=multimask_output
    )
    size = embedding.size
    want = raw(
        engine,
        embedding,
        multimask_output,
        input_points=original_coordinates(points, size, 128)[None],
        input_labels=torch.from_numpy(labels)[None],
        input_boxes=original_coordinates(boxes.reshape(-1, 2, 2), size, 128).reshape(1, -1, 4),
    )
    candidates = 3 if multimask_output else 1
    assert decoded.low_res.shape == (2, candidates, *engine.mask_size)
    assert decoded.scores.shape == (2, candidates) and decoded.object_score_logits.shape == (2,)
    for ours, theirs in zip(decoded, want, strict=True):
        assert ours.dtype == torch.float32 and torch.equal(ours, theirs)


def test_decode_one_mask_per_object_is_one_batch_entry_per_object(engine, image_hw):
    """transformers takes one mask prompt per image: each object becomes a batch entry."""
    embedding = engine.encode([image_hw])
    points = np.array([[(40, 12)], [(10, 30)], [(50, 40)]], np.float32)
    logits = torch.randn(3, 1, *engine.mask_size, generator=torch.Generator().manual_seed(0))
    decoded = engine.decode(embedding, points=points, mask_logits=logits, multimask_output=False)
    coords = original_coordinates(points, embedding.size, 128)
    with torch.no_grad():
        out = engine.model(
            image_embeddings=[level.expand(3, -1, -1, -1) for level in embedding.features],
            input_points=coords[:, None],
            input_labels=torch.ones(3, 1, 1, dtype=torch.int64),
            input_masks=logits,
            multimask_output=False,
        )
    assert torch.equal(decoded.low_res, out.pred_masks[:, 0])
    assert torch.equal(decoded.scores, out.iou_scores[:, 0])
    assert torch.equal(decoded.object_score_logits, out.object_score_logits[:, 0, 0])
    # Each entry is that object's own decoding (to float rounding: batch sizes differ).
    for i in range(3):
        alone = engine.decode(
            embedding, points=points[i : i + 1], mask_logits=logits[i : i + 1],
            multimask_output=False,
        )  # fmt: skip
        torch.testing.assert_close(decoded.low_res[i], alone.low_res[0], rtol=0, atol=1e-5)


def test_decode_a_mask_alone(engine, image_hw):
    embedding = engine.encode([image_hw])
    logits = torch.randn(1, 1, *engine.mask_size, generator=torch.Generator().manual_seed(1))
    decoded = engine.decode(embedding, mask_logits=logits)
    want = raw(engine, embedding, True, input_masks=logits)
    assert torch.equal(decoded.low_res, want[0]) and torch.equal(decoded.scores, want[1])


def test_decode_with_gradients_for_training(engine, image_hw):
    embedding = engine.encode([image_hw])  # no gradients, yet usable by autograd later
    plain = engine.decode(embedding, points=[[(10, 10)]])
    assert not plain.low_res.requires_grad
    engine.model.zero_grad()
    tracked = engine.decode(embedding, points=[[(10, 10)]], grad=True)
    assert tracked.low_res.requires_grad
    assert torch.equal(tracked.low_res.detach(), plain.low_res)
    (tracked.low_res.mean() + tracked.scores.mean()).backward()
    grad = engine.model.mask_decoder.iou_prediction_head.proj_in.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    engine.model.zero_grad()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs a prompt"),
        ({"points": np.zeros((2, 2))}, r"points must have shape \(N, K, 2\), got \(2, 2\)"),
        ({"points": np.zeros((2, 1, 2)), "labels": np.ones((2, 2))}, r"labels must have shape"),
        ({"labels": np.ones((1, 1))}, "labels were given without points"),
        ({"boxes": np.zeros(4)}, r"boxes must have shape \(N, 4\)"),
        (
            {"points": np.zeros((2, 1, 2)), "boxes": np.zeros((3, 4))},
            r"points are for 2 object\(s\) but boxes for 3",
        ),
        (
            {"points": np.zeros((3, 1, 2)), "mask_logits": torch.zeros(2, 1, 32, 32)},
            r"1 mask or one per object \(3\)",
        ),
        ({"mask_logits": torch.zeros(1, 32, 32)}, r"mask_logits must have shape \(M, 1, 32, 32\)"),
    ],
)
def test_decode_rejects_malformed_prompts(engine, image_hw, kwargs, message):
    embedding = engine.encode([image_hw])
    with pytest.raises(ValueError, match=message):
        engine.decode(embedding, **kwargs)


def test_decode_takes_one_image(engine, image_hw):
    embedding = engine.encode([image_hw, image_hw])
    with pytest.raises(ValueError, match="holds 2 images"):
        engine.decode(embedding, points=[[(1, 1)]])
    empty = engine.decode(embedding[0], boxes=np.zeros((0, 4)), multimask_output=False)
    assert empty.low_res.shape == (0, 1, *engine.mask_size) and empty.scores.shape == (0, 1)


# ---------------------------------------------------------------- output


def test_postprocess_upscales_unclamped_and_returns_clamped_logits(engine):
    low_res = torch.randn(2, 3, *engine.mask_size, generator=torch.Generator().manual_seed(2))
    low_res = low_res * 50  # beyond the clamp
    masks, logits = engine.postprocess(low_res, (48, 64))
    upscaled = F.interpolate(low_res, (48, 64), mode="bilinear", align_corners=False)
    assert masks.shape == (2, 3, 48, 64) and masks.dtype == bool
    np.testing.assert_array_equal(masks, (upscaled > 0).numpy())
    np.testing.assert_array_equal(logits, low_res.clamp(-32, 32).numpy())
    assert LOGIT_CLAMP == 32.0 and np.abs(logits).max() == LOGIT_CLAMP
    np.testing.assert_array_equal(clamp_logits(low_res).numpy(), logits)
    floats, _ = engine.postprocess(low_res, (48, 64), binarize=False)
    assert floats.dtype == np.float32 and np.array_equal(floats, upscaled.numpy())
    strict = engine.with_options(mask_threshold=5.0).postprocess(low_res, (48, 64))[0]
    np.testing.assert_array_equal(strict, (upscaled > 5.0).numpy())


def test_upscale_cleans_the_low_res_logits_first(engine):
    low_res = torch.full((1, 1, *engine.mask_size), 8.0)
    low_res[0, 0, 10, 10] = -8.0  # a one-cell hole
    low_res[0, 0, 25:27, 25:27] = -8.0  # a four-cell hole
    cleaner = engine.with_options(max_hole_area=1)
    assert cleaner.model is engine.model and engine.max_hole_area == 0
    expected = clean_mask_logits(low_res.numpy(), max_hole_area=1)
    upscaled = F.interpolate(torch.from_numpy(expected), (64, 64), mode="bilinear")
    assert torch.equal(cleaner.upscale(low_res, (64, 64)), upscaled)
    assert not torch.equal(engine.upscale(low_res, (64, 64)), upscaled)


def test_mask_prompt_from_logits_and_from_a_binary_mask(engine):
    low_h, low_w = engine.mask_size
    logits = np.random.default_rng(0).normal(size=(low_h, low_w)).astype(np.float32)
    prompt = engine.mask_prompt(logits[None], (48, 64))
    assert prompt.shape == (1, 1, low_h, low_w) and np.array_equal(prompt[0, 0].numpy(), logits)
    cells = np.zeros((low_h, low_w), bool)
    cells[3:9, 4:20] = True
    full = np.kron(cells, np.ones((2, 3), bool))  # whole low-res cells at a (64, 96) image
    binary = engine.mask_prompt(full, (2 * low_h, 3 * low_w))
    expected = np.where(cells, MASK_PROMPT_LOGIT, -MASK_PROMPT_LOGIT)
    np.testing.assert_array_equal(binary[0, 0].numpy(), expected)
    with pytest.raises(ValueError, match=r"the image's shape \(H, W\) = \(48, 64\)"):
        engine.mask_prompt(np.zeros((4, 4), bool), (48, 64))
    with pytest.raises(TypeError, match="float logits or a bool mask"):
        engine.mask_prompt(np.array([["a"]]), (48, 64))


# ---------------------------------------------------------------- construction


def test_engine_options_are_checked(predictor):
    loaded = predictor.engine.loaded
    with pytest.raises(TypeError, match="max_hole_area must be an int, got float 2.7"):
        ImageEngine(loaded, max_hole_area=2.7)
    with pytest.raises(ValueError, match="max_sprinkle_area must be >= 0, got -1"):
        ImageEngine(loaded, max_sprinkle_area=-1)
    with pytest.raises(ValueError, match="mask_threshold must be a finite number"):
        ImageEngine(loaded, mask_threshold=float("nan"))
    with pytest.raises(TypeError, match="loaded must be a LoadedModel"):
        ImageEngine(predictor)  # type: ignore[arg-type]
    engine = ImageEngine(loaded, mask_threshold=0.5, max_hole_area=3)
    assert isinstance(engine.loaded, LoadedModel) and engine.processor is predictor.processor
    assert (engine.mask_threshold, engine.max_hole_area, engine.max_sprinkle_area) == (0.5, 3, 0)
    assert engine.input_size == 128 and engine.mask_size == (32, 32)
    assert "mask_threshold=0.5" in repr(engine)


def test_from_pretrained_loads_a_folder(video_checkpoint):
    engine = ImageEngine.from_pretrained(video_checkpoint, device="cpu", max_sprinkle_area=4)
    assert engine.device == torch.device("cpu") and engine.max_sprinkle_area == 4
    assert type(engine.model).__name__ == "Sam2Model"
