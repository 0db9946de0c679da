"""``SAM2VideoPredictor``: the original ``sam2.sam2_video_predictor`` on transformers.

``init_state`` opens a video into an inference state (a dict, as the original's, with
``num_frames``, ``video_height``, ``video_width``, ``obj_ids`` ...); prompts and propagation
return the original's ``(frame_idx, obj_ids, video_res_masks)`` with mask *logits* of shape
(N, 1, H, W) on the model's device, so ``(out_mask_logits[i] > 0.0).cpu().numpy()`` works.
Tracking runs on sam2_hf's ``VideoTracker``, which follows the original predictor's rules.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from ..video.tracker import TrackingSession, VideoTracker
from ._internals import (
    conditioning_frames,
    frame_logits,
    loaded_from,
    prompted_frames,
    session_state,
)

# The score the original gives objects with no output on a frame.
NO_OBJ_SCORE = -1024.0


class InferenceState(dict[str, Any]):
    """The state ``init_state`` returns: a dict with the original's public keys.

    Keys: ``images`` (the preprocessed frames, indexable), ``num_frames``,
    ``video_height``, ``video_width``, ``offload_video_to_cpu``, ``offload_state_to_cpu``,
    ``device``, ``storage_device`` and ``obj_ids`` (kept up to date). The tracking itself
    lives in ``session`` (a ``sam2_hf.TrackingSession``).
    """

    session: TrackingSession


class _Frames(Sequence[torch.Tensor]):
    """The preprocessed frames of a session, (3, S, S) each, read on demand."""

    def __init__(self, session: TrackingSession) -> None:
        self._session = session

    def __len__(self) -> int:
        return self._session.num_frames

    def __getitem__(self, index: Any) -> Any:
        state = session_state(self._session)
        if isinstance(index, slice):
            return [state.get_frame(i) for i in range(*index.indices(len(self)))]
        return state.get_frame(int(index))


class SAM2VideoPredictor(torch.nn.Module):
    """Track objects through a video from prompts on some frames, as the original predictor.

    Example:
        >>> predictor = build_sam2_video_predictor("sam2.1_hiera_t", "sam2.1_hiera_tiny.pt")
        >>> state = predictor.init_state(video_path="frames/")  # doctest: +SKIP
        >>> _, obj_ids, logits = predictor.add_new_points_or_box(  # doctest: +SKIP
        ...     state, frame_idx=0, obj_id=1, points=[[210, 350]], labels=[1])
        >>> for frame_idx, obj_ids, logits in predictor.propagate_in_video(state):  # doctest: +SKIP
        ...     masks = (logits > 0.0).cpu().numpy()
    """

    def __init__(
        self,
        model: Any,
        fill_hole_area: int = 8,
        add_all_frames_to_correct_as_cond: bool = False,
    ) -> None:
        """Wrap a video model; ``build_sam2_video_predictor`` makes one.

        Args:
            model: a transformers ``Sam2VideoModel`` (or a ``LoadedModel`` of one).
            fill_hole_area: fill holes of up to this many low-res pixels in output masks.
            add_all_frames_to_correct_as_cond: make corrected frames conditioning frames.
        """
        super().__init__()
        self._loaded = loaded_from(model, "video")
        self.model = self._loaded.model
        self.fill_hole_area = int(fill_hole_area)
        self.add_all_frames_to_correct_as_cond = bool(add_all_frames_to_correct_as_cond)
        config: Any = self.model.config
        self.image_size = int(config.image_size)

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs: Any) -> SAM2VideoPredictor:
        """Load a hub checkpoint (``"facebook/sam2.1-hiera-large"``); ``kwargs`` go to
        ``build_sam2_video_predictor_hf``."""
        from .build_sam import build_sam2_video_predictor_hf

        return build_sam2_video_predictor_hf(model_id, **kwargs)

    @property
    def device(self) -> torch.device:
        """The model's device."""
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------------ state

    @torch.inference_mode()
    def init_state(
        self,
        video_path: str | os.PathLike[str] | Sequence[Any],
        offload_video_to_cpu: bool = False,
        offload_state_to_cpu: bool = False,
        async_loading_frames: bool = False,
    ) -> InferenceState:
        """Read a video and start an inference state.

        Args:
            video_path: a folder of JPEG frames (``00000.jpg`` ...), a video file (needs the
                ``video`` extra), or a list of frames.
            offload_video_to_cpu: keep the frames in CPU memory.
            offload_state_to_cpu: keep the memory bank in CPU memory.
            async_loading_frames: accepted; frames are read up front (same results).

        Returns:
            The state to pass to the other methods.
        """
        self._loaded.device = self.device
        tracker = VideoTracker(
            self._loaded,
            fill_hole_area=self.fill_hole_area,
            add_all_frames_to_correct_as_cond=self.add_all_frames_to_correct_as_cond,
            offload_frames_to_cpu=offload_video_to_cpu,
            offload_state_to_cpu=offload_state_to_cpu,
            progress=False,
        )
        session = tracker.open(video_path)
        height, width = session.size
        state = InferenceState(
            images=_Frames(session),
            num_frames=session.num_frames,
            offload_video_to_cpu=offload_video_to_cpu,
            offload_state_to_cpu=offload_state_to_cpu,
            video_height=height,
            video_width=width,
            device=self.device,
            storage_device=torch.device("cpu") if offload_state_to_cpu else self.device,
            obj_ids=[],
        )
        state.session = session
        return state

    @torch.inference_mode()
    def reset_state(self, inference_state: InferenceState) -> None:
        """Remove every object and prompt; the frames stay loaded."""
        _session(inference_state).reset()
        inference_state["obj_ids"] = []

    # ---------------------------------------------------------------------- prompts

    @torch.inference_mode()
    def add_new_points_or_box(
        self,
        inference_state: InferenceState,
        frame_idx: int,
        obj_id: int,
        points: ArrayLike | torch.Tensor | None = None,
        labels: ArrayLike | torch.Tensor | None = None,
        clear_old_points: bool = True,
        normalize_coords: bool = True,
        box: ArrayLike | torch.Tensor | None = None,
    ) -> tuple[int, list[int], torch.Tensor]:
        """Add clicks and/or a box for one object on one frame (or correct it there).

        Args:
            inference_state: from ``init_state``.
            frame_idx: the frame.
            obj_id: the object's id (any int; a new id starts a new object).
            points: (K, 2) clicks (x, y) in pixels (in [0, 1] with ``normalize_coords=False``).
            labels: (K,) 1 foreground, 0 background.
            clear_old_points: replace the object's earlier clicks on this frame.
            normalize_coords: False if ``points`` and ``box`` are in [0, 1].
            box: (x0, y0, x1, y1).

        Returns:
            ``(frame_idx, obj_ids, video_res_masks)``: the frame, every object id, and their
            mask logits on this frame, (N, 1, H, W) float32 on the model's device.
        """
        session = _session(inference_state)
        if (points is not None) != (labels is not None):
            raise ValueError("points and labels must be provided together")
        if points is None and box is None:
            raise ValueError("at least one of points or box must be provided as input")
        if box is not None and not clear_old_points:
            raise ValueError(
                "cannot add box without clearing old points, since box prompt must be provided "
                "before any point prompt (please use clear_old_points=True instead)"
            )
        height, width = session.size
        scale = np.array([width, height], np.float32) if not normalize_coords else None
        coords = _array(points, np.float32)
        if coords is not None:
            coords = coords.reshape(-1, 2)
            if scale is not None:
                coords = coords * scale
        boxes = _array(box, np.float32)
        if boxes is not None and scale is not None:
            boxes = (boxes.reshape(2, 2) * scale).reshape(4)
        point_labels = _array(labels, np.int64)
        session.add(
            int(frame_idx),
            obj_id,
            points=coords,
            labels=None if point_labels is None else point_labels.reshape(-1),
            box=boxes,
            clear_old_points=clear_old_points,
        )
        return self._frame_output(inference_state, int(frame_idx))

    def add_new_points(self, *args: Any, **kwargs: Any) -> tuple[int, list[int], torch.Tensor]:
        """Deprecated in the original: ``add_new_points_or_box``."""
        return self.add_new_points_or_box(*args, **kwargs)

    @torch.inference_mode()
    def add_new_mask(
        self,
        inference_state: InferenceState,
        frame_idx: int,
        obj_id: int,
        mask: ArrayLike | torch.Tensor,
    ) -> tuple[int, list[int], torch.Tensor]:
        """Prompt one object on one frame with a mask.

        Args:
            mask: (H, W) bool (or 0/1) mask at the video's size.

        Returns:
            As ``add_new_points_or_box``.
        """
        array = _array(mask, None)
        if array is None or array.ndim != 2:
            shape = None if array is None else array.shape
            raise ValueError(f"mask must be a 2-D (H, W) mask, got shape {shape}")
        if array.dtype != bool:
            array = array.astype(bool) if np.isin(array, (0, 1)).all() else array
        _session(inference_state).add(int(frame_idx), obj_id, mask=array)
        return self._frame_output(inference_state, int(frame_idx))

    @torch.inference_mode()
    def clear_all_prompts_in_frame(
        self,
        inference_state: InferenceState,
        frame_idx: int,
        obj_id: int,
        need_output: bool = True,
    ) -> tuple[int, list[int], torch.Tensor] | None:
        """Remove one object's prompts on one frame; its result there stays as a tracked
        (not prompted) one until the next propagation recomputes it."""
        _session(inference_state).clear_frame(int(frame_idx), obj_id)
        if not need_output:
            return None
        return self._frame_output(inference_state, int(frame_idx))

    @torch.inference_mode()
    def remove_object(
        self,
        inference_state: InferenceState,
        obj_id: int,
        strict: bool = False,
        need_output: bool = True,
    ) -> tuple[list[int], list[tuple[int, torch.Tensor]]]:
        """Stop tracking ``obj_id``.

        Returns:
            ``(obj_ids, updated_frames)``: the remaining ids, and for each frame the removed
            object had prompts on, ``(frame_idx, video_res_masks)`` of the remaining objects.

        Raises:
            RuntimeError: ``strict`` and ``obj_id`` is not tracked.
        """
        session = _session(inference_state)
        if obj_id not in session.obj_ids:
            if strict:
                raise RuntimeError(
                    f"Cannot remove object id {obj_id} as it doesn't exist. All existing "
                    f"object ids: {session.obj_ids}."
                )
            return list(session.obj_ids), []
        if len(session.obj_ids) == 1:
            self.reset_state(inference_state)
            return [], []
        frames = sorted(prompted_frames(session, obj_id))
        session.remove_object(obj_id)
        inference_state["obj_ids"] = list(session.obj_ids)
        updated = []
        if need_output:
            for frame_idx in frames:
                updated.append((frame_idx, self._frame_output(inference_state, frame_idx)[2]))
        return list(session.obj_ids), updated

    # ------------------------------------------------------------------- propagation

    @torch.inference_mode()
    def propagate_in_video_preflight(self, inference_state: InferenceState) -> None:
        """Check that every object has a prompt (prompts are committed as they are added)."""
        session = _session(inference_state)
        if not session.obj_ids:
            raise RuntimeError(
                "No input points or masks are provided for any object; please add inputs first."
            )
        for obj_id in session.obj_ids:
            if not conditioning_frames(session, obj_id):
                raise RuntimeError(
                    f"No input points or masks are provided for object id {obj_id}; please add "
                    "inputs first."
                )

    def propagate_in_video(
        self,
        inference_state: InferenceState,
        start_frame_idx: int | None = None,
        max_frame_num_to_track: int | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[int, list[int], torch.Tensor]]:
        """Track every object through the video, yielding each frame's masks as it is done.

        Args:
            start_frame_idx: first frame; default the earliest prompted frame.
            max_frame_num_to_track: track this many frames after the start one (the original
                visits ``max_frame_num_to_track + 1`` frames, the start included).
            reverse: go towards frame 0 (from frame 0 itself nothing is tracked).

        Yields:
            ``(frame_idx, obj_ids, video_res_masks)`` as ``add_new_points_or_box`` returns.
        """
        self.propagate_in_video_preflight(inference_state)
        session = _session(inference_state)
        num_frames = session.num_frames
        if start_frame_idx is None:
            start_frame_idx = min(
                frame
                for obj_id in session.obj_ids
                for frame in conditioning_frames(session, obj_id)
            )
        if reverse and start_frame_idx == 0:
            return  # the original skips reverse tracking from frame 0
        limit = num_frames if max_frame_num_to_track is None else int(max_frame_num_to_track)
        for result in session.propagate(start_frame_idx, reverse=reverse, max_frames=limit + 1):
            with torch.inference_mode():
                output = self._frame_output(inference_state, result.frame_idx)
            yield output

    # ------------------------------------------------------------------------ outputs

    def _frame_output(
        self, inference_state: InferenceState, frame_idx: int
    ) -> tuple[int, list[int], torch.Tensor]:
        """Every object's logits on ``frame_idx`` at the video's size, as the original
        consolidates them: objects with no output there get ``NO_OBJ_SCORE``."""
        session = _session(inference_state)
        obj_ids = list(session.obj_ids)
        inference_state["obj_ids"] = obj_ids
        height, width = session.size
        device = self.device
        logits = frame_logits(session, frame_idx)
        masks = torch.full((len(obj_ids), 1, height, width), NO_OBJ_SCORE, device=device)
        present = [i for i, obj_id in enumerate(obj_ids) if obj_id in logits]
        if present:
            low_res = torch.cat([logits[obj_ids[i]].to(device).float() for i in present])
            upscaled = F.interpolate(
                low_res, size=(height, width), mode="bilinear", align_corners=False
            )
            masks[present] = upscaled
        return frame_idx, obj_ids, masks


def _session(inference_state: Any) -> TrackingSession:
    session = getattr(inference_state, "session", None)
    if not isinstance(session, TrackingSession):
        raise TypeError(
            "inference_state must be the state returned by this predictor's init_state(), got "
            f"{type(inference_state).__name__}"
        )
    return session


def _array(value: Any, dtype: Any) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)
