"""Training data: images with object masks behind one small interface, and the seeded split.

A ``SegmentationData`` is a sized collection of images, each with one or more object masks at
the image's own resolution. The readers in ``readers.py`` make one from a COCO file, a folder
of mask PNGs or a Hugging Face ``datasets`` dataset; ``open_data`` picks the reader. Each reader
checks its records when it is made, so bad data stops a run before any training, with the file
and the record named (``DataError``).
"""

from __future__ import annotations

import importlib.util
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray


def require_extra(*modules: str) -> None:
    """Fail early, and say how to fix it, when a package of the ``train`` extra is missing."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"fine-tuning needs {', '.join(missing)}; install the training extra: "
            "pip install 'sam2-hf[train]'"
        )


class DataError(ValueError):
    """A record of the training data cannot be used; the message names the file and record."""


class SegmentationData(ABC):
    """Images and their object masks, read on demand.

    Subclasses implement ``__len__``, ``name``, ``image`` and ``masks``; the trainer reads an
    image only when it needs pixels (the embedding cache makes that once per run).
    """

    @abstractmethod
    def __len__(self) -> int:
        """The number of images."""

    @abstractmethod
    def name(self, index: int) -> str:
        """How error messages and reports name image ``index`` (a file path or a row)."""

    @abstractmethod
    def image(self, index: int) -> NDArray[Any]:
        """Image ``index`` as an (H, W, 3) array: uint8, or float32 in [0, 1] for 16-bit data."""

    @abstractmethod
    def masks(self, index: int) -> NDArray[np.bool_]:
        """The objects of image ``index``: (N, H, W) bool, N >= 1, each mask non-empty."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} images)"


class Subset(SegmentationData):
    """The images of ``data`` at ``indices``, in that order."""

    def __init__(self, data: SegmentationData, indices: Sequence[int]) -> None:
        self.data = data
        self.indices = [int(i) for i in indices]
        for i in self.indices:
            if not 0 <= i < len(data):
                raise IndexError(f"index {i} is out of range for {len(data)} images")

    def __len__(self) -> int:
        return len(self.indices)

    def name(self, index: int) -> str:
        return self.data.name(self.indices[index])

    def image(self, index: int) -> NDArray[Any]:
        return self.data.image(self.indices[index])

    def masks(self, index: int) -> NDArray[np.bool_]:
        return self.data.masks(self.indices[index])


def split(
    data: SegmentationData, val_fraction: float = 0.1, seed: int = 0
) -> tuple[Subset, Subset]:
    """Split by image into a training and a validation part, the same way for the same seed.

    Args:
        data: the images and masks.
        val_fraction: the share of images for validation, in [0, 1). At least one image goes to
            validation when the fraction is above 0, and at least one stays for training.
        seed: the shuffle's seed.

    Returns:
        ``(train, val)``; both keep the images' original order within themselves.

    Example:
        >>> train, val = split(data, val_fraction=0.2, seed=0)  # doctest: +SKIP
    """
    if not isinstance(val_fraction, (int, float)) or not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    count = len(data)
    if count == 0:
        raise DataError("the training data holds no images")
    n_val = int(round(count * val_fraction))
    if val_fraction > 0:
        n_val = max(n_val, 1)
    if n_val >= count:
        raise DataError(
            f"cannot split {count} image(s) into training and validation with "
            f"val_fraction={val_fraction}; give more images or separate validation data"
        )
    order = np.random.default_rng(seed).permutation(count)
    val = sorted(int(i) for i in order[:n_val])
    train = sorted(int(i) for i in order[n_val:])
    return Subset(data, train), Subset(data, val)


def open_data(
    source: SegmentationData | str | os.PathLike[str] | Any,
    *,
    images_dir: str | os.PathLike[str] | None = None,
    image_column: str = "image",
    mask_column: str = "mask",
) -> SegmentationData:
    """Read training data from any of the supported sources.

    Args:
        source: a ``SegmentationData``; a COCO ``.json`` file (images next to it or in
            ``images_dir``); a folder with ``images/`` and ``masks/`` (see ``MaskFolder``); a
            ``datasets.Dataset``; or a folder written by ``Dataset.save_to_disk``.
        images_dir: the COCO images folder (default: the JSON's folder, or its ``images/``).
        image_column: a ``datasets`` dataset's image column.
        mask_column: a ``datasets`` dataset's mask column (see ``HFData`` for the types).

    Raises:
        DataError: a record is unusable (the message names the file and the record).
        FileNotFoundError: ``source`` does not exist.
        TypeError: ``source`` is none of the above, or a dataset column has the wrong type.
    """
    from . import readers

    if isinstance(source, SegmentationData):
        return source
    if type(source).__module__.startswith("datasets"):
        return readers.HFData(source, image_column=image_column, mask_column=mask_column)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            "data must be a COCO .json path, a folder, a datasets.Dataset or a "
            f"SegmentationData, got {type(source).__name__}"
        )
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"training data {str(path)!r} does not exist")
    if path.is_file():
        if path.suffix.lower() != ".json":
            raise DataError(
                f"training data file {str(path)!r} is not a COCO .json file; give a COCO JSON, "
                "a folder with images/ and masks/, or a saved datasets folder"
            )
        return readers.CocoData(path, images_dir=images_dir)
    if (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file():
        require_extra("datasets")
        import datasets

        loaded = datasets.load_from_disk(os.fspath(path))
        if isinstance(loaded, datasets.DatasetDict):
            raise DataError(
                f"{str(path)!r} holds several splits ({', '.join(loaded)}); give one split's folder"
            )
        return readers.HFData(loaded, image_column=image_column, mask_column=mask_column)
    return readers.MaskFolder(path)
