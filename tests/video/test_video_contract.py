"""The contract with transformers' video internals (sam2_hf.engine.video_contract).

One test per private name the contract module uses, each failing with "transformers changed X"
when the installed transformers moves it; the re-implemented ``_use_mask_as_output`` checked
against transformers' own; and the errors a user sees when the internals are missing.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import transformers
from packaging.specifiers import SpecifierSet
from transformers import Sam2Model, Sam2VideoInferenceSession, Sam2VideoModel, Sam2VideoProcessor
from video_helpers import transformers_mask_as_output

from sam2_hf.engine import video_contract as contract
from sam2_hf.engine.loading import LoadedModel
from sam2_hf.video.tracker import VideoTracker

H, W = 40, 56
CLICK = {"input_points": [[[[20, 20]]]], "input_labels": [[[1]]]}


@pytest.fixture(scope="module")
def model(video_checkpoint: Path) -> Sam2VideoModel:
    return Sam2VideoModel.from_pretrained(video_checkpoint).eval()


@pytest.fixture(scope="module")
def processor(video_checkpoint: Path) -> Sam2VideoProcessor:
    return Sam2VideoProcessor.from_pretrained(video_checkpoint)


@pytest.fixture(scope="module")
def frames() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    size = 128  # conftest's IMAGE_SIZE
    return torch.randn(3, 3, size, size, generator=generator)


def run_session(model, processor, frames, **prompt) -> Sam2VideoInferenceSession:
    """transformers' own calls: a prompt on frame 0, then frames 0-2 tracked."""
    session = Sam2VideoInferenceSession(
        video=frames, video_height=H, video_width=W, dtype=torch.float32
    )
    with torch.inference_mode():
        processor.add_inputs_to_inference_session(session, 0, 1, **prompt)
        for frame_idx in range(3):
            model(session, frame_idx=frame_idx)
    return session


# ------------------------------------------------------------------ every name, one by one


@pytest.mark.parametrize("name", list(contract.MODEL_METHODS))
def test_model_method(name: str) -> None:
    method = getattr(Sam2VideoModel, name, None)
    assert callable(method), f"transformers changed Sam2VideoModel.{name}: it is gone"
    found = inspect.signature(method).parameters
    for param in contract.MODEL_METHODS[name]:
        assert param in found, f"transformers changed Sam2VideoModel.{name}: no parameter {param}"


@pytest.mark.parametrize("name", contract.MODEL_ATTRIBUTES)
def test_model_attribute(model: Sam2VideoModel, name: str) -> None:
    assert hasattr(model, name), f"transformers changed Sam2VideoModel.{name}: it is gone"


def test_prompt_encoder_mask_input_size(model: Sam2VideoModel) -> None:
    size = getattr(model.prompt_encoder, "mask_input_size", None)
    assert size is not None, "transformers changed Sam2VideoModel.prompt_encoder.mask_input_size"
    assert tuple(size) == (model.image_size // 4,) * 2, (
        "transformers changed prompt_encoder.mask_input_size: no longer image_size / 4"
    )


@pytest.mark.parametrize("name", contract.SESSION_ATTRIBUTES)
def test_session_attribute(name: str) -> None:
    session = Sam2VideoInferenceSession()
    assert hasattr(session, name), f"transformers changed Sam2VideoInferenceSession.{name}"


@pytest.mark.parametrize("name", list(contract.SESSION_METHODS))
def test_session_method(name: str) -> None:
    method = getattr(Sam2VideoInferenceSession, name, None)
    assert callable(method), f"transformers changed Sam2VideoInferenceSession.{name}: it is gone"
    found = inspect.signature(method).parameters
    for param in contract.SESSION_METHODS[name]:
        assert param in found, (
            f"transformers changed Sam2VideoInferenceSession.{name}: no parameter {param}"
        )


def test_per_object_dicts_and_output_kinds() -> None:
    session = Sam2VideoInferenceSession()
    obj_idx = session.obj_id_to_idx(7)
    assert session.obj_ids == [7], "transformers changed obj_id_to_idx: it no longer registers"
    for name in ("point_inputs_per_obj", "mask_inputs_per_obj", "frames_tracked_per_obj"):
        assert getattr(session, name)[obj_idx] == {}, f"transformers changed {name}"
    kinds = session.output_dict_per_obj[obj_idx]
    for key in (contract.COND, contract.TRACKED):
        assert key in kinds, f"transformers changed output_dict_per_obj: no {key!r}"


def test_keys_transformers_stores_for_prompted_and_tracked_frames(model, processor, frames):
    session = run_session(model, processor, frames, **CLICK)
    outputs = session.output_dict_per_obj[0]
    for kind, frame_idx in ((contract.COND, 0), (contract.TRACKED, 1)):
        out = outputs[kind].get(frame_idx)
        assert out is not None, f"transformers changed where frame {frame_idx} goes: not {kind}"
        for key in contract.OUTPUT_KEYS:
            assert key in out, f"transformers changed the {kind} outputs: no {key!r}"
    record = session.frames_tracked_per_obj[0].get(1)
    assert record is not None and "reverse" in record, (
        "transformers changed frames_tracked_per_obj: no 'reverse' record for tracked frames"
    )


def test_keys_of_a_single_frame_step(model, processor, frames) -> None:
    session = run_session(model, processor, frames, **CLICK)
    with torch.inference_mode():
        out = model._run_single_frame_inference(
            inference_session=session,
            frame_idx=1,
            obj_idx=0,
            batch_size=1,
            is_init_cond_frame=False,
            point_inputs=None,
            mask_inputs=None,
            reverse=False,
        )
    for key in contract.STEP_OUTPUT_KEYS:
        assert key in out, f"transformers changed _run_single_frame_inference: no {key!r}"


def test_mask_as_output_is_transformers_use_mask_as_output(model, processor, frames) -> None:
    """The re-implementation equals transformers' bit for bit with the decoder's default
    (multimask_output=True); the contract's only change is that one argument."""
    mask = np.zeros((H, W), bool)
    mask[8:30, 10:40] = True
    session = Sam2VideoInferenceSession(
        video=frames, video_height=H, video_width=W, dtype=torch.float32
    )
    processor.add_inputs_to_inference_session(session, 0, 1, input_masks=mask)
    mask_inputs = session.mask_inputs_per_obj[0][0]
    feats, theirs = transformers_mask_as_output(model, session, mask_inputs)
    with torch.inference_mode():
        ours = contract._mask_as_output(model, feats, mask_inputs, multimask_output=True)
        single = contract._mask_as_output(model, feats, mask_inputs, multimask_output=False)
    for key in contract.STEP_OUTPUT_KEYS:
        assert torch.equal(ours[key], getattr(theirs, key)), (
            f"transformers changed _use_mask_as_output: {key} differs from the contract's copy"
        )
    assert torch.equal(single["pred_masks"], ours["pred_masks"])  # the mask itself is the prompt
    assert not torch.equal(single["object_pointer"], ours["object_pointer"])


def test_installed_transformers_is_in_the_supported_range() -> None:
    assert transformers.__version__ in SpecifierSet(contract.SUPPORTED_TRANSFORMERS)
    assert contract.contract_problems() == []


# ------------------------------------------------------------------ what a user sees


def loaded(model, processor) -> LoadedModel:
    return LoadedModel(model, processor, torch.device("cpu"), torch.float32, "test")


def test_a_missing_method_names_the_installed_and_supported_versions(
    monkeypatch, model, processor
) -> None:
    monkeypatch.setattr(transformers, "__version__", "5.26.0")
    monkeypatch.delattr(Sam2VideoModel, "_encode_new_memory")
    expected = (
        f"sam2-hf supports transformers {re.escape(contract.SUPPORTED_TRANSFORMERS)}; "
        r"installed 5\.26\.0: Sam2VideoModel has no method _encode_new_memory"
    )
    assert contract.SUPPORTED_TRANSFORMERS.startswith(">=5.")  # the message reads as a range
    with pytest.raises(contract.UnsupportedTransformersError, match=expected):
        VideoTracker(loaded(model, processor))


def test_a_moved_session_attribute_or_parameter_is_named(monkeypatch, model, processor) -> None:
    original = Sam2VideoInferenceSession.__init__

    def without_outputs(self, *args, **kwargs):
        original(self, *args, **kwargs)
        del self.frames_tracked_per_obj

    monkeypatch.setattr(Sam2VideoInferenceSession, "__init__", without_outputs)
    with pytest.raises(
        contract.UnsupportedTransformersError,
        match="Sam2VideoInferenceSession has no attribute frames_tracked_per_obj",
    ):
        VideoTracker(loaded(model, processor))
    monkeypatch.undo()

    def renamed(self, inference_session, frame_idx, batch):
        raise AssertionError("not called")

    monkeypatch.setattr(Sam2VideoModel, "_prepare_vision_features", renamed)
    with pytest.raises(
        contract.UnsupportedTransformersError,
        match=r"Sam2VideoModel\._prepare_vision_features has no parameter batch_size",
    ):
        VideoTracker(loaded(model, processor))


def test_the_checkpoint_is_blamed_only_when_it_is_not_a_video_model(
    image_checkpoint: Path, processor
) -> None:
    image_model = Sam2Model.from_pretrained(image_checkpoint)
    with pytest.raises(
        TypeError,
        match=r"Sam2Model is a SAM 2 / SAM 2\.1 image model; videos need the family's video "
        r"model Sam2VideoModel: load a SAM 2 / SAM 2\.1 video checkpoint with task='video', "
        r"such as 'tiny' \(facebook/sam2\.1-hiera-tiny\)",
    ):
        VideoTracker(loaded(image_model, processor))
    other = SimpleNamespace(config=SimpleNamespace(model_type="sam"))
    with pytest.raises(TypeError, match=r"SimpleNamespace is not a video model of SAM 2 / 2\.1"):
        contract.check_video_model(other)
