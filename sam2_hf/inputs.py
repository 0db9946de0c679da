"""Images in, prompts validated and flattened.

Everything here speaks the user's language: pixel coordinates of the original image, x before
y, numpy arrays or plain lists. Nothing the caller passes is modified.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

ImageInput = str | os.PathLike | Image.Image | np.ndarray

URL_TIMEOUT_S = 10.0


def load_image(image: ImageInput, *, timeout: float = URL_TIMEOUT_S) -> NDArray[Any]:
    """Read an image into an (H, W, 3) RGB array.

    Accepts a file path, an http(s) URL, a PIL image or a numpy array. EXIF orientation is
    applied (so masks line up with what viewers show), alpha is dropped, palette and grayscale
    images become RGB.

    Args:
        image: path, URL, ``PIL.Image.Image``, or array of shape (H, W), (H, W, 1), (H, W, 3)
            or (H, W, 4): uint8, uint16, bool, or float with values in [0, 1].
        timeout: seconds to wait for a URL.

    Returns:
        A new (H, W, 3) array: uint8 for 8-bit sources, float32 in [0, 1] for float and
        16-bit sources (kept at full precision).

    Example:
        >>> load_image(np.zeros((4, 6), np.uint8)).shape
        (4, 6, 3)
    """
    if isinstance(image, np.ndarray):
        return _array_to_rgb(image)
    if isinstance(image, Image.Image):
        return _pil_to_rgb(image)
    if isinstance(image, (str, os.PathLike)):
        text = os.fspath(image)
        if isinstance(text, str) and text.startswith(("http://", "https://")):
            return _pil_to_rgb(_fetch_url(text, timeout))
        return _pil_to_rgb(_open_file(Path(text)))
    raise TypeError(
        f"image must be a file path, URL, PIL.Image or numpy array, got {type(image).__name__}"
    )


def to_float_rgb(image: NDArray[Any]) -> NDArray[np.float32]:
    """An (H, W, 3) image from ``load_image`` as float32 in [0, 1], the model's input scale.

    The original sam2 resizes the image as floats; handing the processor floats with
    ``do_rescale=False`` keeps it from rounding the resized image back to uint8.
    """
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    return image.astype(np.float32, copy=False)


def _open_file(path: Path) -> Image.Image:
    if not path.exists():
        raise FileNotFoundError(f"image file {str(path)!r} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"image must be a file, got the folder {str(path)!r}")
    try:
        with Image.open(path) as opened:
            opened.load()
            return ImageOps.exif_transpose(opened)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"image file {str(path)!r} cannot be read as an image: {error}") from None


def _fetch_url(url: str, timeout: float) -> Image.Image:
    import requests  # only URLs need it; keeps ``import sam2_hf.inputs`` light

    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.Timeout:
        raise TimeoutError(f"image URL {url!r} did not answer within {timeout} s") from None
    except requests.RequestException as error:
        raise ValueError(f"image URL {url!r} could not be fetched: {error}") from None
    try:
        with Image.open(io.BytesIO(response.content)) as opened:
            opened.load()
            return ImageOps.exif_transpose(opened)
    except (UnidentifiedImageError, OSError) as error:
        kind = response.headers.get("content-type", "unknown content type")
        raise ValueError(f"image URL {url!r} did not return an image ({kind}): {error}") from None


def _pil_to_rgb(image: Image.Image) -> NDArray[Any]:
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit PNGs: keep the precision instead of PIL's clipping conversion to 8 bits.
        values = np.asarray(image).astype(np.float32)
        scale = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        return np.repeat((np.clip(values, 0, scale) / scale)[..., None], 3, axis=2)
    if image.mode == "F":
        return _array_to_rgb(np.asarray(image))
    return np.array(image.convert("RGB"))


def _array_to_rgb(array: np.ndarray) -> NDArray[Any]:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=2)
    elif array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(
            f"image array must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
            f"got {array.shape}"
        )
    array = array[..., :3]
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"image array must not be empty, got shape {array.shape}")
    if array.dtype == np.uint8:
        return array.copy()
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ValueError("image array contains NaN or infinite values")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                "a float image array must have values in [0, 1], "
                f"got values in [{low:.4g}, {high:.4g}]; pass uint8 for 0-255 data"
            )
        return array.astype(np.float32)
    raise TypeError(f"image array must be uint8, uint16, bool or float, got dtype {array.dtype}")


# ---------------------------------------------------------------- prompts


def as_points(
    point_coords: ArrayLike,
    point_labels: ArrayLike | None,
    image_size: tuple[int, int],
    *,
    normalize_coords: bool = True,
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Validate click prompts.

    Args:
        point_coords: (K, 2) clicks on one object or (N, K, 2) clicks on N objects, each
            (x, y) in pixels of the original image; or in [0, 1] when ``normalize_coords`` is
            False (the original sam2's convention for already-normalised input).
        point_labels: (K,) or (N, K) with 1 for foreground and 0 for background; ``None``
            means all foreground.
        image_size: (H, W) of the original image.

    Returns:
        ``(coords, labels)`` of shapes (N, K, 2) float32 pixels and (N, K) int64.
    """
    coords = _as_float_array("point_coords", point_coords)
    given_shape = coords.shape
    if coords.ndim == 2:
        coords = coords[None]
    if coords.ndim != 3 or coords.shape[-1] != 2 or coords.shape[1] == 0:
        raise ValueError(
            f"point_coords must have shape (K, 2) or (N, K, 2) with K >= 1, got {given_shape}"
        )
    height, width = image_size
    if not normalize_coords:
        coords = coords * np.array([width, height], dtype=np.float32)
    outside = (coords[..., 0] < 0) | (coords[..., 0] > width)
    outside |= (coords[..., 1] < 0) | (coords[..., 1] > height)
    if outside.any():
        first = coords[outside][0]
        raise ValueError(
            f"point_coords must lie inside the image (0 <= x <= {width}, 0 <= y <= {height}), "
            f"got ({first[0]:g}, {first[1]:g})"
        )
    if point_labels is None:
        labels = np.ones(coords.shape[:2], dtype=np.int64)
    else:
        labels = np.array(point_labels)
        if labels.dtype == bool or not np.issubdtype(labels.dtype, np.number):
            raise TypeError(f"point_labels must be numbers 0 or 1, got dtype {labels.dtype}")
        if labels.ndim == 1:
            labels = labels[None]
        if labels.shape != coords.shape[:2]:
            raise ValueError(
                f"point_labels must have one label per point, shape {coords.shape[:2]}, "
                f"got {np.shape(point_labels)}"
            )
        if not np.isin(labels, (0, 1)).all():
            bad = sorted(set(labels[~np.isin(labels, (0, 1))].tolist()))
            raise ValueError(f"point_labels must be 1 (foreground) or 0 (background), got {bad}")
        labels = labels.astype(np.int64)
    return coords.astype(np.float32), labels


def as_boxes(
    box: ArrayLike,
    image_size: tuple[int, int],
    *,
    normalize_coords: bool = True,
    name: str = "box",
) -> NDArray[np.float32]:
    """Validate box prompts and clip them to the image.

    Args:
        box: (4,) one box or (N, 4) N boxes, each (x0, y0, x1, y1) in continuous pixel
            coordinates of the original image (``sam2_hf.formats.boxes``) with x0 <= x1 and
            y0 <= y1. Parts outside the image are clipped to it; a box entirely outside is an
            error.
        image_size: (H, W) of the original image.
        normalize_coords: False if ``box`` is in [0, 1] relative to the image width and height.
        name: the argument's name in error messages.

    Returns:
        A new (N, 4) float32 array in pixels.
    """
    boxes = _as_float_array(name, box)
    given_shape = boxes.shape
    if boxes.ndim == 1:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.shape[0] == 0:
        raise ValueError(
            f"{name} must be 4 numbers (x0, y0, x1, y1) or an (N, 4) array, got shape {given_shape}"
        )
    flipped = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if flipped.any():
        raise ValueError(
            f"{name} must be (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1, "
            f"got {boxes[flipped][0].tolist()}"
        )
    height, width = image_size
    if not normalize_coords:
        boxes = boxes * np.array([width, height, width, height], dtype=np.float32)
    clipped = boxes.copy()
    clipped[:, 0::2] = np.clip(boxes[:, 0::2], 0, width)
    clipped[:, 1::2] = np.clip(boxes[:, 1::2], 0, height)
    gone = (boxes[:, 0] > width) | (boxes[:, 2] < 0) | (boxes[:, 1] > height) | (boxes[:, 3] < 0)
    if gone.any():
        raise ValueError(
            f"{name} must overlap the image (width {width}, height {height}), "
            f"got {boxes[gone][0].tolist()}"
        )
    return clipped.astype(np.float32)


def _as_float_array(name: str, value: ArrayLike) -> NDArray[np.float32]:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be numbers in a list, tuple or numpy array, got {value!r}"
        ) from None
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite numbers, got NaN or infinity in {array.tolist()}")
    return array.astype(np.float32)


# ---------------------------------------------------------------- settings
#
# One checker per kind of setting, used by every public entry point. Strict: an int setting
# takes an int (a float, even 2.0, or a bool is a TypeError, never truncated), a bool setting
# takes True or False. Messages name the argument, what it must be and what was given.

_Choice = TypeVar("_Choice")


def check_int(name: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in [minimum, maximum]; a float (even 2.0) or a bool is a TypeError.

    Args:
        name: the argument's name, for the error message.
        value: what the caller passed; Python and numpy integers are accepted.
        minimum: the smallest allowed value.
        maximum: the largest allowed value, or None for no upper bound.

    Returns:
        ``value`` as a Python ``int``.

    Raises:
        TypeError: ``value`` is not an integer.
        ValueError: ``value`` is out of range.

    Example:
        >>> check_int("points_per_side", 16, minimum=1)
        16
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return int(value)


def check_float(name: str, value: Any, low: float, high: float) -> float:
    """``value`` as a float in [low, high] (infinite bounds allowed); a bool is a TypeError.

    NaN is always rejected; infinity only when it lies outside the bounds, and with both
    bounds infinite the value must be finite.

    Args:
        name: the argument's name, for the error message.
        value: what the caller passed; Python and numpy ints and floats are accepted.
        low: the smallest allowed value (may be ``-math.inf``).
        high: the largest allowed value (may be ``math.inf``).

    Returns:
        ``value`` as a Python ``float``.

    Raises:
        TypeError: ``value`` is not a number.
        ValueError: ``value`` is NaN or out of range.

    Example:
        >>> check_float("box_nms_thresh", 0.7, 0.0, 1.0)
        0.7
    """
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if math.isnan(value) or not low <= value <= high:
        bounds = f"in [{low:g}, {high:g}]" if math.isfinite(high) else f">= {low:g}"
        if not math.isfinite(low):
            bounds = "a finite number" if not math.isfinite(high) else f"<= {high:g}"
        raise ValueError(f"{name} must be {bounds}, got {value}")
    if not math.isfinite(value) and math.isinf(low) and math.isinf(high):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    """``value`` itself when it is True or False (numpy bools too); anything else is a TypeError.

    ``0``, ``1``, ``"yes"`` or None are refused rather than read by truthiness, so a setting
    passed in the wrong position fails loudly.

    Example:
        >>> check_bool("use_m2m", False)
        False
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_choice(name: str, value: Any, choices: Collection[_Choice]) -> _Choice:
    """``value`` when it is one of ``choices``; otherwise a ValueError listing them.

    Example:
        >>> check_choice("mode", "holes", ("holes", "islands"))
        'holes'
    """
    for choice in choices:
        # True == 1, so a bool only matches a bool; arrays compare to arrays, never match.
        if isinstance(value, bool | np.bool_) == isinstance(choice, bool | np.bool_):
            equal = value == choice
            if isinstance(equal, bool | np.bool_) and equal:
                return choice
    listed = ", ".join(repr(choice) for choice in choices)
    raise ValueError(f"{name} must be one of {listed}, got {value!r}")
