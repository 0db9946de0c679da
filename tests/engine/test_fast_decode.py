"""decode_clicks gives transformers' own decoder outputs bit for bit.

These are the canary for a transformers release that changes ``Sam2MaskDecoder``: the fast
path re-runs its steps with the model's modules, so any change there must fail here.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import (
    IMAGE_SIZE,
    SAM3_IMAGE_SIZE,
    tiny_edgetam_video_config,
    tiny_sam3_video_config,
    tiny_vision_config,
)
from transformers import Sam2Config, Sam2Model

from sam2_hf.engine import fast_decode
from sam2_hf.engine.fast_decode import decode_clicks, decode_prompts, supports_fast_decode
from sam2_hf.engine.registry import FAMILIES


def reference(model, embeddings, points, labels, multimask_output):
    out = model(
        image_embeddings=embeddings,
        input_points=points[None, :, None],
        input_labels=labels[None, :, None],
        multimask_output=multimask_output,
    )
    return out.pred_masks[0], out.iou_scores[0]


def clicks(count: int, image_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(count, 2) float32 clicks in model input pixels; a few background labels among them."""
    generator = torch.Generator().manual_seed(seed)
    points = torch.rand(count, 2, generator=generator) * image_size
    labels = (torch.rand(count, generator=generator) > 0.2).to(torch.int64)
    return points, labels


def random_embeddings(model: Sam2Model, seed: int = 0) -> list[torch.Tensor]:
    """Feature levels of the shapes the decoder expects: (1, C/8, 4h, 4w), (1, C/4, 2h, 2w),
    (1, C, h, w) with h = w = image_size / 16."""
    generator = torch.Generator().manual_seed(seed)
    hidden = model.config.mask_decoder_config.hidden_size
    side = model.config.prompt_encoder_config.image_size // 16
    shapes = [(1, hidden // 8, 4 * side, 4 * side), (1, hidden // 4, 2 * side, 2 * side)]
    shapes.append((1, hidden, side, side))
    return [torch.randn(shape, generator=generator) for shape in shapes]


def decoder_model(hidden: int, image_size: int, **kwargs) -> Sam2Model:
    """A Sam2Model whose prompt encoder and mask decoder are ``hidden`` wide (256 as released);
    the tiny vision model is never run."""
    torch.manual_seed(0)
    config = Sam2Config(
        vision_config=tiny_vision_config(),
        prompt_encoder_config={"hidden_size": hidden, "image_size": image_size, "patch_size": 16},
        mask_decoder_config={"hidden_size": hidden},
        **kwargs,
    )
    return Sam2Model(config).eval()


def assert_same(model, embeddings, points, labels, multimask_output):
    with torch.inference_mode():
        masks, iou = decode_clicks(model, embeddings, points, labels, multimask_output)
        want_masks, want_iou = reference(model, embeddings, points, labels, multimask_output)
    assert masks.shape == want_masks.shape and iou.shape == want_iou.shape
    assert torch.equal(masks, want_masks)
    assert torch.equal(iou, want_iou)


@pytest.fixture(scope="module")
def released_width() -> Sam2Model:
    return decoder_model(256, IMAGE_SIZE)


@pytest.mark.parametrize("multimask_output", [True, False])
@pytest.mark.parametrize("count", [1, 7, 64])
def test_same_as_the_model_on_the_tiny_checkpoint(predictor, image_hw, count, multimask_output):
    model = predictor.model
    assert supports_fast_decode(model)
    embeddings = list(predictor.engine.encode([image_hw]).features)
    points, labels = clicks(count, IMAGE_SIZE)
    assert_same(model, embeddings, points, labels, multimask_output)


@pytest.mark.parametrize("multimask_output", [True, False])
@pytest.mark.parametrize("count", [1, 7, 64])
def test_same_as_the_model_at_the_released_width(released_width, count, multimask_output):
    points, labels = clicks(count, IMAGE_SIZE, seed=count)
    embeddings = random_embeddings(released_width, seed=count)
    assert_same(released_width, embeddings, points, labels, multimask_output)


def test_single_mask_takes_the_models_stability_fallback(released_width, monkeypatch):
    """multimask_output=False keeps token 0's mask where it is stable, else the best of the
    other three: a threshold at the median stability makes both branches occur."""
    points, labels = clicks(64, IMAGE_SIZE)
    embeddings = random_embeddings(released_width)
    decoder = released_width.mask_decoder
    assert decoder.dynamic_multimask_via_stability
    select = decoder._dynamic_multimask_via_stability
    seen = []

    def spy(all_mask_logits, all_iou_scores):
        seen.append(decoder._get_stability_scores(all_mask_logits[:, :, 0:1]))
        return select(all_mask_logits, all_iou_scores)

    monkeypatch.setattr(decoder, "_dynamic_multimask_via_stability", spy)
    with torch.inference_mode():
        reference(released_width, embeddings, points, labels, False)
    monkeypatch.setattr(decoder, "dynamic_multimask_stability_thresh", seen[0].median().item())
    with torch.inference_mode():
        single, _ = reference(released_width, embeddings, points, labels, False)
        multi, _ = reference(released_width, embeddings, points, labels, True)
    replaced = [any(torch.equal(single[i, 0], mask) for mask in multi[i]) for i in range(64)]
    assert any(replaced) and not all(replaced)
    assert_same(released_width, embeddings, points, labels, False)


def test_same_as_the_model_with_eager_attention():
    model = decoder_model(256, IMAGE_SIZE, attn_implementation="eager")
    assert model.mask_decoder.config._attn_implementation == "eager"
    points, labels = clicks(7, IMAGE_SIZE)
    assert_same(model, random_embeddings(model), points, labels, True)


def test_same_as_the_model_at_the_released_size_on_two_threads():
    """1024 input (64 x 64 image tokens, 256 x 256 high-res features) as the benchmark runs it:
    the shared projections multiply 4096 rows where the model multiplies 7 * 4096. (64 clicks
    take 8 s here; benchmarks/automatic.py checks them through the records.)"""
    model = decoder_model(256, 1024)
    points, labels = clicks(7, 1024)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert_same(model, random_embeddings(model), points, labels, True)
    finally:
        torch.set_num_threads(threads)


def test_other_models_are_called_as_they_are():
    class Subclass(Sam2Model):
        pass

    torch.manual_seed(0)
    config = decoder_model(32, IMAGE_SIZE).config
    assert not supports_fast_decode(Subclass(config))
    seen = {}

    def model(**kwargs):
        seen.update(kwargs)
        count = kwargs["input_points"].shape[1]
        return SimpleNamespace(
            pred_masks=torch.zeros(1, count, 3, 4, 4), iou_scores=torch.zeros(1, count, 3)
        )

    points = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    labels = torch.ones(2, dtype=torch.int64)
    masks, _ = decode_clicks(model, [], points, labels, True)
    assert masks.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(seen["input_points"].numpy(), points[None, :, None].numpy())
    assert seen["input_labels"].shape == (1, 2, 1) and seen["multimask_output"] is True


def prompt_cases(image_size: int) -> dict[str, dict[str, torch.Tensor]]:
    """Prompt tensors as Sam2Processor makes them for one image, one case per prompt kind."""
    generator = torch.Generator().manual_seed(3)
    points = torch.rand(1, 4, 3, 2, generator=generator) * image_size
    labels = torch.tensor([[[1, 0, 1], [1, 1, 1], [0, 1, 1], [1, 0, 0]]])
    corners = torch.rand(1, 4, 2, generator=generator) * image_size / 2
    boxes = torch.cat([corners, corners + image_size / 3], dim=-1)
    low_res = 4 * image_size // 16
    mask = torch.randn(1, 1, low_res, low_res, generator=generator) * 10
    return {
        "points": {"input_points": points, "input_labels": labels},
        "points without labels": {"input_points": points},
        "boxes": {"input_boxes": boxes},
        "points and boxes": {"input_points": points, "input_labels": labels, "input_boxes": boxes},
        "point and mask": {
            "input_points": points[:, :1],
            "input_labels": labels[:, :1],
            "input_masks": mask,
        },
        "mask alone": {"input_masks": mask},
        "box and full-size mask": {
            "input_boxes": boxes[:, :1],
            "input_masks": torch.randn(1, 1, image_size, image_size, generator=generator),
        },
    }


@pytest.mark.parametrize("multimask_output", [True, False])
@pytest.mark.parametrize("case", list(prompt_cases(IMAGE_SIZE)))
def test_decode_prompts_same_as_the_model(released_width, case, multimask_output):
    """What the image predictor sends: every prompt kind, several objects at once."""
    prompts = prompt_cases(IMAGE_SIZE)[case]
    embeddings = random_embeddings(released_width, seed=5)
    with torch.inference_mode():
        masks, iou, objects = decode_prompts(
            released_width, embeddings, multimask_output=multimask_output, **prompts
        )
        want = released_width(
            image_embeddings=embeddings, multimask_output=multimask_output, **prompts
        )
    assert torch.equal(masks, want.pred_masks[0])
    assert torch.equal(iou, want.iou_scores[0])
    assert torch.equal(objects, want.object_score_logits[0])


# ---------------------------------------------------------------- every family (issue 14)
#
# The fast path serves a family only if it gives that family's model outputs bit for bit:
# these tests are the proof behind fast_decode.FAST_DECODE_FAMILIES.

FAMILY_IMAGE_SIZE = {"sam2": IMAGE_SIZE, "edgetam": IMAGE_SIZE, "sam3_tracker": SAM3_IMAGE_SIZE}


def family_decoder_model(family: str, hidden: int = 256):
    """The family's image model with a ``hidden``-wide prompt encoder and mask decoder (256 as
    released) on its tiny vision config (never run: embeddings are random)."""
    if family == "sam2":
        return decoder_model(hidden, IMAGE_SIZE)
    torch.manual_seed(0)
    size = FAMILY_IMAGE_SIZE[family]
    patch = 14 if family == "sam3_tracker" else 16
    prompt = {"hidden_size": hidden, "image_size": size, "patch_size": patch}
    if family == "edgetam":
        pytest.importorskip("timm")
        from transformers import EdgeTamConfig, EdgeTamModel

        vision = tiny_edgetam_video_config().vision_config
        config = EdgeTamConfig(
            vision_config=vision,
            prompt_encoder_config=prompt,
            mask_decoder_config={"hidden_size": hidden},
        )
        return EdgeTamModel(config).eval()
    from transformers import Sam3TrackerConfig, Sam3TrackerModel

    vision = tiny_sam3_video_config().tracker_config.vision_config
    config = Sam3TrackerConfig(
        vision_config=vision,
        prompt_encoder_config=prompt,
        mask_decoder_config={"hidden_size": hidden},
    )
    return Sam3TrackerModel(config).eval()


def family_embeddings(model, seed: int = 0) -> list[torch.Tensor]:
    """Random feature levels of the shapes the model's decoder reads."""
    generator = torch.Generator().manual_seed(seed)
    hidden = model.config.mask_decoder_config.hidden_size
    side = model.prompt_encoder.image_embedding_size[0]
    shapes = [(1, hidden // 8, 4 * side, 4 * side), (1, hidden // 4, 2 * side, 2 * side)]
    shapes.append((1, hidden, side, side))
    return [torch.randn(shape, generator=generator) for shape in shapes]


@pytest.fixture(scope="module", params=sorted(fast_decode.FAST_DECODE_FAMILIES))
def family_model(request):
    return request.param, family_decoder_model(request.param)


def test_fast_decode_families_are_the_registrys():
    assert fast_decode.FAST_DECODE_FAMILIES <= set(FAMILIES)


@pytest.mark.parametrize("multimask_output", [True, False])
@pytest.mark.parametrize("count", [1, 7])
def test_every_family_same_as_its_model_at_the_released_width(
    family_model, count, multimask_output
):
    family, model = family_model
    assert supports_fast_decode(model), family
    size = FAMILY_IMAGE_SIZE[family]
    points, labels = clicks(count, size, seed=count)
    assert_same(model, family_embeddings(model, seed=count), points, labels, multimask_output)


@pytest.mark.parametrize("multimask_output", [True, False])
@pytest.mark.parametrize("case", list(prompt_cases(IMAGE_SIZE)))
def test_every_family_decode_prompts_same_as_its_model(family_model, case, multimask_output):
    family, model = family_model
    size = FAMILY_IMAGE_SIZE[family]
    prompts = prompt_cases(size)[case]
    side = model.prompt_encoder.mask_input_size
    if "input_masks" in prompts and prompts["input_masks"].shape[-1] != size:
        generator = torch.Generator().manual_seed(4)
        prompts["input_masks"] = torch.randn(1, 1, *side, generator=generator) * 10
    embeddings = family_embeddings(model, seed=5)
    with torch.inference_mode():
        masks, iou, objects = decode_prompts(
            model, embeddings, multimask_output=multimask_output, **prompts
        )
        want = model(image_embeddings=embeddings, multimask_output=multimask_output, **prompts)
    assert torch.equal(masks, want.pred_masks[0])
    assert torch.equal(iou, want.iou_scores[0])
    assert torch.equal(objects, want.object_score_logits[0])


@pytest.mark.parametrize("fixture", ["edgetam_checkpoint", "sam3_checkpoint"])
def test_every_family_same_on_its_tiny_checkpoint(request, fixture, image_hw):
    from sam2_hf import Sam2Predictor

    predictor = Sam2Predictor.from_pretrained(request.getfixturevalue(fixture), device="cpu")
    assert supports_fast_decode(predictor.model)
    embeddings = list(predictor.engine.encode([image_hw]).features)
    points, labels = clicks(7, predictor.engine.input_size)
    for multimask_output in (True, False):
        assert_same(predictor.model, embeddings, points, labels, multimask_output)


def test_a_family_left_out_is_decoded_by_its_model(monkeypatch):
    model = family_decoder_model("sam3_tracker", hidden=32)
    monkeypatch.setattr(fast_decode, "FAST_DECODE_FAMILIES", frozenset({"sam2"}))
    assert not supports_fast_decode(model)
    points, labels = clicks(3, SAM3_IMAGE_SIZE)
    assert_same(model, family_embeddings(model), points, labels, True)
