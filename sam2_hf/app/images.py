"""The images being annotated: one file or the images of one folder, read once and cached."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..inputs import load_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
# The output folder a folder of images gets unless told otherwise; it sits inside the folder
# (which is listed without recursion, so the exports are never taken for images to annotate).
DEFAULT_OUTPUT = "sam2-hf-annotations"


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """One image, read.

    Attributes:
        name: the image's file name relative to the folder (the key in the annotation file).
        pixels: (H, W, 3) RGB as ``sam2_hf.load_image`` returns it (uint8, or float32 in
            [0, 1] for 16-bit files): what the model is given. Read-only.
        rgb: (H, W, 3) uint8 for drawing and cut-outs. Read-only.
        key: identifies this version of the file (path, size, modification time), for caches.
    """

    name: str
    pixels: NDArray[Any]
    rgb: NDArray[np.uint8]
    key: str

    @property
    def size(self) -> tuple[int, int]:
        """(H, W)."""
        return (int(self.pixels.shape[0]), int(self.pixels.shape[1]))


class ImageFolder:
    """The images of a folder (top level, sorted by name), or a single image file.

    Example:
        >>> folder = ImageFolder("photos/")  # doctest: +SKIP
        >>> folder.names[:2], folder.output  # doctest: +SKIP
        (['a.jpg', 'b.png'], PosixPath('photos/sam2-hf-annotations'))
    """

    def __init__(
        self, source: str | os.PathLike[str], output: str | os.PathLike[str] | None = None
    ) -> None:
        """List the images of ``source``, a folder or one image file.

        Args:
            source: a folder (its top-level images) or a single image file.
            output: where the annotation file and exports go; default
                ``<folder>/sam2-hf-annotations``.

        Raises:
            FileNotFoundError: ``source`` does not exist.
            ValueError: ``source`` is a file without an image suffix.
        """
        path = Path(source).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"{str(path)!r} does not exist")
        if path.is_dir():
            self.root = path
            self._single: str | None = None
        else:
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise ValueError(
                    f"{str(path)!r} is not an image (suffixes: {', '.join(IMAGE_SUFFIXES)})"
                )
            self.root, self._single = path.parent, path.name
        self.output = (
            Path(output).expanduser() if output is not None else self.root / DEFAULT_OUTPUT
        )
        self.names: list[str] = self._list()

    def _list(self) -> list[str]:
        if self._single is not None:
            return [self._single]
        return sorted(
            entry.name
            for entry in self.root.iterdir()
            if entry.suffix.lower() in IMAGE_SUFFIXES and entry.is_file()
        )

    def rescan(self) -> list[str]:
        """List the folder again (files added or removed); returns the names."""
        self.names = self._list()
        return self.names

    def path(self, name: str) -> Path:
        """The file of an image name."""
        return self.root / name

    def describe_empty(self) -> str:
        """The message for a folder without images."""
        return (
            f"No images in {self.root} (looked for {', '.join(IMAGE_SUFFIXES)}). "
            "Upload some or open another folder."
        )

    def load(self, name: str) -> LoadedImage:
        """Read an image (cached: the last four reads are kept).

        Raises:
            ValueError: the file is missing or cannot be read as an image (the message names
                the file and says why).
        """
        path = self.path(name)
        try:
            stat = path.stat()
        except OSError as error:
            raise ValueError(f"{name}: cannot be read ({error.strerror or error})") from None
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        pixels, rgb = _read(key, str(path))
        return LoadedImage(name, pixels, rgb, key)

    def add(self, files: Iterable[str | os.PathLike[str]]) -> list[str]:
        """Copy image files (uploads) into the folder; returns the names they got.

        A name already taken gets ``_2``, ``_3`` ... before its suffix. Files without an image
        suffix are skipped.
        """
        added: list[str] = []
        for file in files:
            source = Path(file)
            if source.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            target = self.root / source.name
            count = 1
            while target.exists():
                count += 1
                target = self.root / f"{source.stem}_{count}{source.suffix}"
            shutil.copyfile(source, target)
            added.append(target.name)
        if added:
            if self._single is not None:  # a single-image session grows into a folder session
                self._single = None
            self.rescan()
        return added


@functools.lru_cache(maxsize=4)
def _read(key: str, path: str) -> tuple[NDArray[Any], NDArray[np.uint8]]:
    """Read and convert one file version; ``key`` changes when the file does."""
    try:
        pixels = load_image(path)
    except (OSError, ValueError):
        # load_image's message repeats the full path twice; the page needs the name only.
        raise ValueError(f"{Path(path).name} (not a readable image)") from None
    if pixels.dtype == np.uint8:
        rgb = pixels
    else:  # 16-bit and float files come as float32 in [0, 1]
        rgb = np.rint(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)
    pixels.flags.writeable = False
    rgb.flags.writeable = False
    return pixels, rgb
