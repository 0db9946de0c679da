"""Video object tracking with SAM 2's memory: ``VideoTracker`` and its sessions.

``tracker.open(video)`` tracks a whole video (prompts on any frame, propagation forward,
backward or both); ``tracker.stream()`` takes frames one at a time and keeps only what the
memory bank reads. Both run transformers' video model of the checkpoint's family
(``Sam2VideoModel``, ``EdgeTamVideoModel``, ``Sam3TrackerVideoModel``) with the original
``SAM2VideoPredictor``'s rules where the two differ: a correction click feeds the previous
mask back, a prompt runs and re-encodes only its object, a mask prompt decodes one mask,
and a prompted frame's memory comes from its low-res mask (``engine.video_contract.prompt_step``
says how). Everything that reaches into transformers' internals is in
``sam2_hf.engine.video_contract``; this module calls only its functions.

Per family, the rules follow that family's reference predictor:

- SAM 2 / 2.1 (facebookresearch/sam2): all four rules.
- EdgeTAM (facebookresearch/EdgeTAM, a fork of sam2's predictor code): all four rules. Its
  reference encodes the prompted frames' memories of all objects together when propagation
  starts (an object with no output on a prompted frame gets an empty-mask memory there);
  here each object's memory is encoded from its own mask, as SAM 2.1 does.
- SAM 3 tracker (facebookresearch/sam3, ``Sam3TrackerPredictor``): a correction click does
  not feed the previous mask back (its ``iter_use_prev_mask_pred`` is False). Not replicated:
  its multi-object memory re-encoding with overlaps removed, its non-overlapping output
  masks, its cap of 16 clicks per prompt (the first 8 and the last 8), and its bfloat16
  autocast (here ``dtype`` decides). Its hole filling (``fill_hole_area``, 0 by default
  there) works at the video's resolution; ``fill_hole_area`` here fills the low-res masks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from numpy.typing import ArrayLike
from PIL import Image
from transformers import Sam2VideoInferenceSession, Sam2VideoProcessor
from typing_extensions import Unpack

from ..engine import video_contract as contract
from ..engine.loading import LoadedModel, LoadOptions, autocast, load_model
from ..formats.masks import clean_mask_logits
from ..inputs import ImageInput, as_boxes, as_points, check_int, load_image
from ..results import FrameMasks
from .io import VideoInput, iter_frames, progress, read_frames, save_mask_pngs, write_overlay

# The original fills holes with this small positive score (sam2.utils.misc).
_HOLE_FILL_SCORE = 0.1


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

    Serves SAM 2 / 2.1, EdgeTAM and SAM 3 tracker video checkpoints (see the module docstring
    for what differs per family).

    Example:
        >>> tracker = VideoTracker.from_pretrained("tiny")  # doctest: +SKIP
        >>> session = tracker.open("clip.mp4")  # doctest: +SKIP
        >>> session.add(frame_idx=0, obj_id=1, points=[(210, 350)], labels=[1])  # doctest: +SKIP
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
            progress: progress bars over frames (a widget in Jupyter / Colab, text on a
                terminal): True always, False never, None (default) when there are at least
                ``sam2_hf.video.io.PROGRESS_MIN_STEPS`` frames to go through.

        Raises:
            TypeError: the model is not the video model of a known family (an image model:
                load it with ``task="video"``); the message names the family and the fix.
            sam2_hf.engine.video_contract.UnsupportedTransformersError: the installed
                transformers changed an internal the tracker relies on; says which versions
                are supported.
        """
        fill_hole_area = check_int("fill_hole_area", fill_hole_area, minimum=0)
        self.model = contract.check_video_model(loaded.model)
        self.processor = cast(Sam2VideoProcessor, loaded.processor)
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
        """Load a video checkpoint by short name (``"tiny"`` ... ``"large"``, ``"edgetam"``,
        ``"sam3"``), hub id or folder.

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
        side = int(cast(Any, self.model.config).image_size)
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

    def _new_session(
        self, pixels: torch.Tensor | None, size: tuple[int, int]
    ) -> Sam2VideoInferenceSession:
        cpu = torch.device("cpu")
        return contract.new_session(
            pixels,
            size,
            device=self.device,
            state_device=cpu if self.offload_state_to_cpu else self.device,
            storage_device=cpu if self.offload_frames_to_cpu else self.device,
            model=self.model,
        )

    def _postprocess(self, logits: torch.Tensor) -> torch.Tensor:
        return _fill_holes(logits, self.fill_hole_area)


class _Session:
    """What whole-video and streaming sessions share: prompts, objects, results."""

    def __init__(self, tracker: VideoTracker, size: tuple[int, int] | None) -> None:
        self.tracker = tracker
        self._size = size
        self._state: Sam2VideoInferenceSession | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the frames."""
        if self._size is None:
            raise RuntimeError("Call push(frame) first: the stream has no frames yet.")
        return self._size

    @property
    def obj_ids(self) -> list[int]:
        """The tracked object ids, in the order they were first prompted."""
        return [] if self._state is None else contract.object_ids(self._state)

    def _session(self) -> Sam2VideoInferenceSession:
        if self._state is None:
            raise RuntimeError("Call push(frame) first: the stream has no frames yet.")
        return self._state

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
        state = self._session()
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
                known = obj_id in self.obj_ids
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
        tracker = self.tracker
        with torch.inference_mode(), autocast(tracker.device, tracker.dtype):
            contract.prompt_step(
                tracker.model,
                state,
                frame_idx,
                obj_id,
                postprocess=tracker._postprocess,
                correction_as_cond=tracker.add_all_frames_to_correct_as_cond,
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

    def _check_tracked(self, obj_id: int) -> None:
        if obj_id not in self.obj_ids:
            raise ValueError(f"obj_id {obj_id!r} is not tracked; tracked ids: {self.obj_ids}")

    def remove_object(self, obj_id: int) -> None:
        """Stop tracking ``obj_id`` and forget its prompts and memory; other objects keep theirs.

        Raises:
            ValueError: ``obj_id`` is not tracked.
        """
        self._check_tracked(obj_id)
        contract.remove_object(self._session(), obj_id)

    def clear_frame(self, frame_idx: int, obj_id: int | None = None) -> None:
        """Remove the prompts on ``frame_idx`` (of one object, or of all when ``obj_id`` is None).

        As in the original, the frame's output stays as a tracked (non-prompted) result and is
        recomputed by the next propagation over it. An object left with no prompted frame
        must be prompted again or removed before the next propagation.
        """
        frame_idx = self._frame_index(frame_idx)
        if obj_id is not None:
            self._check_tracked(obj_id)
        state = self._session()
        for tracked in self.obj_ids if obj_id is None else [obj_id]:
            contract.clear_prompts(state, tracked, frame_idx)

    def reset(self) -> None:
        """Forget every object, prompt and result; the frames stay loaded."""
        if self._state is not None:
            contract.reset(self._state)

    def _frame_index(self, frame_idx: int, name: str = "frame_idx") -> int:
        raise NotImplementedError

    def _require_prompted(self, action: str) -> None:
        if not self.obj_ids:
            raise RuntimeError(f"Call add(...) with a prompt before {action}().")
        unprompted = contract.unprompted_objects(self._session())
        if unprompted:
            raise RuntimeError(
                f"objects {unprompted} have no prompt left; add(...) one or remove_object() "
                f"them before {action}()"
            )

    def _results(self, frame_idx: int) -> FrameMasks:
        """Masks at the original size for every object with an output on ``frame_idx``."""
        found = contract.frame_results(self._session(), frame_idx)
        if not found:
            return FrameMasks(frame_idx, {}, {}, {})
        ids = [obj_id for obj_id, _, _ in found]
        low_res = [logits for _, logits, _ in found]
        scores = [score for _, _, score in found]
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

    def _frame_index(self, frame_idx: int, name: str = "frame_idx") -> int:
        if isinstance(frame_idx, bool) or not isinstance(frame_idx, (int, np.integer)):
            raise TypeError(f"{name} must be an int frame index, got {type(frame_idx).__name__}")
        if not 0 <= frame_idx < self.num_frames:
            raise ValueError(
                f"{name} must be a frame index in [0, {self.num_frames - 1}] "
                f"(the video has {self.num_frames} frames), got {frame_idx}"
            )
        return int(frame_idx)

    def add(
        self,
        frame_idx: int | None = None,
        obj_id: int | None = None,
        *,
        points: ArrayLike | None = None,
        labels: ArrayLike | None = None,
        box: ArrayLike | None = None,
        mask: ArrayLike | None = None,
        clear_old_points: bool = True,
        frame: int | None = None,
    ) -> FrameMasks:
        """Prompt one object on one frame, or correct it there; runs the model right away.

        Args:
            frame_idx: frame index (0-based), as ``FrameMasks.frame_idx``.
            obj_id: any int naming the object; reuse it to correct the same object.
            points: (K, 2) clicks (x, y) in pixels of the original frame.
            labels: (K,) 1 = on the object, 0 = not on it. Default: all 1.
            box: (x0, y0, x1, y1) in pixels; can be combined with points.
            mask: (H, W) bool mask at the frame's size, instead of points/box.
            clear_old_points: replace this object's earlier clicks on this frame (the
                original's default; the previous mask still guides the new clicks).
                False adds the clicks to them.
            frame: the first release's name of ``frame_idx``, still accepted.

        A click on a frame the object was already tracked to is a correction: the frame's
        previous mask is fed back with the click, as in the original. See
        ``VideoTracker(add_all_frames_to_correct_as_cond=...)`` for how it survives the next
        propagation.

        Returns:
            ``FrameMasks`` of this frame for every object that has a result on it.

        Raises:
            TypeError: no frame index or no obj_id, or both ``frame_idx`` and ``frame``.
            ValueError: frame outside the video, malformed prompt, mask of the wrong size, a
                correction (only negative clicks) for an object that is not tracked.
        """
        frame_idx = _frame_argument(frame_idx, frame)
        if frame_idx is None:
            raise TypeError("add() needs frame_idx, the frame to prompt on")
        if obj_id is None:
            raise TypeError("add() needs obj_id, the int naming the object")
        return self._add(
            self._frame_index(frame_idx), obj_id, points, labels, box, mask, clear_old_points, False
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
            reverse; with ``both_directions`` the forward frames come first. Each holds, per
            object id, ``masks[obj_id]`` an (H, W) bool mask at the video's original size,
            ``present[obj_id]`` and ``scores[obj_id]`` (the float object score logit).

        Nothing runs until the iterator is consumed (``for``, ``list(...)``): a bare
        ``session.propagate(...)`` call tracks nothing.

        Example:
            >>> session.add(frame_idx=40, obj_id=1, points=[(220, 340)])  # doctest: +SKIP
            >>> backwards = list(session.propagate(start=40, reverse=True))  # doctest: +SKIP
            >>> [r.frame_idx for r in backwards][:3], backwards[0].masks[1].shape  # doctest: +SKIP
            ([40, 39, 38], (480, 640))

        Raises:
            TypeError: ``start`` or ``max_frames`` is not an int.
            ValueError: ``start`` outside the video, ``max_frames`` < 1.
            RuntimeError: no object prompted, or an object left with no prompt.
        """
        if start is not None:
            start = self._frame_index(start, "start")
        if max_frames is not None:
            max_frames = check_int("max_frames", max_frames, minimum=1)
        self._require_prompted("propagate")
        if start is None:
            start = contract.first_prompted_frame(self._session())
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
        state = self._session()
        for frame_idx, reverse in progress(
            order, total=len(order), desc="track", show=tracker.progress
        ):
            with torch.inference_mode(), autocast(tracker.device, tracker.dtype):
                contract.track_step(
                    tracker.model,
                    state,
                    frame_idx,
                    reverse=reverse,
                    postprocess=tracker._postprocess,
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
        self._keep_memories = max(int(config.num_maskmem) - 1, 1)
        self._keep_pointers = max(int(config.max_object_pointers_in_encoder) - 1, 1)

    def _frame_index(self, frame_idx: int, name: str = "frame_idx") -> int:
        latest = self.frames_seen - 1
        if frame_idx != latest:
            raise ValueError(
                f"a streaming session takes prompts on the latest pushed frame ({latest}), "
                f"got {name} {frame_idx}"
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
        if self._state is None:
            self._size = (int(image.shape[0]), int(image.shape[1]))
            self._state = self.tracker._new_session(None, self._size)
        elif image.shape[:2] != self._size:
            raise ValueError(
                f"all frames must have the same size: frame {self.frames_seen} is "
                f"{image.shape[:2]}, the first frame is {self._size}"
            )
        state = self._state
        frame_idx = self.frames_seen
        pixels = self.tracker._preprocess(image)
        if not self.obj_ids:
            contract.add_frame(state, pixels, frame_idx)
            self.frames_seen += 1
            self._release(frame_idx)
            return FrameMasks(frame_idx, {}, {}, {})
        self._require_prompted("push")
        tracker = self.tracker
        with torch.inference_mode(), autocast(tracker.device, tracker.dtype):
            contract.track_step(
                tracker.model,
                state,
                frame_idx,
                reverse=False,
                postprocess=tracker._postprocess,
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
        frame_idx: int | None = None,
        frame: int | None = None,
    ) -> FrameMasks:
        """Prompt or correct an object on the latest pushed frame (see ``TrackingSession.add``).

        ``frame_idx`` (alias ``frame``), if given, must be the latest frame's index.

        Raises:
            RuntimeError: no frame pushed yet.
        """
        if self.frames_seen == 0:
            raise RuntimeError("Call push(frame) before add(): prompts go on the latest frame.")
        given = _frame_argument(frame_idx, frame)
        frame_idx = self._frame_index(self.frames_seen - 1 if given is None else given)
        return self._add(frame_idx, obj_id, points, labels, box, mask, clear_old_points, True)

    @property
    def stored_frames(self) -> set[int]:
        """Indices of the frames the session still holds anything for (pixels or outputs)."""
        return set() if self._state is None else contract.stored_frames(self._state)

    @property
    def stored_bytes(self) -> int:
        """Bytes of tensors the session holds: frame pixels and per-object outputs / memories."""
        return 0 if self._state is None else contract.stored_bytes(self._state)

    def _release(self, latest: int) -> None:
        contract.release_frames(
            self._session(),
            latest,
            keep_memories=self._keep_memories,
            keep_pointers=self._keep_pointers,
        )


def _frame_argument(frame_idx: int | None, frame: int | None) -> int | None:
    """``frame_idx``, or its first-release alias ``frame``; not both."""
    if frame is None:
        return frame_idx
    if frame_idx is not None:
        raise TypeError(f"give frame_idx or its alias frame, not both (got {frame_idx}, {frame})")
    return frame


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
            ``{"frame_idx": 0, "obj_id": 1, "points": [(x, y)], "labels": [1]}`` or
            ``{"frame_idx": 0, "obj_id": 2, "box": (x0, y0, x1, y1)}`` (``"frame"`` is
            accepted for ``"frame_idx"``).
        output_dir: write one label PNG per frame there (``00000.png``: pixel = object id).
        overlay_path: write the frames with the masks tinted on them (``.mp4`` or ``.gif``).
        model: short name (``"tiny"`` ... ``"large"``), hub id or local folder.
        device: as for ``VideoTracker.from_pretrained`` (``None``: cuda, then mps, then cpu).
        dtype: as for ``VideoTracker.from_pretrained`` (``None``: automatic).
        fill_hole_area: see ``VideoTracker``.
        fps: frame rate of the overlay.
        progress: progress bars: True, False, or None = when there are enough frames
            (see ``VideoTracker``).

    Returns:
        ``FrameMasks`` for every frame, sorted by frame index: ``masks[obj_id]`` (H, W) bool at
        the video's size, ``present[obj_id]``, ``scores[obj_id]``. Tracking runs forward from
        the earliest prompted frame and backward from it, so every frame gets masks.

    Raises:
        ValueError: no prompts, or a prompt the session rejects (frame out of range, a
            malformed point or box).
        TypeError: a prompt that is not a mapping.

    Example:
        >>> results = track_video(  # doctest: +SKIP
        ...     "clip.mp4",
        ...     [{"frame_idx": 0, "obj_id": 1, "points": [(210, 350)]}],
        ...     output_dir="out/",
        ... )
        >>> results[0].masks[1].shape  # doctest: +SKIP
        (480, 640)
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
