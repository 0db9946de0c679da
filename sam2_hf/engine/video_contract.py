"""Every contact with transformers' video internals, and the original SAM 2's rules built on them.

transformers' ``Sam2VideoModel`` runs a prompt or a tracked frame through public calls
(``processor.add_inputs_to_inference_session``, ``model(session, frame_idx=...)``), but the
original ``SAM2VideoPredictor`` differs from it in four places (see ``prompt_step``) and a
bounded stream must free what the memory bank no longer reads. Both need the session's
per-object dicts and the model's private steps. This module is the only place in sam2-hf that
touches them; ``sam2_hf.video`` calls its functions and never reads a session or a private
method itself. ``tests/video/test_video_contract.py`` checks every name listed below on the
installed transformers and fails with "transformers changed X" when one moves.

Private names used (transformers 5.24):

- ``Sam2VideoInferenceSession`` attributes: ``processed_frames``, ``obj_ids``,
  ``point_inputs_per_obj``, ``mask_inputs_per_obj``, ``output_dict_per_obj``,
  ``frames_tracked_per_obj``, ``obj_with_new_inputs``, ``inference_device``;
  methods: ``obj_id_to_idx``, ``store_output``, ``add_new_frame``, ``remove_point_inputs``,
  ``remove_mask_inputs``, ``reset_tracking_data``.
- Keys: ``output_dict_per_obj[obj_idx]`` holds ``"cond_frame_outputs"`` (prompted frames) and
  ``"non_cond_frame_outputs"`` (tracked frames), each ``{frame_idx: output}``; an output holds
  ``"pred_masks"``, ``"object_pointer"``, ``"object_score_logits"``, ``"high_res_masks"``,
  ``"maskmem_features"``, ``"maskmem_pos_enc"``; ``frames_tracked_per_obj[obj_idx][frame_idx]``
  holds ``"reverse"``.
- ``Sam2VideoModel`` methods: ``_run_single_frame_inference``, ``_single_frame_forward``,
  ``_encode_new_memory``, ``_prepare_vision_features``; ``_use_mask_as_output`` is
  re-implemented here (``_mask_as_output``) and compared with transformers' by the contract
  test. Attributes: ``image_size``, ``hidden_dim``, ``backbone_feature_sizes``,
  ``mask_downsample``, ``no_object_pointer``, ``prompt_encoder.mask_input_size``.

The same names exist, with the same meaning, in the video classes of the other families
(``EdgeTamVideoModel`` / ``EdgeTamVideoInferenceSession``, ``Sam3TrackerVideoModel`` /
``Sam3TrackerVideoInferenceSession``); ``family_classes`` names a model's pair. Where they
differ, ``FamilyVideo`` says how (EdgeTAM's ``_run_single_frame_inference`` takes
``run_mem_encoder`` and encodes the memory itself).

The original's rules apply per family only where that family's reference predictor has them
(``FamilyVideo.feeds_previous_logits``; see ``prompt_step``).

The user's model object is never altered: the rules are functions that take it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
import transformers
from transformers import Sam2VideoInferenceSession, Sam2VideoModel

from .registry import FAMILIES, MODELS, Family, model_family
from .versions import SUPPORTED_TRANSFORMERS

SESSION_ATTRIBUTES = (
    "processed_frames",
    "obj_ids",
    "point_inputs_per_obj",
    "mask_inputs_per_obj",
    "output_dict_per_obj",
    "frames_tracked_per_obj",
    "obj_with_new_inputs",
    "inference_device",
)
#: Session method -> the parameters called by name or position.
SESSION_METHODS: dict[str, tuple[str, ...]] = {
    "obj_id_to_idx": ("obj_id",),
    "store_output": ("obj_idx", "frame_idx", "output_value", "is_conditioning_frame"),
    "add_new_frame": ("pixel_values", "frame_idx"),
    "remove_point_inputs": ("obj_idx", "frame_idx"),
    "remove_mask_inputs": ("obj_idx", "frame_idx"),
    "reset_tracking_data": (),
}
COND, TRACKED = "cond_frame_outputs", "non_cond_frame_outputs"
OUTPUT_KEYS = (
    "pred_masks",
    "object_pointer",
    "object_score_logits",
    "high_res_masks",
    "maskmem_features",
    "maskmem_pos_enc",
)
#: What ``_run_single_frame_inference`` returns (in eval mode); the rest is added here.
STEP_OUTPUT_KEYS = ("pred_masks", "object_pointer", "object_score_logits", "high_res_masks")
#: Model method -> the parameters passed by name (``_use_mask_as_output``: re-implemented).
MODEL_METHODS: dict[str, tuple[str, ...]] = {
    "_run_single_frame_inference": (
        "inference_session",
        "frame_idx",
        "obj_idx",
        "batch_size",
        "is_init_cond_frame",
        "point_inputs",
        "mask_inputs",
        "reverse",
        "prev_sam_mask_logits",
        "streaming",
    ),
    "_single_frame_forward": ("input_masks", "image_embeddings", "multimask_output"),
    "_encode_new_memory": (
        "current_vision_feats",
        "pred_masks_high_res",
        "object_score_logits",
        "is_mask_from_pts",
    ),
    "_prepare_vision_features": ("inference_session", "frame_idx", "batch_size"),
    "_use_mask_as_output": ("backbone_features", "high_res_features", "mask_inputs"),
}
MODEL_ATTRIBUTES = (
    "image_size",
    "hidden_dim",
    "backbone_feature_sizes",
    "mask_downsample",
    "no_object_pointer",
    "prompt_encoder",
)

# The original clamps a previous mask's logits before feeding them back with a new click.
_PREV_LOGIT_CLAMP = 32.0  # same as engine.image.LOGIT_CLAMP
# _use_mask_as_output's logits for a mask prompt's pixels: +10 inside, -10 outside.
_MASK_OUT_SCALE, _MASK_OUT_BIAS = 20.0, -10.0

# What a tracked frame's memory bank entry keeps once its memory is out of reach.
_POINTER_KEYS = ("object_pointer", "object_score_logits")

Output = dict[str, Any]
Postprocess = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class FamilyVideo:
    """How a family's transformers video model and reference predictor differ from SAM 2.1's.

    Attributes:
        feeds_previous_logits: rule 1 of ``prompt_step``: a click on a frame that already has
            an output feeds the previous logits back. SAM 2.1 and EdgeTAM (a fork of SAM 2's
            code) do; SAM 3's reference tracker does not (``iter_use_prev_mask_pred = False``
            in facebookresearch/sam3, ``sam3/model/sam3_tracking_predictor.py``).
        step_encodes_memory: ``_run_single_frame_inference`` takes ``run_mem_encoder`` and
            returns the memory (EdgeTAM) instead of ``high_res_masks`` for a batched encoder.
        mask_score_unsqueezed: ``_use_mask_as_output`` returns (B, 1, 1) object score logits
            (SAM 2, SAM 3) rather than (B, 1) (EdgeTAM).
    """

    feeds_previous_logits: bool = True
    step_encodes_memory: bool = False
    mask_score_unsqueezed: bool = True


FAMILY_VIDEO: dict[str, FamilyVideo] = {
    "sam2": FamilyVideo(),
    "edgetam": FamilyVideo(step_encodes_memory=True, mask_score_unsqueezed=False),
    "sam3_tracker": FamilyVideo(feeds_previous_logits=False),
}


def family_classes(family: Family) -> tuple[type, type]:
    """(video model class, inference session class) of a family in the installed transformers."""
    return getattr(transformers, family.video_model), getattr(transformers, family.video_session)


def _video_rules(model: Any) -> FamilyVideo:
    family = model_family(model)
    return FAMILY_VIDEO[family.name if family is not None else "sam2"]


class UnsupportedTransformersError(RuntimeError):
    """The installed transformers moved an internal that sam2-hf's video tracking uses."""


def changed(what: str) -> UnsupportedTransformersError:
    """The error for a moved internal, naming the installed and the supported versions."""
    return UnsupportedTransformersError(
        f"sam2-hf supports transformers {SUPPORTED_TRANSFORMERS}; installed "
        f"{transformers.__version__}: {what}. Install a supported version "
        f'(pip install "transformers{SUPPORTED_TRANSFORMERS}") or a sam2-hf release that '
        "supports yours."
    )


# ------------------------------------------------------------------ checks


def contract_problems(model: Any = None, family: Family | None = None) -> list[str]:
    """What the installed transformers lacks of the names listed above ([] = nothing).

    Args:
        model: a loaded video model to check its attributes too; None checks the classes only.
        family: the family whose classes to check; default: ``model``'s, else SAM 2's.
    """
    if family is None:
        family = (model_family(model) if model is not None else None) or FAMILIES["sam2"]
    try:
        model_cls, session_cls = family_classes(family)
    except AttributeError as error:
        return [f"transformers has no {family.title} video classes ({error})"]
    problems = []
    model_methods = dict(MODEL_METHODS)
    if FAMILY_VIDEO[family.name].step_encodes_memory:
        step = "_run_single_frame_inference"
        model_methods[step] = (*MODEL_METHODS[step], "run_mem_encoder")
    for name, params in model_methods.items():
        problems += _method_problems(model_cls, name, params)
    probe = session_cls()
    session_name = session_cls.__name__
    for name in SESSION_ATTRIBUTES:
        if not hasattr(probe, name):
            problems.append(f"{session_name} has no attribute {name}")
    for name, params in SESSION_METHODS.items():
        problems += _method_problems(session_cls, name, params)
    if not problems:
        probe.obj_id_to_idx(0)
        kinds = probe.output_dict_per_obj.get(0, {})
        for key in (COND, TRACKED):
            if key not in kinds:
                problems.append(f"{session_name}.output_dict_per_obj has no {key!r}")
        for name in ("point_inputs_per_obj", "mask_inputs_per_obj", "frames_tracked_per_obj"):
            if getattr(probe, name).get(0) != {}:
                problems.append(f"{session_name}.{name} is not a dict per object")
    if model is not None:
        for name in MODEL_ATTRIBUTES:
            if not hasattr(model, name):
                problems.append(f"{type(model).__name__} has no attribute {name}")
        encoder = getattr(model, "prompt_encoder", None)
        if encoder is not None and not hasattr(encoder, "mask_input_size"):
            problems.append(f"{type(model).__name__}.prompt_encoder has no mask_input_size")
    return problems


def _method_problems(cls: type, name: str, params: tuple[str, ...]) -> list[str]:
    method = getattr(cls, name, None)
    if not callable(method):
        return [f"{cls.__name__} has no method {name}"]
    found = inspect.signature(method).parameters
    return [f"{cls.__name__}.{name} has no parameter {p}" for p in params if p not in found]


def check_video_model(model: object) -> Sam2VideoModel:
    """``model``, checked to be a video model of a known family whose internals this module
    knows (``Sam2VideoModel``, ``EdgeTamVideoModel``, ``Sam3TrackerVideoModel``).

    Returns it typed as ``Sam2VideoModel``, whose interface the three share.

    Raises:
        TypeError: not a video model of a known family (an image model, say); the message
            names the family and the checkpoint to load instead.
        UnsupportedTransformersError: the installed transformers moved an internal.
    """
    family = model_family(model)
    name = type(model).__name__
    if family is None:
        raise TypeError(
            f"{name} is not a video model of SAM 2 / 2.1, EdgeTAM or SAM 3 (tracker); load a "
            "video checkpoint with task='video', such as 'tiny' (facebook/sam2.1-hiera-tiny)"
        )
    video_cls, _ = family_classes(family)
    if not isinstance(model, video_cls):
        example = MODELS[family.example]
        raise TypeError(
            f"{name} is a {family.title} image model; videos need the family's video model "
            f"{family.video_model}: load a {family.title} video checkpoint with task='video', "
            f"such as {example.name!r} ({example.hub_id})"
        )
    problems = contract_problems(model, family)
    if problems:
        raise changed("; ".join(problems))
    return model  # type: ignore[return-value]  # the families share Sam2VideoModel's interface


def _step_output(out: Output, method: str, model: Any) -> Output:
    keys = STEP_OUTPUT_KEYS
    if _video_rules(model).step_encodes_memory:
        keys = (*keys[:3], "maskmem_features")
    missing = [key for key in keys if key not in out]
    if missing:
        raise changed(
            f"{type(model).__name__}.{method} returned no {', '.join(map(repr, missing))}"
        )
    return out


# ------------------------------------------------------------------ sessions


def new_session(
    pixels: torch.Tensor | None,
    size: tuple[int, int],
    *,
    device: torch.device,
    state_device: torch.device,
    storage_device: torch.device,
    model: Any = None,
) -> Sam2VideoInferenceSession:
    """A session over (T, 3, S, S) preprocessed frames, or an empty one to stream into.

    Args:
        pixels: normalised float32 frames at the model's input size; None to stream.
        size: (H, W) of the original frames.
        device: where the model runs; state_device: where outputs and memories are kept;
            storage_device: where the frames are kept.
        model: the video model the session is for; its family's session class is used
            (default: SAM 2's).
    """
    family = (model_family(model) if model is not None else None) or FAMILIES["sam2"]
    _, session_cls = family_classes(family)
    return session_cls(
        video=pixels,
        video_height=size[0],
        video_width=size[1],
        inference_device=device,
        inference_state_device=state_device,
        video_storage_device=storage_device,
        dtype=torch.float32,  # weights stay float32; autocast gives mixed precision
    )


def object_ids(session: Sam2VideoInferenceSession) -> list[int]:
    """The session's object ids, in the order they were first prompted."""
    return list(session.obj_ids)


def frame_output(session: Sam2VideoInferenceSession, obj_id: int, frame_idx: int) -> Output | None:
    """An object's stored output on a frame (prompted first, else tracked), or None."""
    if obj_id not in session.obj_ids:
        return None
    outputs = session.output_dict_per_obj[session.obj_id_to_idx(obj_id)]
    out = outputs[COND].get(frame_idx)
    return outputs[TRACKED].get(frame_idx) if out is None else out


def prompted_frames(session: Sam2VideoInferenceSession, obj_id: int) -> set[int]:
    """The frames on which an object has point or mask prompts."""
    obj_idx = session.obj_id_to_idx(obj_id)
    return set(session.point_inputs_per_obj[obj_idx]) | set(session.mask_inputs_per_obj[obj_idx])


def conditioning_frames(session: Sam2VideoInferenceSession, obj_id: int) -> set[int]:
    """The frames whose output for an object is a conditioning (prompted) one."""
    return set(session.output_dict_per_obj[session.obj_id_to_idx(obj_id)][COND])


def low_res_logits(session: Sam2VideoInferenceSession, obj_id: int, frame_idx: int) -> torch.Tensor:
    """(1, 1, h, w) mask logits (h = w = image_size / 4) of an object on a frame.

    Raises:
        KeyError: the object has no mask on that frame (never reached, or freed).
    """
    out = frame_output(session, obj_id, frame_idx)
    if out is None or "pred_masks" not in out:
        raise KeyError(f"object {obj_id} has no mask on frame {frame_idx}")
    return out["pred_masks"]


def frame_results(
    session: Sam2VideoInferenceSession, frame_idx: int
) -> list[tuple[int, torch.Tensor, float]]:
    """(obj_id, (1, 1, h, w) float32 CPU logits, object score logit) of every object with a
    mask on ``frame_idx``, in the order of ``object_ids``."""
    results = []
    for obj_id in session.obj_ids:
        out = frame_output(session, obj_id, frame_idx)
        if out is None or "pred_masks" not in out:
            continue
        score = float(out["object_score_logits"].reshape(-1)[0])
        results.append((obj_id, out["pred_masks"].float().cpu(), score))
    return results


def first_prompted_frame(session: Sam2VideoInferenceSession) -> int:
    """The earliest frame on which any object has a prompt output."""
    return min(frame for outputs in session.output_dict_per_obj.values() for frame in outputs[COND])


def unprompted_objects(session: Sam2VideoInferenceSession) -> list[int]:
    """Ids of the objects left with no prompted frame (their prompts were cleared)."""
    return [
        obj_id
        for obj_id in session.obj_ids
        if not session.output_dict_per_obj[session.obj_id_to_idx(obj_id)][COND]
    ]


def remove_object(session: Sam2VideoInferenceSession, obj_id: int) -> None:
    """Forget one object's prompts, outputs and memories; the others keep theirs.

    transformers (5.24) has no method for it: the session is reset with its own
    ``reset_tracking_data`` (frames and the feature cache stay) and the kept objects are
    registered again, in their order, with their state.
    """
    kept = [i for i in session.obj_ids if i != obj_id]
    state = {i: _object_state(session, session.obj_id_to_idx(i)) for i in kept}
    pending = [i for i in session.obj_with_new_inputs if i != obj_id]
    session.reset_tracking_data()
    for kept_id in kept:
        obj_idx = session.obj_id_to_idx(kept_id)
        (
            session.point_inputs_per_obj[obj_idx],
            session.mask_inputs_per_obj[obj_idx],
            session.output_dict_per_obj[obj_idx],
            session.frames_tracked_per_obj[obj_idx],
        ) = state[kept_id]
    session.obj_with_new_inputs = pending


def _object_state(session: Sam2VideoInferenceSession, obj_idx: int) -> tuple[Any, Any, Any, Any]:
    return (
        session.point_inputs_per_obj[obj_idx],
        session.mask_inputs_per_obj[obj_idx],
        session.output_dict_per_obj[obj_idx],
        session.frames_tracked_per_obj[obj_idx],
    )


def clear_prompts(session: Sam2VideoInferenceSession, obj_id: int, frame_idx: int) -> None:
    """Remove an object's prompts on a frame; its output there stays as a tracked one."""
    obj_idx = session.obj_id_to_idx(obj_id)
    session.remove_point_inputs(obj_idx, frame_idx)
    session.remove_mask_inputs(obj_idx, frame_idx)
    outputs = session.output_dict_per_obj[obj_idx]
    out = outputs[COND].pop(frame_idx, None)
    if out is not None:
        outputs[TRACKED][frame_idx] = out
        session.frames_tracked_per_obj[obj_idx].pop(frame_idx, None)


def reset(session: Sam2VideoInferenceSession) -> None:
    """Forget every object, prompt and result; frames and cached features stay."""
    session.reset_tracking_data()


def add_frame(session: Sam2VideoInferenceSession, pixels: torch.Tensor, frame_idx: int) -> None:
    """Store a streamed (3, S, S) frame without tracking anything on it."""
    session.add_new_frame(pixels, frame_idx)


def stored_frames(session: Sam2VideoInferenceSession) -> set[int]:
    """Indices of the frames the session holds anything for (pixels or outputs)."""
    held = set(session.processed_frames or {})
    for outputs in session.output_dict_per_obj.values():
        held.update(outputs[COND], outputs[TRACKED])
    return held


def stored_bytes(session: Sam2VideoInferenceSession) -> int:
    """Bytes of the tensors the session holds: frame pixels and per-object outputs."""
    frames = (session.processed_frames or {}).values()
    total = sum(t.numel() * t.element_size() for t in frames)
    for outputs in session.output_dict_per_obj.values():
        for per_frame in outputs.values():
            for out in per_frame.values():
                tensors = [v for v in out.values() if isinstance(v, torch.Tensor)]
                total += sum(v.numel() * v.element_size() for v in tensors)
    return total


def release_frames(
    session: Sam2VideoInferenceSession, latest: int, *, keep_memories: int, keep_pointers: int
) -> None:
    """Free what tracking after ``latest`` no longer reads (a stream's bounded memory).

    Kept: every prompted frame's output; the memories of the last ``keep_memories`` tracked
    frames; the object pointers (and scores) of the last ``keep_pointers``; the pixels, the
    masks and the tracked-frame record of ``latest`` (to prompt on it).
    """
    frames = session.processed_frames or {}
    for frame_idx in list(frames):
        if frame_idx != latest:
            del frames[frame_idx]
    oldest_memory = latest + 1 - keep_memories
    oldest_pointer = latest + 1 - keep_pointers
    for obj_idx, outputs in session.output_dict_per_obj.items():
        tracked = outputs[TRACKED]
        for frame_idx in list(tracked):
            if frame_idx < oldest_pointer:
                del tracked[frame_idx]
            elif frame_idx < oldest_memory:
                out = tracked[frame_idx]
                tracked[frame_idx] = {key: out[key] for key in _POINTER_KEYS}
            elif frame_idx != latest:
                tracked[frame_idx].pop("pred_masks", None)
        frames_tracked = session.frames_tracked_per_obj[obj_idx]
        for frame_idx in list(frames_tracked):
            if frame_idx != latest:
                del frames_tracked[frame_idx]


# ------------------------------------------------------------------ the original's rules


def prompt_step(
    model: Sam2VideoModel,
    session: Sam2VideoInferenceSession,
    frame_idx: int,
    obj_id: int,
    *,
    postprocess: Postprocess,
    correction_as_cond: bool = False,
    streaming: bool = False,
) -> None:
    """Run one object's new prompt (already added by the processor) and store its output.

    Used instead of ``model(session, frame_idx)``, which differs from the original
    ``SAM2VideoPredictor`` in four ways; here:

    1. A click on a frame that already has an output for the object feeds the previous
       low-res logits, clamped to +-32, as a mask prompt with the click
       (``prev_sam_mask_logits``; transformers' ``forward`` never passes them). Only for the
       families whose reference predictor does it (``FamilyVideo.feeds_previous_logits``:
       not SAM 3's tracker).
    2. Only the prompted object runs and gets a new memory. transformers' ``forward`` re-runs
       every object on the frame and encodes all their memories with ``is_mask_from_pts``,
       binarising the untouched objects' memories.
    3. A mask prompt makes its object pointer with a single-mask decoder pass
       (transformers: ``multimask_output=True``), in ``_mask_as_output``.
    4. The memory of a prompted frame is encoded from its (image_size / 4)-square mask
       upsampled to image_size and binarised, as the original's
       ``propagate_in_video_preflight`` does; transformers stores a mask prompt's
       full-resolution input instead.

    EdgeTAM's and SAM 3's reference predictors encode the prompted frames' memories later,
    for all objects together, when propagation starts (SAM 3 after removing overlaps between
    objects; both give an object with no output on a prompted frame an empty-mask memory
    there). That multi-object re-encoding is not replicated: each object's memory is encoded
    from its own mask, as SAM 2.1 does.

    Args:
        model: the loaded model (not modified).
        session: the session the prompt was added to.
        frame_idx: the prompted frame.
        obj_id: the prompted object.
        postprocess: applied to the new (1, 1, h, w) low-res logits before the memory is
            encoded from them (the tracker's hole filling).
        correction_as_cond: the original's ``add_all_frames_to_correct_as_cond``: a click on
            a tracked frame makes it a prompted (conditioning) frame.
        streaming: the session is a stream (frames pushed one by one).
    """
    model_: Any = model  # transformers annotates its private steps loosely
    rules = _video_rules(model)
    obj_idx = session.obj_id_to_idx(obj_id)
    point_inputs = session.point_inputs_per_obj[obj_idx].get(frame_idx)
    mask_inputs = session.mask_inputs_per_obj[obj_idx].get(frame_idx)
    if obj_id in session.obj_with_new_inputs:
        session.obj_with_new_inputs.remove(obj_id)
    tracked = session.frames_tracked_per_obj[obj_idx]
    is_init_cond_frame = frame_idx not in tracked
    reverse = False if is_init_cond_frame else _tracked_reverse(tracked[frame_idx])
    outputs = session.output_dict_per_obj[obj_idx]
    if mask_inputs is not None and point_inputs is None:  # rule 3
        vision_feats, _ = model_._prepare_vision_features(session, frame_idx, batch_size=1)
        out = _mask_as_output(
            model_,
            vision_feats,
            mask_inputs,
            multimask_output=False,
            unsqueeze_score=rules.mask_score_unsqueezed,
        )
    else:
        previous = outputs[COND].get(frame_idx) or outputs[TRACKED].get(frame_idx)
        prev_logits = None
        if rules.feeds_previous_logits and point_inputs is not None and previous is not None:
            prev_logits = previous["pred_masks"].to(session.inference_device)  # rule 1
            prev_logits = prev_logits.clamp(-_PREV_LOGIT_CLAMP, _PREV_LOGIT_CLAMP)
        # EdgeTAM's step would encode a memory from its full-size mask: rule 4 encodes it below.
        extra = {"run_mem_encoder": False} if rules.step_encodes_memory else {}
        out = model_._run_single_frame_inference(
            inference_session=session,
            frame_idx=frame_idx,
            obj_idx=obj_idx,  # rule 2: this object only
            batch_size=1,
            is_init_cond_frame=is_init_cond_frame,
            point_inputs=point_inputs,
            mask_inputs=mask_inputs,
            reverse=reverse,
            prev_sam_mask_logits=prev_logits,
            streaming=streaming,
            **extra,
        )
        _step_output(out, "_run_single_frame_inference", model)
    out.pop("high_res_masks", None)
    out["pred_masks"] = postprocess(out["pred_masks"])
    # rule 4: memory from the low-res mask, upsampled and binarised.
    high_res = F.interpolate(
        out["pred_masks"].float(),
        size=(model_.image_size, model_.image_size),
        mode="bilinear",
        align_corners=False,
    )
    vision_feats, _ = model_._prepare_vision_features(session, frame_idx, batch_size=1)
    maskmem, maskmem_pos = model_._encode_new_memory(
        current_vision_feats=vision_feats[-1],
        pred_masks_high_res=high_res,
        object_score_logits=out["object_score_logits"],
        is_mask_from_pts=True,
    )
    out["maskmem_features"], out["maskmem_pos_enc"] = maskmem, maskmem_pos
    is_cond = is_init_cond_frame or correction_as_cond
    session.store_output(obj_idx, frame_idx, output_value=out, is_conditioning_frame=is_cond)
    if is_cond:
        # As the original's preflight: a conditioning output replaces a tracked one.
        outputs[TRACKED].pop(frame_idx, None)


def _tracked_reverse(record: dict[str, Any]) -> bool:
    if "reverse" not in record:
        raise changed("frames_tracked_per_obj records have no 'reverse'")
    return bool(record["reverse"])


def track_step(
    model: Sam2VideoModel,
    session: Sam2VideoInferenceSession,
    frame_idx: int,
    *,
    reverse: bool,
    postprocess: Postprocess,
    frame: torch.Tensor | None = None,
) -> None:
    """Track every object onto one frame (``frame``: the new (3, S, S) frame when streaming).

    transformers' ``forward`` and the original agree here. Afterwards the stored low-res
    masks go through ``postprocess`` (the original fills their holes: they become the mask
    prompt of a later correction click) and the full-size masks, which only the memory
    encoder needed, are dropped.
    """
    model(session, frame_idx=frame_idx, reverse=reverse, frame=frame)
    for outputs in session.output_dict_per_obj.values():
        out = outputs[COND].get(frame_idx)
        if out is None:
            out = outputs[TRACKED][frame_idx]
        out.pop("high_res_masks", None)
        out["pred_masks"] = postprocess(out["pred_masks"])


def _mask_as_output(
    model: Any,
    vision_feats: list[torch.Tensor],
    mask_inputs: torch.Tensor,
    *,
    multimask_output: bool,
    unsqueeze_score: bool = True,
) -> Output:
    """A mask prompt's output, as ``_run_single_frame_inference`` makes it with
    ``_use_mask_as_output``, with the decoder's ``multimask_output`` as given.

    transformers' ``_use_mask_as_output`` (5.24) line for line, except the one argument: the
    original decodes the mask prompt's object pointer with a single mask. With
    ``multimask_output=True`` this returns transformers' result exactly (contract test).

    Args:
        vision_feats: the frame's features from ``_prepare_vision_features``, (HW, 1, C)
            per level, finest first.
        mask_inputs: (1, 1, S, S) float 0/1 mask prompt as the processor stored it.
        unsqueeze_score: return (1, 1, 1) object score logits, as SAM 2's and SAM 3's
            ``_use_mask_as_output``; False: (1, 1), as EdgeTAM's.
    """
    sizes = model.backbone_feature_sizes
    high_res_features = [
        x.permute(1, 2, 0).view(x.size(1), x.size(2), *s)
        for x, s in zip(vision_feats[:-1], sizes[:-1], strict=True)
    ]
    pix_feat = vision_feats[-1].permute(1, 2, 0).view(-1, model.hidden_dim, *sizes[-1])
    dtype = pix_feat[0].dtype
    mask = mask_inputs.to(dtype)
    side = model.image_size
    if mask.shape[-2:] != (side, side):
        mask = F.interpolate(
            mask.float(), size=(side, side), align_corners=False, mode="bilinear", antialias=True
        ).to(mask_inputs.dtype)
    high_res_masks = mask * _MASK_OUT_SCALE + _MASK_OUT_BIAS
    low_res_masks = F.interpolate(
        high_res_masks.float(),
        size=model.prompt_encoder.mask_input_size,
        align_corners=False,
        mode="bilinear",
        antialias=True,
    ).to(dtype)
    object_pointer = model._single_frame_forward(
        input_masks=model.mask_downsample(mask.to(dtype)),
        image_embeddings=high_res_features + [pix_feat],
        multimask_output=multimask_output,
    ).object_pointer
    # As the original: whether the object appears follows the mask, not the decoder's score.
    appearing = torch.any(mask_inputs.flatten(1).float() > 0.0, dim=1)[..., None].to(dtype)
    object_score_logits = _MASK_OUT_SCALE * appearing + _MASK_OUT_BIAS
    object_pointer = appearing * object_pointer
    object_pointer = object_pointer + (1 - appearing) * model.no_object_pointer
    return {
        "pred_masks": low_res_masks,
        "object_pointer": object_pointer,
        "high_res_masks": high_res_masks,
        "object_score_logits": (
            object_score_logits.unsqueeze(-1) if unsqueeze_score else object_score_logits
        ),
    }
