"""Video object tracking with SAM 2's memory: ``VideoTracker`` and its sessions.

``tracker.open(video)`` tracks a whole video (prompts on any frame, propagation forward,
backward or both); ``tracker.stream()`` takes frames one at a time and keeps only what the
memory bank reads. Both run transformers' ``Sam2VideoModel`` with the original
``SAM2VideoPredictor``'s rules where the two differ (see ``_OriginalRules``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from PIL import Image
from transformers import Sam2VideoInferenceSession
from typing_extensions import Unpack

from ..engine.loading import LoadedModel, LoadOptions, autocast, load_model
from ..formats.masks import clean_mask_logits
from ..inputs import ImageInput, as_boxes, as_points, load_image
from ..results import FrameMasks
from .io import VideoInput, iter_frames, progress, read_frames, save_mask_pngs, write_overlay

# The original clamps a previous mask's logits before feeding them back as a mask prompt.
_PREV_LOGIT_CLAMP = 32.0
# The original fills holes with this small positive score (sam2.utils.misc).
_HOLE_FILL_SCORE = 0.1


# --------------------------------------------------------------------------------------------
# Where transformers' Sam2VideoModel and the original SAM2VideoPredictor differ, and the fix.
# Everything that reaches into transformers' private methods is in this class; the tests in
# tests/test_video.py ("original rules") fail if those methods change underneath.


class _OriginalRules:
    """Mixed into the loaded ``Sam2VideoModel`` (see ``_with_original_rules``).

    Prompts go through ``prompt_step`` instead of ``forward``, which brings four of the
    original's rules back:

    1. A click on a frame that already has an output for the object feeds the previous
       low-res logits, clamped to +-32, as a mask prompt with the click
       (``prev_sam_mask_logits``; transformers' ``forward`` never passes them).
    2. Only the prompted object runs and gets a new memory. transformers' ``forward`` re-runs
       every object on the frame and encodes all their memories with ``is_mask_from_pts``,
       binarising the untouched objects' memories.
    3. A mask prompt makes its object pointer with a single-mask decoder pass
       (transformers: ``multimask_output=True``). Done by the ``_use_mask_as_output``
       override below.
    4. The memory of a prompted frame is encoded from its 256x256 (image_size / 4) mask
       upsampled to image_size and binarised, as the original's ``propagate_in_video_preflight``
       does; transformers stores a mask prompt's full-resolution input instead.

    ``track_step`` runs transformers' ``forward`` for a tracked frame (there the two agree)
    and then stores the hole-filled low-res masks as the original does (they become the
    mask prompt of a later correction click), dropping the full-size masks that only the
    memory encoder needed.
    """

    _single_mask_decode = False

    def _use_mask_as_output(self, *args: Any, **kwargs: Any) -> Any:  # fix 3
        self._single_mask_decode = True
        try:
            return super()._use_mask_as_output(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._single_mask_decode = False

    def _single_frame_forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._single_mask_decode:
            kwargs["multimask_output"] = False
        return super()._single_frame_forward(*args, **kwargs)  # type: ignore[misc]

    def prompt_step(
        self,
        session: Sam2VideoInferenceSession,
        frame_idx: int,
        obj_id: int,
        *,
        fill_hole_area: int,
        correction_as_cond: bool = False,
        streaming: bool = False,
    ) -> None:
        """Run one object's new prompt on one frame and store its output and memory.

        ``correction_as_cond`` is the original's ``add_all_frames_to_correct_as_cond``.
        """
        model: Any = self
        obj_idx = session.obj_id_to_idx(obj_id)
        point_inputs = session.point_inputs_per_obj[obj_idx].get(frame_idx)
        mask_inputs = session.mask_inputs_per_obj[obj_idx].get(frame_idx)
        if obj_id in session.obj_with_new_inputs:
            session.obj_with_new_inputs.remove(obj_id)
        tracked = session.frames_tracked_per_obj[obj_idx]
        is_init_cond_frame = frame_idx not in tracked
        reverse = False if is_init_cond_frame else tracked[frame_idx]["reverse"]
        outputs = session.output_dict_per_obj[obj_idx]
        previous = outputs["cond_frame_outputs"].get(frame_idx) or outputs[
            "non_cond_frame_outputs"
        ].get(frame_idx)
        prev_logits = None
        if point_inputs is not None and previous is not None:  # fix 1
            prev_logits = previous["pred_masks"].to(session.inference_device)
            prev_logits = prev_logits.clamp(-_PREV_LOGIT_CLAMP, _PREV_LOGIT_CLAMP)
        out = model._run_single_frame_inference(
            inference_session=session,
            frame_idx=frame_idx,
            obj_idx=obj_idx,  # fix 2: this object only
            batch_size=1,
            is_init_cond_frame=is_init_cond_frame,
            point_inputs=point_inputs,
            mask_inputs=mask_inputs,
            reverse=reverse,
            prev_sam_mask_logits=prev_logits,
            streaming=streaming,
        )
        out.pop("high_res_masks")
        out["pred_masks"] = _fill_holes(out["pred_masks"], fill_hole_area)
        # fix 4: memory from the low-res mask, upsampled and binarised.
        high_res = F.interpolate(
            out["pred_masks"].float(),
            size=(model.image_size, model.image_size),
            mode="bilinear",
            align_corners=False,
        )
        vision_feats, _ = model._prepare_vision_features(session, frame_idx, batch_size=1)
        maskmem, maskmem_pos = model._encode_new_memory(
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
            outputs["non_cond_frame_outputs"].pop(frame_idx, None)

    def track_step(
        self,
        session: Sam2VideoInferenceSession,
        frame_idx: int,
        *,
        reverse: bool,
        fill_hole_area: int,
        frame: torch.Tensor | None = None,
    ) -> None:
        """Track every object onto one frame (``frame`` is the new frame when streaming)."""
        self(session, frame_idx=frame_idx, reverse=reverse, frame=frame)  # type: ignore[operator]
        for outputs in session.output_dict_per_obj.values():
            out = outputs["cond_frame_outputs"].get(frame_idx)
            if out is None:
                out = outputs["non_cond_frame_outputs"][frame_idx]
            out.pop("high_res_masks", None)
            out["pred_masks"] = _fill_holes(out["pred_masks"], fill_hole_area)


_RULED_CLASSES: dict[type, type] = {}


def _with_original_rules(model: torch.nn.Module) -> Any:
    """Give the loaded model ``_OriginalRules`` (a subclass swap: no weights move or copy)."""
    base = type(model)
    if isinstance(model, _OriginalRules):
        return model
    for name in ("_run_single_frame_inference", "_use_mask_as_output", "_encode_new_memory"):
        if not hasattr(base, name):
            raise TypeError(
                f"{base.__name__} is not a SAM 2 video model (no {name}); load a sam2_video "
                "checkpoint with task='video'"
            )
    if base not in _RULED_CLASSES:
        _RULED_CLASSES[base] = type(f"{base.__name__}WithOriginalRules", (_OriginalRules, base), {})
    model.__class__ = _RULED_CLASSES[base]
    return model


def _fill_holes(pred_masks: torch.Tensor, max_area: int) -> torch.Tensor:
    """Fill background regions of at most ``max_area`` low-res pixels with 0.1, as the original."""
    if max_area <= 0:
        return pred_masks
    source = pred_masks.detach().float().cpu().numpy()
    filled = clean_mask_logits(source, max_hole_area=max_area)
    result = np.where(filled != source, np.float32(_HOLE_FILL_SCORE), source)
    return torch.from_numpy(result).to(pred_masks.device, pred_masks.dtype)


# --------------------------------------------------------------------------------------------


class VideoTracker:
    """Prompt objects on some frames of a video and track them through it with SAM 2's memory.

    Example:
        >>> tracker = VideoTracker.from_pretrained("tiny")  # doctest: +SKIP
        >>> session = tracker.open("clip.mp4")  # doctest: +SKIP
        >>> session.add(frame=0, obj_id=1, points=[(210, 350)], labels=[1])  # doctest: +SKIP
        >>> for frame_idx, masks in session.propagate():  # doctest: +SKIP
        ...     print(frame_idx, {i: m.sum() for i, m in masks.items()})
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        fill_hole_area: int = 8,
        add_all_frames_to_correct_as_cond: bool = False,
        offload_frames_to_cpu: bool = False,
        offload_state_to_cpu: bool = False,
        progress: bool | None = None,
    ) -> None:
        """Wrap a model loaded with ``load_model(..., task="video")``; most users call
        ``from_pretrained``.

        Args:
            loaded: the model, processor, device and dtype.
            fill_hole_area: fill holes of at most this many pixels of the low-res
                (image_size / 4, 256x256 for the real models) masks, as the original video
                predictor built by ``build_sam2_video_predictor`` does (8); 0 turns it off.
            add_all_frames_to_correct_as_cond: the original's option of that name. False (the
                original's default): a click on an already tracked frame corrects that frame
                and the memory it leaves, but a later propagation *over* that frame tracks it
                afresh and drops the correction, so propagate from the next frame on. True:
                corrected frames become prompted (conditioning) frames that every later
                propagation keeps and every frame's memory reads (the SAM 2 training setting).
            offload_frames_to_cpu: keep the preprocessed frames in CPU memory (on a GPU).
            offload_state_to_cpu: keep the memory bank in CPU memory (on a GPU; slower).
            progress: show a progress bar over frames: None = only when stderr is a terminal.
        """
        if isinstance(fill_hole_area, bool) or not isinstance(fill_hole_area, int):
            raise TypeError(f"fill_hole_area must be an int, got {type(fill_hole_area).__name__}")
        if fill_hole_area < 0:
            raise ValueError(f"fill_hole_area must be >= 0 (0 turns it off), got {fill_hole_area}")
        self.model = _with_original_rules(loaded.model)
        self.processor = loaded.processor
        self.device = loaded.device
        self.dtype = loaded.dtype
        self.fill_hole_area = fill_hole_area
        self.add_all_frames_to_correct_as_cond = bool(add_all_frames_to_correct_as_cond)
        self.offload_frames_to_cpu = offload_frames_to_cpu
        self.offload_state_to_cpu = offload_state_to_cpu
        self.progress = progress
        video_processor = self.processor.video_processor
        self._mean = torch.tensor(video_processor.image_mean, dtype=torch.float32)[:, None, None]
        self._std = torch.tensor(video_processor.image_std, dtype=torch.float32)[:, None, None]

    @classmethod
    def from_pretrained(
        cls,
        model: str | os.PathLike[str] = "tiny",
        *,
        fill_hole_area: int = 8,
        add_all_frames_to_correct_as_cond: bool = False,
        offload_frames_to_cpu: bool = False,
        offload_state_to_cpu: bool = False,
        progress: bool | None = None,
        **options: Unpack[LoadOptions],
    ) -> VideoTracker:
        """Load a video checkpoint by short name (``"tiny"`` ... ``"large"``), hub id or folder.

        Devices and dtypes as for ``Sam2Predictor.from_pretrained`` (see ``sam2_hf.load_model``);
        the other arguments as for ``VideoTracker(...)``.
        """
        loaded = load_model(model, task="video", **options)
        return cls(
            loaded,
            fill_hole_area=fill_hole_area,
            add_all_frames_to_correct_as_cond=add_all_frames_to_correct_as_cond,
            offload_frames_to_cpu=offload_frames_to_cpu,
            offload_state_to_cpu=offload_state_to_cpu,
            progress=progress,
        )

    def open(self, video: VideoInput) -> TrackingSession:
        """Read and preprocess a whole video for prompting and propagation.

        Args:
            video: a folder of JPEG/PNG frames (sorted naturally by name), a video file
                (needs the ``video`` extra), or a list of images (paths, PIL images or
                arrays) of one size.

        Returns:
            A ``TrackingSession``. All frames are preprocessed now and held at the model's
            input size (about 12 MB per frame for the 1024-pixel models): for long videos use
            ``stream()``.
        """
        frames = read_frames(video)
        pixels = torch.stack(
            [
                self._preprocess(frame)
                for frame in progress(frames, total=len(frames), desc="read", show=self.progress)
            ]
        )
        return TrackingSession(self, pixels, frames.size)

    def stream(self) -> StreamingSession:
        """A session that takes frames one at a time with ``push`` and keeps memory bounded."""
        return StreamingSession(self)

    def _preprocess(self, frame: ImageInput) -> torch.Tensor:
        """(H, W, 3) frame -> (3, S, S) normalised float32, resized as the original does.

        The original resizes the uint8 frame with PIL (bicubic) before scaling to [0, 1];
        transformers' video processor resizes bilinearly, which moves masks by a pixel here
        and there.
        """
        image = load_image(frame)
        side = int(self.model.image_size)
        if image.dtype == np.uint8:
            resized = np.asarray(
                Image.fromarray(image).resize((side, side), Image.Resampling.BICUBIC)
            )
            values = resized / 255.0  # float64 division, as the original
        else:  # float in [0, 1] from 16-bit sources: resize each channel at full precision
            values = np.stack(
                [
                    np.asarray(
                        Image.fromarray(image[..., c], mode="F").resize(
                            (side, side), Image.Resampling.BICUBIC
                        )
                    )
                    for c in range(3)
                ],
                axis=2,
            )
        pixels = torch.from_numpy(values.astype(np.float32)).permute(2, 0, 1)
        return (pixels - self._mean) / self._std

    def _new_session(self, pixels: torch.Tensor | None, size: tuple[int, int]) -> Any:
        cpu = torch.device("cpu")
        return Sam2VideoInferenceSession(
            video=pixels,
            video_height=size[0],
            video_width=size[1],
            inference_device=self.device,
            inference_state_device=cpu if self.offload_state_to_cpu else self.device,
            video_storage_device=cpu if self.offload_frames_to_cpu else self.device,
            dtype=torch.float32,  # weights stay float32; autocast gives mixed precision
        )


class _Session:
    """What whole-video and streaming sessions share: prompts, objects, results."""

    def __init__(self, tracker: VideoTracker, size: tuple[int, int] | None) -> None:
        self.tracker = tracker
        self._size = size
        self._state: Any = None

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the frames."""
        if self._size is None:
            raise RuntimeError("Call push(frame) first: the stream has no frames yet.")
        return self._size

    @property
    def obj_ids(self) -> list[int]:
        """The tracked object ids, in the order they were first prompted."""
        return [] if self._state is None else list(self._state.obj_ids)

    def _add(
        self,
        frame_idx: int,
        obj_id: int,
        points: ArrayLike | None,
        labels: ArrayLike | None,
        box: ArrayLike | None,
        mask: ArrayLike | None,
        clear_old_points: bool,
        streaming: bool,
    ) -> FrameMasks:
        if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)):
            raise TypeError(f"obj_id must be an int, got {type(obj_id).__name__}")
        obj_id = int(obj_id)
        if mask is not None and (points is not None or box is not None):
            raise ValueError("give either mask or points/box for one prompt, not both")
        if points is None and box is None and mask is None:
            raise ValueError("add() needs a prompt: points, box or mask")
        if points is None and labels is not None:
            raise ValueError("labels were given without points")
        state = self._state
        kwargs: dict[str, Any] = {}
        if mask is not None:
            kwargs["input_masks"] = self._mask(mask)
        else:
            if points is not None:
                coords, point_labels = as_points(points, labels, self.size)
                if coords.shape[0] != 1:
                    raise ValueError(
                        "points must have shape (K, 2) for one object, got "
                        f"{np.shape(points)}; call add() once per object"
                    )
                known = obj_id in state.obj_ids
                if not known and box is None and not (point_labels == 1).any():
                    raise ValueError(
                        f"obj_id {obj_id} is not tracked (tracked: {self.obj_ids}): a "
                        "correction needs a tracked object, and a new object needs a "
                        "positive click (label 1), a box or a mask"
                    )
                kwargs["input_points"] = [coords.tolist()]
                kwargs["input_labels"] = [point_labels.tolist()]
            if box is not None:
                boxes = as_boxes(box, self.size)
                if len(boxes) != 1:
                    raise ValueError(f"box must be one box (4 numbers), got shape {np.shape(box)}")
                kwargs["input_boxes"] = [boxes.tolist()]
        self.tracker.processor.add_inputs_to_inference_session(
            state, frame_idx=frame_idx, obj_ids=obj_id, clear_old_inputs=clear_old_points, **kwargs
        )
        with torch.inference_mode(), autocast(self.tracker.device, self.tracker.dtype):
            self.tracker.model.prompt_step(
                state,
                frame_idx,
                obj_id,
                fill_hole_area=self.tracker.fill_hole_area,
                correction_as_cond=self.tracker.add_all_frames_to_correct_as_cond,
                streaming=streaming,
            )
        return self._results(frame_idx)

    def _mask(self, mask: ArrayLike) -> torch.Tensor:
        array = np.asarray(mask)
        if array.dtype != bool and not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"mask must be a bool or 0/1 integer array, got dtype {array.dtype}")
        if array.shape != self.size:
            raise ValueError(
                f"mask must have the frame's shape (H, W) = {self.size}, got {array.shape}"
            )
        if not np.isin(array, (0, 1)).all():
            raise ValueError("mask must hold only 0/1 or True/False values")
        return torch.from_numpy(array.astype(bool))

    def _obj_idx(self, obj_id: int) -> int:
        if self._state is None or obj_id not in self._state.obj_ids:
            raise ValueError(f"obj_id {obj_id!r} is not tracked; tracked ids: {self.obj_ids}")
        return self._state.obj_id_to_idx(obj_id)

    def remove_object(self, obj_id: int) -> None:
        """Stop tracking ``obj_id`` and forget its prompts and memory; other objects keep theirs.

        Raises:
            ValueError: ``obj_id`` is not tracked.
        """
        state = self._state
        removed = self._obj_idx(obj_id)
        kept_ids = [i for i in state.obj_ids if i != obj_id]
        old_indices = [state.obj_id_to_idx(i) for i in kept_ids]
        for name in (
            "point_inputs_per_obj",
            "mask_inputs_per_obj",
            "output_dict_per_obj",
            "frames_tracked_per_obj",
        ):
            per_obj = getattr(state, name)
            per_obj.pop(removed)
            moved = {new: per_obj.pop(old) for new, old in enumerate(old_indices)}
            per_obj.update(moved)
        state._obj_id_to_idx.clear()
        state._obj_idx_to_id.clear()
        for new, kept in enumerate(kept_ids):
            state._obj_id_to_idx[kept] = new
            state._obj_idx_to_id[new] = kept
        state.obj_ids = kept_ids

    def clear_frame(self, frame: int, obj_id: int | None = None) -> None:
        """Remove the prompts on ``frame`` (of one object, or of all when ``obj_id`` is None).

        As in the original, the frame's output stays as a tracked (non-prompted) result and is
        recomputed by the next propagation over it. An object left with no prompted frame
        must be prompted again or removed before the next propagation.
        """
        frame_idx = self._frame_index(frame)
        indices = (
            [self._obj_idx(obj_id)]
            if obj_id is not None
            else [self._state.obj_id_to_idx(i) for i in self.obj_ids]
        )
        for obj_idx in indices:
            self._state.point_inputs_per_obj[obj_idx].pop(frame_idx, None)
            self._state.mask_inputs_per_obj[obj_idx].pop(frame_idx, None)
            outputs = self._state.output_dict_per_obj[obj_idx]
            out = outputs["cond_frame_outputs"].pop(frame_idx, None)
            if out is not None:
                outputs["non_cond_frame_outputs"][frame_idx] = out
                self._state.frames_tracked_per_obj[obj_idx].pop(frame_idx, None)

    def reset(self) -> None:
        """Forget every object, prompt and result; the frames stay loaded."""
        if self._state is not None:
            self._state.reset_tracking_data()

    def _frame_index(self, frame: int) -> int:
        raise NotImplementedError

    def _require_prompted(self, action: str) -> None:
        if not self.obj_ids:
            raise RuntimeError(f"Call add(...) with a prompt before {action}().")
        unprompted = [
            obj_id
            for obj_id in self.obj_ids
            if not self._state.output_dict_per_obj[self._state.obj_id_to_idx(obj_id)][
                "cond_frame_outputs"
            ]
        ]
        if unprompted:
            raise RuntimeError(
                f"objects {unprompted} have no prompt left; add(...) one or remove_object() "
                f"them before {action}()"
            )

    def _results(self, frame_idx: int) -> FrameMasks:
        """Masks at the original size for every object with an output on ``frame_idx``."""
        state = self._state
        ids, low_res, scores = [], [], []
        for obj_id in state.obj_ids:
            outputs = state.output_dict_per_obj[state.obj_id_to_idx(obj_id)]
            out = outputs["cond_frame_outputs"].get(frame_idx)
            if out is None:
                out = outputs["non_cond_frame_outputs"].get(frame_idx)
            if out is None or "pred_masks" not in out:
                continue
            ids.append(obj_id)
            low_res.append(out["pred_masks"].float().cpu())
            scores.append(float(out["object_score_logits"].reshape(-1)[0]))
        if not ids:
            return FrameMasks(frame_idx, {}, {}, {})
        # Sam2VideoProcessor.post_process_masks resizes once, like the original (the video
        # sub-processor's resizes twice).
        (masks,) = self.tracker.processor.post_process_masks(
            [torch.cat(low_res)], [list(self.size)], binarize=True
        )
        masks = masks[:, 0].numpy()
        return FrameMasks(
            frame_idx,
            {obj_id: masks[i] for i, obj_id in enumerate(ids)},
            {obj_id: scores[i] > 0 for i, obj_id in enumerate(ids)},
            dict(zip(ids, scores, strict=True)),
        )


class TrackingSession(_Session):
    """Prompts and propagation over a whole video, opened with ``VideoTracker.open``."""

    def __init__(self, tracker: VideoTracker, pixels: torch.Tensor, size: tuple[int, int]) -> None:
        super().__init__(tracker, size)
        self.num_frames = int(pixels.shape[0])
        self._state = tracker._new_session(pixels, size)

    def __len__(self) -> int:
        return self.num_frames

    def _frame_index(self, frame: int) -> int:
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)):
            raise TypeError(f"frame must be an int frame index, got {type(frame).__name__}")
        if not 0 <= frame < self.num_frames:
            raise ValueError(
                f"frame must be a frame index in [0, {self.num_frames - 1}] "
                f"(the video has {self.num_frames} frames), got {frame}"
            )
        return int(frame)

    def add(
        self,
        frame: int,
        obj_id: int,
        *,
        points: ArrayLike | None = None,
        labels: ArrayLike | None = None,
        box: ArrayLike | None = None,
        mask: ArrayLike | None = None,
        clear_old_points: bool = True,
    ) -> FrameMasks:
        """Prompt one object on one frame, or correct it there; runs the model right away.

        Args:
            frame: frame index (0-based).
            obj_id: any int naming the object; reuse it to correct the same object.
            points: (K, 2) clicks (x, y) in pixels of the original frame.
            labels: (K,) 1 = on the object, 0 = not on it. Default: all 1.
            box: (x0, y0, x1, y1) in pixels; can be combined with points.
            mask: (H, W) bool mask at the frame's size, instead of points/box.
            clear_old_points: replace this object's earlier clicks on this frame (the
                original's default; the previous mask still guides the new clicks).
                False adds the clicks to them.

        A click on a frame the object was already tracked to is a correction: the frame's
        previous mask is fed back with the click, as in the original. See
        ``VideoTracker(add_all_frames_to_correct_as_cond=...)`` for how it survives the next
        propagation.

        Returns:
            ``FrameMasks`` of this frame for every object that has a result on it.

        Raises:
            ValueError: frame outside the video, malformed prompt, mask of the wrong size, a
                correction (only negative clicks) for an object that is not tracked.
        """
        return self._add(
            self._frame_index(frame), obj_id, points, labels, box, mask, clear_old_points, False
        )

    def propagate(
        self,
        start: int | None = None,
        *,
        reverse: bool = False,
        max_frames: int | None = None,
        both_directions: bool = False,
    ) -> Iterator[FrameMasks]:
        """Track every object through the video, yielding each frame's masks as it is done.

        Args:
            start: first frame; default: the earliest prompted frame.
            reverse: go from ``start`` towards frame 0.
            max_frames: visit at most this many frames (``start`` included) per direction.
            both_directions: go forward from ``start`` to the end, then backward from
                ``start - 1`` to frame 0, in one call (``start`` is yielded once).

        Yields:
            ``FrameMasks`` in processing order: ascending frames forward, descending in
            reverse; with ``both_directions`` the forward frames come first.
        """
        if start is not None:
            start = self._frame_index(start)
        if max_frames is not None and (isinstance(max_frames, bool) or max_frames < 1):
            raise ValueError(f"max_frames must be a positive int or None, got {max_frames!r}")
        self._require_prompted("propagate")
        if start is None:
            start = min(
                frame
                for outputs in self._state.output_dict_per_obj.values()
                for frame in outputs["cond_frame_outputs"]
            )
        limit = self.num_frames if max_frames is None else max_frames
        forward = [(f, False) for f in range(start, min(start + limit, self.num_frames))]
        backward = [(f, True) for f in range(start, max(start - limit, -1), -1)]
        if both_directions:
            order = forward + [(f, True) for f in range(start - 1, max(start - 1 - limit, -1), -1)]
        else:
            order = backward if reverse else forward
        return self._propagate(order)

    def _propagate(self, order: list[tuple[int, bool]]) -> Iterator[FrameMasks]:
        tracker = self.tracker
        for frame_idx, reverse in progress(
            order, total=len(order), desc="track", show=tracker.progress
        ):
            with torch.inference_mode(), autocast(tracker.device, tracker.dtype):
                tracker.model.track_step(
                    self._state, frame_idx, reverse=reverse, fill_hole_area=tracker.fill_hole_area
                )
            yield self._results(frame_idx)


class StreamingSession(_Session):
    """Frames pushed one at a time (a camera, a decoder loop); memory stays bounded.

    Keeps what the memory bank reads: the prompted frames' memories, the last
    ``num_maskmem - 1`` tracked frames' memories, the last ``max_object_pointers - 1``
    tracked frames' object pointers, and the latest frame (to prompt on it); the rest is freed.

    Example:
        >>> stream = tracker.stream()  # doctest: +SKIP
        >>> for i, frame in enumerate(camera):  # doctest: +SKIP
        ...     result = stream.push(frame)
        ...     if i == 0:
        ...         result = stream.add(obj_id=1, points=[(320, 240)])
    """

    def __init__(self, tracker: VideoTracker) -> None:
        super().__init__(tracker, None)
        self.frames_seen = 0
        config = tracker.model.config
        self._keep_memories = max(config.num_maskmem - 1, 1)
        self._keep_pointers = max(config.max_object_pointers_in_encoder - 1, 1)

    def _frame_index(self, frame: int) -> int:
        latest = self.frames_seen - 1
        if frame != latest:
            raise ValueError(
                f"a streaming session takes prompts on the latest pushed frame ({latest}), "
                f"got frame {frame}"
            )
        return latest

    def push(self, frame: ImageInput) -> FrameMasks:
        """Add the next frame and track every object onto it.

        Args:
            frame: (H, W, 3) array, PIL image or path; every frame must have the first's size.

        Returns:
            ``FrameMasks`` for this frame (empty before the first prompt).
        """
        image = load_image(frame)
        if self._size is None:
            self._size = tuple(image.shape[:2])  # type: ignore[assignment]
            self._state = self.tracker._new_session(None, self._size)
        elif image.shape[:2] != self._size:
            raise ValueError(
                f"all frames must have the same size: frame {self.frames_seen} is "
                f"{image.shape[:2]}, the first frame is {self._size}"
            )
        frame_idx = self.frames_seen
        pixels = self.tracker._preprocess(image)
        if not self.obj_ids:
            self._state.add_new_frame(pixels, frame_idx)
            self.frames_seen += 1
            self._release(frame_idx)
            return FrameMasks(frame_idx, {}, {}, {})
        self._require_prompted("push")
        tracker = self.tracker
        with torch.inference_mode(), autocast(tracker.device, tracker.dtype):
            tracker.model.track_step(
                self._state,
                frame_idx,
                reverse=False,
                fill_hole_area=tracker.fill_hole_area,
                frame=pixels,
            )
        self.frames_seen += 1
        result = self._results(frame_idx)
        self._release(frame_idx)
        return result

    def add(
        self,
        obj_id: int,
        *,
        points: ArrayLike | None = None,
        labels: ArrayLike | None = None,
        box: ArrayLike | None = None,
        mask: ArrayLike | None = None,
        clear_old_points: bool = True,
        frame: int | None = None,
    ) -> FrameMasks:
        """Prompt or correct an object on the latest pushed frame (see ``TrackingSession.add``).

        Raises:
            RuntimeError: no frame pushed yet.
        """
        if self.frames_seen == 0:
            raise RuntimeError("Call push(frame) before add(): prompts go on the latest frame.")
        frame_idx = self._frame_index(self.frames_seen - 1 if frame is None else frame)
        return self._add(frame_idx, obj_id, points, labels, box, mask, clear_old_points, True)

    @property
    def stored_frames(self) -> set[int]:
        """Indices of the frames the session still holds anything for (pixels or outputs)."""
        state = self._state
        if state is None:
            return set()
        held = set(state.processed_frames or {})
        for outputs in state.output_dict_per_obj.values():
            held.update(outputs["cond_frame_outputs"], outputs["non_cond_frame_outputs"])
        return held

    @property
    def stored_bytes(self) -> int:
        """Bytes of tensors the session holds: frame pixels and per-object outputs / memories."""
        state = self._state
        if state is None:
            return 0
        total = sum(t.numel() * t.element_size() for t in (state.processed_frames or {}).values())
        for outputs in state.output_dict_per_obj.values():
            for per_frame in outputs.values():
                for out in per_frame.values():
                    total += sum(
                        v.numel() * v.element_size()
                        for v in out.values()
                        if isinstance(v, torch.Tensor)
                    )
        return total

    def _release(self, latest: int) -> None:
        state = self._state
        for frame_idx in list(state.processed_frames):
            if frame_idx != latest:
                del state.processed_frames[frame_idx]
        oldest_memory = latest + 1 - self._keep_memories
        oldest_pointer = latest + 1 - self._keep_pointers
        for obj_idx, outputs in state.output_dict_per_obj.items():
            tracked = outputs["non_cond_frame_outputs"]
            for frame_idx in list(tracked):
                if frame_idx < oldest_pointer:
                    del tracked[frame_idx]
                elif frame_idx < oldest_memory:
                    tracked[frame_idx] = {
                        key: tracked[frame_idx][key]
                        for key in ("object_pointer", "object_score_logits")
                    }
                elif frame_idx != latest:
                    tracked[frame_idx].pop("pred_masks", None)
            frames_tracked = state.frames_tracked_per_obj[obj_idx]
            for frame_idx in list(frames_tracked):
                if frame_idx != latest:
                    del frames_tracked[frame_idx]


# --------------------------------------------------------------------------------------------


def track_video(
    video: VideoInput,
    prompts: Iterable[Mapping[str, Any]],
    *,
    output_dir: str | os.PathLike[str] | None = None,
    overlay_path: str | os.PathLike[str] | None = None,
    model: str | os.PathLike[str] = "tiny",
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    fill_hole_area: int = 8,
    fps: float = 10.0,
    progress: bool | None = None,
) -> list[FrameMasks]:
    """Track prompted objects through a video and write the results (the ``track`` command).

    Args:
        video: folder of frames, video file or list of images (see ``VideoTracker.open``).
        prompts: one mapping per prompt with the arguments of ``TrackingSession.add``:
            ``{"frame": 0, "obj_id": 1, "points": [(x, y)], "labels": [1]}`` or
            ``{"frame": 0, "obj_id": 2, "box": (x0, y0, x1, y1)}``.
        output_dir: write one label PNG per frame there (``00000.png``: pixel = object id).
        overlay_path: write the frames with the masks tinted on them (``.mp4`` or ``.gif``).
        model, device, dtype: as for ``VideoTracker.from_pretrained``.
        fill_hole_area: see ``VideoTracker``.
        fps: frame rate of the overlay.
        progress: progress bars; None = only on a terminal.

    Returns:
        ``FrameMasks`` for every frame, sorted by frame index. Tracking runs forward from the
        earliest prompted frame and backward from it, so every frame gets masks.
    """
    prompts = list(prompts)
    if not prompts:
        raise ValueError("track_video needs at least one prompt")
    tracker = VideoTracker.from_pretrained(
        model, device=device, dtype=dtype, fill_hole_area=fill_hole_area, progress=progress
    )
    session = tracker.open(video)
    for index, prompt in enumerate(prompts):
        if not isinstance(prompt, Mapping):
            raise TypeError(f"prompts[{index}] must be a mapping, got {type(prompt).__name__}")
        session.add(**prompt)
    results = sorted(session.propagate(both_directions=True), key=lambda r: r.frame_idx)
    if output_dir is not None:
        save_mask_pngs(results, output_dir, size=session.size)
    if overlay_path is not None:
        write_overlay(iter_frames(video), results, Path(overlay_path), fps=fps)
    return results
