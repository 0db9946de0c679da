"""Every use the compatibility layer makes of sam2_hf's own internals, in one place.

The compat classes are built on the public ``Sam2Predictor``, ``MaskGenerator`` and
``VideoTracker``. Where they need more than those give, they come here:

- ``encode``: the image engine's batch encoder (``predictor.engine.encode``), returning the
  bare feature levels the original's ``_features`` holds;
- ``follow_model``: points a predictor's engine at the device its model was moved to
  (``model.to(...)`` after construction, which the original allows);
- ``frame_logits``: a tracking session's low-res mask logits per object on a frame (the
  original returns logits, the public ``FrameMasks`` holds binary masks);
- ``prompted_frames`` / ``conditioning_frames``: which frames hold an object's prompts and
  conditioning outputs (the original's ``remove_object`` and ``propagate_in_video`` read them);
- ``session_state``: the transformers inference session behind a ``TrackingSession`` (read
  only through ``sam2_hf.engine.video_contract``, where every session internal is listed).

``tests/compat/test_compat_internals.py`` fails if any of these moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from numpy.typing import NDArray
from transformers import Sam2VideoInferenceSession

from ..engine import video_contract
from ..engine.loading import LoadedModel, model_class_for
from ..engine.registry import Family
from ..image.predictor import Sam2Predictor
from ..video.tracker import TrackingSession
from .checkpoints import make_processor

#: Families the original sam2 API serves: SAM 2 and EdgeTAM, whose reference code is a fork of
#: sam2's (its predictors and builders) and whose hub checkpoints use SAM 2's processors.
COMPAT_FAMILIES = ("sam2", "edgetam")


def encode(predictor: Sam2Predictor, images: Sequence[NDArray[Any]]) -> list[torch.Tensor]:
    """Vision-encode (H, W, 3) images in one forward: feature levels, batch first,
    high resolution first (``Sam2Model.get_image_embeddings``)."""
    return list(predictor.engine.encode(list(images)).features)


def follow_model(predictor: Sam2Predictor, device: torch.device) -> None:
    """Make the predictor run where its model now is (the model was moved after loading)."""
    predictor.engine.loaded.device = device


def session_state(session: TrackingSession) -> Sam2VideoInferenceSession:
    """The ``Sam2VideoInferenceSession`` of a tracking session."""
    state = session._state
    if state is None:  # only a streaming session starts without one
        raise RuntimeError("this tracking session has no video open")
    return state


def frame_logits(session: TrackingSession, frame_idx: int) -> dict[int, torch.Tensor]:
    """Each object's stored low-res mask logits (1, 1, h, w) on ``frame_idx``, by object id;
    objects with no output on that frame are left out."""
    state = session_state(session)
    found: dict[int, torch.Tensor] = {}
    for obj_id in video_contract.object_ids(state):
        out = video_contract.frame_output(state, obj_id, frame_idx)
        if out is not None and "pred_masks" in out:
            found[obj_id] = out["pred_masks"]
    return found


def prompted_frames(session: TrackingSession, obj_id: int) -> set[int]:
    """The frames on which ``obj_id`` has point or mask prompts."""
    return video_contract.prompted_frames(session_state(session), obj_id)


def conditioning_frames(session: TrackingSession, obj_id: int) -> set[int]:
    """The frames whose output for ``obj_id`` is a conditioning (prompted) one."""
    return video_contract.conditioning_frames(session_state(session), obj_id)


def compat_family(model: Any) -> Family | None:
    """The family of ``model`` if the original API serves it (None: not a known family).

    Raises:
        ValueError: a SAM 3 tracker model: the original sam2 package has no SAM 3, so there
            is no original behaviour to reproduce; the message names sam2-hf's own classes.
    """
    family = video_contract.model_family(model)
    if family is not None and family.name not in COMPAT_FAMILIES:
        raise ValueError(
            f"{type(model).__name__} is a {family.title} model: sam2_hf.compat reproduces the "
            "original sam2 package's API, which has no SAM 3 (it serves SAM 2 / SAM 2.1 and "
            "EdgeTAM). Use sam2-hf's own classes for it: sam2_hf.Sam2Predictor, MaskGenerator "
            "or VideoTracker .from_pretrained('sam3')."
        )
    return family


def _is_video_model(model: Any) -> bool:
    family = compat_family(model)
    return family is not None and isinstance(model, video_contract.family_classes(family)[0])


def image_model_of(model: torch.nn.Module) -> torch.nn.Module:
    """The image model (``Sam2Model``, ``EdgeTamModel``) of a video model, sharing its tensors
    (nothing copied)."""
    if not _is_video_model(model):
        return model
    model_cls, config = model_class_for(model.config, "image")  # type: ignore[arg-type]
    with torch.device("meta"):
        image = model_cls(config)
    wanted = image.state_dict()
    shared = {key: value for key, value in model.state_dict().items() if key in wanted}
    image.load_state_dict(shared, assign=True, strict=True)
    if any(t.is_meta for t in [*image.parameters(), *image.buffers()]):
        # A buffer outside the state dict stayed unbuilt: build the model for real.
        image = model_cls(config)
        image.load_state_dict(shared, strict=True)
    image.train(model.training)
    return image


def loaded_from(model: Any, task: str) -> LoadedModel:
    """A ``LoadedModel`` for the model a compat class was given: what ``build_sam2`` returns
    (a transformers ``Sam2Model``), a ``Sam2VideoModel``, a ``LoadedModel``, or a predictor
    holding one of these in ``.model``."""
    if isinstance(model, LoadedModel):
        compat_family(model.model)
        if task == "image" and _is_video_model(model.model):
            return LoadedModel(
                image_model_of(model.model),
                make_processor(_image_size(model.model), "image"),
                model.device,
                model.dtype,
                model.source,
            )
        return model
    inner = getattr(model, "model", None)
    if isinstance(inner, torch.nn.Module) and not hasattr(model, "config"):
        model = inner  # a compat or native predictor / tracker holding the model
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
        raise TypeError(
            "expected a model from build_sam2 / build_sam2_video_predictor or a transformers "
            f"Sam2Model / Sam2VideoModel, got {type(model).__name__}"
        )
    if task == "image":
        model = image_model_of(model)
    elif not _is_video_model(model):
        raise TypeError(
            "video tracking needs a video model (from build_sam2_video_predictor), got "
            f"{type(model).__name__}"
        )
    device = next(model.parameters()).device
    # float32 weights and compute, as the original: mixed precision comes from the caller's
    # torch.autocast, as in its notebooks.
    processor = make_processor(_image_size(model), "image" if task == "image" else "video")
    return LoadedModel(model, processor, device, torch.float32, "model")


def _image_size(model: torch.nn.Module) -> int:
    config: Any = model.config
    return int(config.prompt_encoder_config.image_size)
