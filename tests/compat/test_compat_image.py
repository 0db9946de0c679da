"""``sam2_hf.compat.SAM2ImagePredictor`` against the original sam2, side by side on the same
random weights: same masks, scores, candidate order, low-res logits, types and shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("sam2")
# The original builds its image transforms with torch.jit.script, which torch now deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")

from original_sam2 import (  # noqa: E402
    CONFIG,
    TINY_OVERRIDES,
    Originals,
    original_image_predictor,
    original_on_cpu,
    originals,
    test_image,
)

from sam2_hf.compat import SAM2ImagePredictor, build_sam2  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Originals:
    return originals(tmp_path_factory.mktemp("original"))


@pytest.fixture(scope="module")
def compat_model(tiny: Originals) -> torch.nn.Module:
    return build_sam2(CONFIG, tiny.checkpoint, device="cpu", hydra_overrides_extra=TINY_OVERRIDES)


@pytest.fixture(scope="module")
def pair(tiny: Originals, compat_model: torch.nn.Module):
    """(original predictor, compat predictor) with the same image set."""
    original = original_image_predictor(tiny.image_model)
    compat = SAM2ImagePredictor(compat_model)
    image = test_image()
    original.set_image(image)
    compat.set_image(image)
    return original, compat


def assert_same(original: tuple, compat: tuple, *, logits: bool = False) -> None:
    """The original's (masks, scores, low-res logits) and ours agree."""
    assert type(compat) is tuple and len(compat) == 3
    for mine, theirs in zip(compat, original, strict=True):
        assert type(mine) is np.ndarray
        assert mine.dtype == theirs.dtype == np.float32
        assert mine.shape == theirs.shape
    masks, scores, low_res = compat
    # Scores in the same candidate order, to 1e-4.
    np.testing.assert_allclose(scores, original[1], atol=1e-4, rtol=0)
    np.testing.assert_allclose(low_res, original[2], atol=1e-4, rtol=0)
    if logits:
        np.testing.assert_allclose(masks, original[0], atol=1e-4, rtol=0)
        mine_fg, theirs_fg = masks > 0, original[0] > 0
    else:
        assert set(np.unique(masks)) <= {0.0, 1.0}
        mine_fg, theirs_fg = masks > 0.5, original[0] > 0.5
    planes = masks.shape[-2:]
    for a, b in zip(mine_fg.reshape(-1, *planes), theirs_fg.reshape(-1, *planes), strict=True):
        union = (a | b).sum()
        iou = 1.0 if union == 0 else (a & b).sum() / union
        assert iou >= 0.999
    np.testing.assert_array_equal(mine_fg, theirs_fg)


PROMPTS = {
    "one click": dict(point_coords=np.array([[30, 20]]), point_labels=np.array([1])),
    "one click, single mask": dict(
        point_coords=np.array([[30, 20]]), point_labels=np.array([1]), multimask_output=False
    ),
    "clicks with a negative": dict(
        point_coords=np.array([[30, 20], [5, 40]]), point_labels=np.array([1, 0])
    ),
    "box": dict(box=np.array([15, 5, 55, 35]), multimask_output=False),
    "box partly outside": dict(box=np.array([-10, 5, 80, 35])),
    "box and click": dict(
        box=np.array([15, 5, 55, 35]), point_coords=np.array([[30, 20]]), point_labels=np.array([1])
    ),
    "boxes": dict(box=np.array([[15, 5, 55, 35], [0, 0, 20, 20]]), multimask_output=False),
    "boxes with clicks": dict(
        box=np.array([[15, 5, 55, 35], [0, 0, 20, 20]]),
        point_coords=np.array([[[30, 20]], [[10, 10]]]),
        point_labels=np.array([[1], [1]]),
    ),
    "normalized": dict(
        point_coords=np.array([[0.5, 0.4]]), point_labels=np.array([1]), normalize_coords=False
    ),
    "no prompt": dict(),
    "list input": dict(point_coords=[[30, 20]], point_labels=[1]),
}


@pytest.mark.parametrize("name", PROMPTS)
def test_predict_matches_the_original(pair, name: str) -> None:
    original, compat = pair
    assert_same(original.predict(**PROMPTS[name]), compat.predict(**PROMPTS[name]))


def test_shapes_follow_the_original(pair) -> None:
    _, compat = pair
    masks, scores, low_res = compat.predict(**PROMPTS["one click"])
    assert masks.shape == (3, 48, 64) and scores.shape == (3,) and low_res.shape == (3, 32, 32)
    masks, scores, low_res = compat.predict(**PROMPTS["boxes"])
    assert masks.shape == (2, 1, 48, 64) and scores.shape == (2, 1)
    assert low_res.shape == (2, 1, 32, 32)


def test_candidates_keep_the_decoder_order(pair) -> None:
    """The original does not sort candidates by score; neither do we. The test is not
    vacuous: this prompt's scores are not sorted."""
    original, compat = pair
    _, scores, _ = compat.predict(**PROMPTS["one click"])
    assert not np.all(np.diff(scores) <= 0)
    np.testing.assert_allclose(scores, original.predict(**PROMPTS["one click"])[1], atol=1e-4)


def test_masks_are_not_trivial(pair) -> None:
    """The comparisons above would prove little on all-empty or all-full masks."""
    _, compat = pair
    masks, _, _ = compat.predict(**PROMPTS["one click"])
    fractions = masks.reshape(len(masks), -1).mean(axis=1)
    assert ((fractions > 0.05) & (fractions < 0.95)).any()


def test_return_logits(pair) -> None:
    original, compat = pair
    prompt = dict(PROMPTS["one click"], return_logits=True)
    ours = compat.predict(**prompt)
    assert_same(original.predict(**prompt), ours, logits=True)
    assert ours[0].min() < 0 < ours[0].max()


def test_mask_input_from_a_previous_prediction(pair) -> None:
    original, compat = pair
    _, scores, low_res = original.predict(**PROMPTS["one click"])
    previous = low_res[np.argmax(scores)][None]  # (1, 32, 32), as in Meta's notebook
    refine = dict(PROMPTS["one click"], mask_input=previous, multimask_output=False)
    assert_same(original.predict(**refine), compat.predict(**refine))
    assert_same(original.predict(mask_input=previous), compat.predict(mask_input=previous))


def test_pil_image(tiny: Originals, compat_model: torch.nn.Module) -> None:
    original = original_image_predictor(tiny.image_model)
    compat = SAM2ImagePredictor(compat_model)
    image = Image.fromarray(test_image(seed=1))
    original.set_image(image)
    compat.set_image(image)
    assert compat._orig_hw == original._orig_hw == [(48, 64)]
    assert_same(original.predict(**PROMPTS["one click"]), compat.predict(**PROMPTS["one click"]))


def test_state_attributes(pair) -> None:
    original, compat = pair
    assert compat._is_image_set is True
    assert compat._orig_hw == [tuple(s) for s in original._orig_hw]
    assert compat.device == torch.device("cpu")
    assert set(compat._features) == {"image_embed", "high_res_feats"}
    for mine, theirs in zip(
        [*compat._features["high_res_feats"], compat._features["image_embed"]],
        [*original._features["high_res_feats"], original._features["image_embed"]],
        strict=True,
    ):
        assert mine.shape == theirs.shape
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=0)
    embedding = compat.get_image_embedding()
    assert embedding.shape == original.get_image_embedding().shape == (1, 128, 8, 8)


def test_batch_of_images(tiny: Originals, compat_model: torch.nn.Module) -> None:
    original = original_image_predictor(tiny.image_model)
    compat = SAM2ImagePredictor(compat_model)
    images = [test_image(seed=0), test_image(seed=2, height=40, width=40)]
    original.set_image_batch(images)
    compat.set_image_batch(images)
    assert compat._is_batch and compat._orig_hw == [(48, 64), (40, 40)]
    prompts = dict(
        point_coords_batch=[np.array([[30, 20]]), np.array([[10, 10], [30, 30]])],
        point_labels_batch=[np.array([1]), np.array([1, 0])],
        multimask_output=True,
    )
    theirs, mine = original.predict_batch(**prompts), compat.predict_batch(**prompts)
    assert type(mine) is tuple and all(type(part) is list for part in mine)
    for index in range(2):
        assert_same(tuple(part[index] for part in theirs), tuple(part[index] for part in mine))
    boxes = dict(box_batch=[np.array([15, 5, 55, 35]), np.array([[0, 0, 20, 20], [5, 5, 35, 35]])])
    theirs, mine = (
        original.predict_batch(**boxes, multimask_output=False),
        compat.predict_batch(**boxes, multimask_output=False),
    )
    for index in range(2):
        assert_same(tuple(part[index] for part in theirs), tuple(part[index] for part in mine))


def test_hole_and_sprinkle_cleanup(tiny: Originals, compat_model: torch.nn.Module) -> None:
    """max_hole_area / max_sprinkle_area (floats, as the original takes them) on the low-res
    masks, with the original's CUDA connected components run on the CPU."""
    settings = dict(max_hole_area=10.5, max_sprinkle_area=10.0)
    with original_on_cpu():
        original = original_image_predictor(tiny.image_model, **settings)
        compat = SAM2ImagePredictor(compat_model, **settings)
        image = test_image()
        original.set_image(image)
        compat.set_image(image)
        for prompt in ("one click", "box"):
            assert_same(original.predict(**PROMPTS[prompt]), compat.predict(**PROMPTS[prompt]))
        prompt = dict(PROMPTS["one click"], return_logits=True)
        assert_same(original.predict(**prompt), compat.predict(**prompt), logits=True)


def test_call_order_errors(compat_model: torch.nn.Module) -> None:
    compat = SAM2ImagePredictor(compat_model)
    with pytest.raises(RuntimeError, match=r"set_image"):
        compat.predict(**PROMPTS["one click"])
    with pytest.raises(RuntimeError, match=r"set_image"):
        compat.get_image_embedding()
    compat.set_image(test_image())
    with pytest.raises(RuntimeError, match=r"batched mode"):
        compat.predict_batch(point_coords_batch=[np.array([[1, 1]])])
    with pytest.raises(ValueError, match=r"point_labels must be supplied"):
        compat.predict(point_coords=np.array([[1, 1]]))
    compat.reset_predictor()
    assert compat._is_image_set is False and compat._features is None and compat._orig_hw is None


def test_from_pretrained_reads_the_hub_cache(tiny: Originals, tmp_path: Path) -> None:
    """``from_pretrained("facebook/sam2.1-hiera-tiny")`` reads Meta's ``.pt`` from the Hugging
    Face cache, as the original does; keyword arguments reach the builder."""
    repo = tmp_path / "models--facebook--sam2.1-hiera-tiny"
    commit = "0" * 40
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "sam2.1_hiera_tiny.pt").write_bytes(Path(tiny.checkpoint).read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    compat = SAM2ImagePredictor.from_pretrained(
        "facebook/sam2.1-hiera-tiny",
        device="cpu",
        hydra_overrides_extra=TINY_OVERRIDES,
        cache_dir=tmp_path,
        mask_threshold=0.0,
    )
    original = original_image_predictor(tiny.image_model)
    image = test_image()
    compat.set_image(image)
    original.set_image(image)
    assert_same(original.predict(**PROMPTS["box"]), compat.predict(**PROMPTS["box"]))
