"""``build_sam2`` / ``build_sam2_video_predictor``: the original's keywords, what each does
here, and the errors and warnings for the ones transformers cannot follow."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from original_sam2 import CONFIG, TINY_OVERRIDES
from transformers import Sam2Model

from sam2_hf.compat import (
    SAM2ImagePredictor,
    SAM2VideoPredictor,
    build_sam2,
    build_sam2_video_predictor,
)
from sam2_hf.compat import build_sam as build_module

# Meta's tiny config, shrunk: the overrides the side-by-side tests use.
SHRINK = TINY_OVERRIDES
pytestmark = pytest.mark.filterwarnings("ignore:no checkpoint given:UserWarning")


@pytest.mark.filterwarnings("default:no checkpoint given:UserWarning")
def test_no_checkpoint_builds_random_weights_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="random weights"):
        model = build_sam2(CONFIG, device="cpu", hydra_overrides_extra=SHRINK)
    assert type(model) is Sam2Model and not model.training
    assert model.mask_decoder.dynamic_multimask_via_stability is True  # apply_postprocessing
    predictor = SAM2ImagePredictor(model)
    predictor.set_image(np.zeros((20, 30, 3), np.uint8))
    masks, scores, logits = predictor.predict(point_coords=[[5, 5]], point_labels=[1])
    assert masks.shape == (3, 20, 30) and scores.shape == (3,) and logits.shape == (3, 32, 32)


def test_keywords_of_the_original() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_sam2(
            CONFIG,
            None,
            device="cpu",
            mode="train",
            hydra_overrides_extra=SHRINK,
            apply_postprocessing=False,
        )
    assert model.training
    assert model.mask_decoder.dynamic_multimask_via_stability is False


def test_ignored_keywords_warn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_module, "_warned", set())
    with pytest.warns(UserWarning) as caught:
        build_sam2(CONFIG, device="cpu", hydra_overrides_extra=SHRINK, some_flag=1)
        build_sam2(CONFIG, device="cpu", hydra_overrides_extra=SHRINK, some_flag=1)
    messages = [str(w.message) for w in caught if "some_flag" in str(w.message)]
    assert len(messages) == 1 and "ignored" in messages[0]
    with warnings.catch_warnings(record=True) as quiet:
        warnings.simplefilter("always")
        build_sam2(CONFIG, device="cpu", hydra_overrides_extra=SHRINK, mask_threshold=0.0)
    assert not [w for w in quiet if "ignored" in str(w.message)]  # from_pretrained passes these


def test_settings_transformers_cannot_follow_raise() -> None:
    with pytest.raises(ValueError, match=r"use_high_res_features_in_sam=False is not supported"):
        build_sam2(
            CONFIG,
            device="cpu",
            hydra_overrides_extra=[*SHRINK, "++model.use_high_res_features_in_sam=false"],
        )
    with pytest.raises(ValueError, match="apply_postprocessing=True"):
        build_sam2_video_predictor(
            CONFIG, device="cpu", hydra_overrides_extra=SHRINK, apply_postprocessing=False
        )
    with pytest.raises(ValueError, match="not a known SAM 2 config"):
        build_sam2("configs/sam3/sam3.yaml", device="cpu")


def test_video_predictor_settings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictor = build_sam2_video_predictor(
            CONFIG,
            device="cpu",
            hydra_overrides_extra=[*SHRINK, "++model.add_all_frames_to_correct_as_cond=true"],
        )
    assert isinstance(predictor, SAM2VideoPredictor)
    assert predictor.fill_hole_area == 8  # apply_postprocessing's
    assert predictor.add_all_frames_to_correct_as_cond is True
    assert predictor.device == torch.device("cpu") and predictor.image_size == 128
    with pytest.warns(UserWarning, match="vos_optimized"):
        predictor = build_sam2_video_predictor(
            CONFIG,
            device="cpu",
            hydra_overrides_extra=[*SHRINK, "++model.fill_hole_area=0"],
            vos_optimized=True,
        )
    # As in the original, apply_postprocessing's overrides come after the caller's.
    assert predictor.fill_hole_area == 8
    # The original's video predictor is a model too: image predictors take it.
    image_predictor = SAM2ImagePredictor(predictor)
    assert type(image_predictor.model) is Sam2Model
    assert (
        image_predictor.model.mask_decoder.iou_token.weight.data_ptr()
        == predictor.model.mask_decoder.iou_token.weight.data_ptr()
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the message on a machine without CUDA")
def test_cuda_default_without_cuda_is_explained() -> None:
    with pytest.raises(ValueError, match="CUDA is not available"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build_sam2(CONFIG, hydra_overrides_extra=SHRINK)


def test_unknown_hub_id_without_transformers_weights_offline(tmp_path) -> None:
    from sam2_hf import ModelNotAvailableError

    with pytest.raises(ModelNotAvailableError, match=r"sam2.1_hiera_large.pt.*hf download"):
        build_module.build_sam2_hf("facebook/sam2.1-hiera-large", device="cpu", cache_dir=tmp_path)
