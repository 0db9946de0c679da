"""Video frames in (folders, lists, video files) and tracking results out (PNGs, mp4, GIF).

Frames are (H, W, 3) RGB arrays as ``sam2_hf.load_image`` returns them: uint8, or float32 in
[0, 1] for 16-bit sources. Video files are decoded with PyAV, the optional ``video`` extra.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from tqdm.auto import tqdm

from ..formats.draw import PALETTE
from ..formats.draw import overlay as draw_overlay
from ..inputs import load_image

if TYPE_CHECKING:
    from types import ModuleType

    from ..results import FrameMasks

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
VideoInput = str | os.PathLike | Sequence[Any]
#: ``progress=None`` shows a bar when there are at least this many steps (frames, batches).
PROGRESS_MIN_STEPS = 10


def require_av() -> ModuleType:
    """Import PyAV, or say how to install it."""
    try:
        import av
    except ImportError:
        raise ImportError(
            'reading and writing video files needs PyAV: pip install "sam2-hf[video]" '
            "(or pass a folder of JPEG/PNG frames or a list of images)"
        ) from None
    return av


def natural_key(name: str) -> list[Any]:
    """Sort key that puts ``frame2.jpg`` before ``frame10.jpg``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


class Frames(Sequence[NDArray[Any]]):
    """The frames of one video, all of one size, indexable; folders are read lazily.

    Attributes:
        size: (H, W) of every frame.
        name: where the frames came from, for error messages.
    """

    def __init__(self, items: Sequence[Any], name: str) -> None:
        if len(items) == 0:
            raise ValueError(f"video {name} has no frames")
        self._items = list(items)
        self.name = name
        first = self._load(0)
        self.size: tuple[int, int] = (int(first.shape[0]), int(first.shape[1]))

    def _load(self, index: int) -> NDArray[Any]:
        item = self._items[index]
        frame = item if isinstance(item, np.ndarray) and item.ndim == 3 else load_image(item)
        return frame

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> NDArray[Any]:  # type: ignore[override]
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame index {index} is outside the video ({len(self)} frames)")
        frame = self._load(index)
        if frame.shape[:2] != self.size:
            raise ValueError(
                f"all frames must have the same size: frame {index % len(self)} of {self.name} "
                f"is {frame.shape[:2]}, frame 0 is {self.size}"
            )
        return frame

    def __iter__(self) -> Iterator[NDArray[Any]]:
        for index in range(len(self)):
            yield self[index]


def read_frames(video: VideoInput) -> Frames:
    """Open a video: a folder of JPEG/PNG frames, a video file, or a list of images.

    Args:
        video: a folder (frames sorted naturally by file name: ``2.jpg`` before ``10.jpg``),
            a video file that PyAV can decode (mp4, mov, avi, webm ...), or a list of
            paths / PIL images / (H, W[, C]) arrays, all of one size.

    Returns:
        ``Frames``: folders are read lazily; list items are validated now; a video file is
        decoded into memory now (use ``iter_frames`` to stream a long one).

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: no frames, frames of different sizes, an unreadable file, a path to a
            single image (segment it with ``sam2_hf.segment`` / ``sam2-hf segment``).
    """
    if isinstance(video, (str, os.PathLike)):
        path = Path(video)
        if not path.exists():
            raise FileNotFoundError(f"video {str(path)!r} does not exist")
        if path.is_dir():
            files = _frame_files(path)
            return Frames(files, repr(str(path)))
        _reject_single_image(path)
        return Frames(list(_decode(path)), repr(str(path)))
    if isinstance(video, np.ndarray) and video.ndim == 4:
        video = list(video)
    if not isinstance(video, Sequence) or isinstance(video, (bytes, np.ndarray)):
        raise TypeError(
            f"video must be a folder, a video file or a list of images, got {type(video).__name__}"
        )
    frames = [load_image(item) for item in video]
    if frames:
        for index, frame in enumerate(frames):
            if frame.shape[:2] != frames[0].shape[:2]:
                raise ValueError(
                    f"all frames must have the same size: video[{index}] is {frame.shape[:2]}, "
                    f"video[0] is {frames[0].shape[:2]}"
                )
    return Frames(frames, "list")


def iter_frames(video: VideoInput) -> Iterator[NDArray[Any]]:
    """Yield a video's frames one at a time without holding them all (for streaming).

    Raises:
        ValueError: as ``read_frames``.
    """
    if isinstance(video, (str, os.PathLike)) and Path(video).is_file():
        _reject_single_image(Path(video))
        yield from _decode(Path(video))
    else:
        yield from read_frames(video)


def _reject_single_image(path: Path) -> None:
    """A still image is not a video of one frame: say what to use instead.

    Multi-frame images (animated GIF / WebP, multi-page TIFF) are decoded as videos.
    """
    if path.suffix.lower() not in Image.registered_extensions():
        return
    try:
        with Image.open(path) as image:
            frames = getattr(image, "n_frames", 1)
    except (OSError, ValueError):  # not readable as an image: let the video decoder say why
        return
    if frames == 1:
        raise ValueError(
            f"{str(path)!r} is a single image, not a video: segment it with "
            "sam2_hf.segment(...) or `sam2-hf segment`; to track, give a video file, a folder "
            "of frames or a list of images"
        )


def _frame_files(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise ValueError(
            f"video folder {str(folder)!r} has no frames: expected files ending in "
            f"{', '.join(IMAGE_SUFFIXES)}"
        )
    return sorted(files, key=lambda p: natural_key(p.name))


def _decode(path: Path) -> Iterator[NDArray[np.uint8]]:
    av = require_av()
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as error:
        raise ValueError(f"video file {str(path)!r} cannot be read as a video: {error}") from None
    with container:
        if not container.streams.video:
            raise ValueError(f"video file {str(path)!r} has no video stream")
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


# ------------------------------------------------------------------ outputs


def progress(
    iterable: Iterable[Any], *, total: int, desc: str, show: bool | None, unit: str = "frame"
) -> Any:
    """A progress bar over ``iterable``: tqdm.auto's, a widget in Jupyter / Colab, text elsewhere.

    Args:
        iterable: what to go through.
        total: its length.
        desc: the bar's label.
        show: True always, False never, None when ``total >= PROGRESS_MIN_STEPS`` (short work
            stays quiet; long work shows progress, in a notebook too).
        unit: what one step is.
    """
    enabled = total >= PROGRESS_MIN_STEPS if show is None else bool(show)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled)


def label_image(result: FrameMasks, size: tuple[int, int]) -> NDArray[np.uint8]:
    """One (H, W) uint8 image per frame: pixel value = object id, 0 = background.

    Where objects overlap, the one listed later in ``result.masks`` wins.
    """
    labels = np.zeros(size, dtype=np.uint8)
    for obj_id, mask in result.masks.items():
        if not 1 <= obj_id <= 255:
            raise ValueError(f"object ids must be 1..255 to be written as PNG labels, got {obj_id}")
        labels[mask] = obj_id
    return labels


def save_mask_pngs(
    results: Iterable[FrameMasks], output_dir: str | os.PathLike[str], *, size: tuple[int, int]
) -> list[Path]:
    """Write one palette PNG per frame, ``00000.png`` ..., as DAVIS / the SAM 2 tools do.

    Pixel value = object id (1..255), 0 = background; the palette colours the ids like the
    overlays. Reads back with ``np.array(Image.open(path))``.

    Returns:
        The written paths, in the order of ``results``.
    """
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[1:] = np.resize(np.array(PALETTE, dtype=np.uint8), (255, 3))
    written = []
    for result in results:
        image = Image.fromarray(label_image(result, size), mode="P")
        image.putpalette(palette.ravel().tolist())
        path = folder / f"{result.frame_idx:05d}.png"
        image.save(path)
        written.append(path)
    return written


def overlay_frame(
    frame: NDArray[Any], result: FrameMasks, *, alpha: float = 0.5
) -> NDArray[np.uint8]:
    """A new uint8 RGB frame with each object's mask tinted in its colour (``sam2_hf.overlay``'s
    colours, so an object id looks the same in image and video overlays).

    Args:
        frame: (H, W, 3) frame, uint8 or float in [0, 1].
        result: the frame's tracked masks, (H, W) each.
        alpha: opacity of the tint.
    """
    if not result.masks:
        drawn = draw_overlay(frame, np.zeros((0, *frame.shape[:2]), bool))
    else:
        drawn = draw_overlay(
            frame, result.stack(), obj_ids=result.obj_ids, alpha=alpha, contours=False
        )
    return np.asarray(drawn, dtype=np.uint8)  # an array in, an array out: no copy


def write_overlay(
    frames: Iterable[NDArray[Any]],
    results: Iterable[FrameMasks],
    path: str | os.PathLike[str],
    *,
    fps: float = 10.0,
    alpha: float = 0.5,
) -> Path:
    """Write the frames with the tracked masks tinted on them: ``.mp4`` (PyAV) or ``.gif``.

    ``frames`` and ``results`` are paired in order (results sorted by frame first).
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"overlay path must end in .mp4 or .gif, got {str(target)!r}")
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    target.parent.mkdir(parents=True, exist_ok=True)
    images = (overlay_frame(f, r, alpha=alpha) for f, r in zip(frames, results, strict=True))
    if suffix == ".gif":
        pictures = [Image.fromarray(image) for image in images]
        if not pictures:
            raise ValueError("no frames to write")
        pictures[0].save(
            target, save_all=True, append_images=pictures[1:], duration=1000.0 / fps, loop=0
        )
        return target
    av = require_av()
    with av.open(str(target), mode="w") as container:
        stream = None
        for image in images:
            if stream is None:
                stream = container.add_stream("libx264", rate=round(fps))
                # yuv420p (what every player reads) needs even sides.
                stream.height, stream.width = (
                    (image.shape[0] + 1) // 2 * 2,
                    (image.shape[1] + 1) // 2 * 2,
                )
                stream.pix_fmt = "yuv420p"
            padded = np.pad(
                image,
                ((0, stream.height - image.shape[0]), (0, stream.width - image.shape[1]), (0, 0)),
                mode="edge",
            )
            container.mux(stream.encode(av.VideoFrame.from_ndarray(padded, format="rgb24")))
        if stream is None:
            raise ValueError("no frames to write")
        container.mux(stream.encode())
    return target


# The first release's name (it clashed with ``sam2_hf.overlay``, which draws image masks).
overlay = overlay_frame
