"""Drawing masks and prompts onto images: cut-outs, background removal, coloured overlays.

Pure numpy / SciPy / Pillow. Every function accepts a numpy image ((H, W, 3) or (H, W, 4)
RGB(A), or (H, W) grayscale; uint8 in [0, 255], other integers in [0, 255], or floats in
[0, 1]) or a ``PIL.Image``, and returns the type it was given: a ``PIL.Image`` for a
``PIL.Image``, otherwise a new uint8 numpy array. The input is never modified. Masks are
(H, W) or (N, H, W), bool or integer (nonzero is foreground), in the image's pixel grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from PIL import Image, ImageDraw

from ..inputs import check_bool, check_float
from .masks import _as_mask, mask_to_box

ImageLike = NDArray[np.generic] | Image.Image
RGB = tuple[int, int, int]

# matplotlib's tab20 order (strong colours first), minus the greys, which vanish on photos.
PALETTE: tuple[RGB, ...] = tuple(
    (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    for h in (
        "1f77b4 ff7f0e 2ca02c d62728 9467bd 8c564b e377c2 bcbd22 17becf "
        "aec7e8 ffbb78 98df8a ff9896 c5b0d5 c49c94 f7b6d2 dbdb8d 9edae5"
    ).split()
)
FOREGROUND_POINT_COLOR: RGB = (0, 255, 0)
BACKGROUND_POINT_COLOR: RGB = (255, 0, 0)
BOX_COLOR: RGB = (0, 255, 0)


def object_color(obj_id: int) -> RGB:
    """The overlay colour of an object id: the same id always gets the same colour.

    Args:
        obj_id: any integer; ids cycle through ``PALETTE``.

    Returns:
        ``(r, g, b)`` ints in [0, 255].
    """
    return PALETTE[int(obj_id) % len(PALETTE)]


def _to_rgb(image: ImageLike) -> tuple[NDArray[np.uint8], bool]:
    """A new (H, W, 3) uint8 copy of ``image``, and whether it was a PIL image."""
    if isinstance(image, Image.Image):
        return np.array(image.convert("RGB")), True
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array or PIL.Image, got {type(image).__name__}")
    pixels: Any  # numpy's stubs cannot follow the dtype checks below
    if image.ndim == 2:
        pixels = image[:, :, None]
    elif image.ndim == 3 and image.shape[2] in (3, 4):
        pixels = image[:, :, :3]
    else:
        raise ValueError(f"image must have shape (H, W), (H, W, 3) or (H, W, 4), got {image.shape}")
    if np.issubdtype(image.dtype, np.floating):
        if pixels.size and not (np.all(pixels >= 0.0) and np.all(pixels <= 1.0)):
            raise ValueError("a float image must have values in [0, 1] (NaN is not allowed)")
        pixels = np.rint(pixels * 255.0)
    elif image.dtype == np.bool_ or not np.issubdtype(image.dtype, np.integer):
        raise TypeError(f"image must be a uint8, integer or float array, got dtype {image.dtype}")
    elif image.dtype != np.uint8 and pixels.size and (pixels.min() < 0 or pixels.max() > 255):
        raise ValueError(
            f"an integer image must have values in [0, 255], got [{pixels.min()}, {pixels.max()}]"
        )
    rgb = np.empty((*image.shape[:2], 3), dtype=np.uint8)
    rgb[...] = pixels  # broadcasts grayscale to three channels; always a fresh array
    return rgb, False


def _masks_for(
    image: NDArray[np.uint8], masks: ArrayLike, name: str, *, single: bool
) -> NDArray[np.bool_]:
    """Validate masks against the image's height and width."""
    binary = _as_mask(masks, name, batched=False if single else None)
    if binary.shape[-2:] != image.shape[:2]:
        expected = "(H, W)" if single else "(H, W) or (N, H, W)"
        raise ValueError(
            f"{name} must have shape {expected} with (H, W) = {image.shape[:2]} as the image, "
            f"got {binary.shape}"
        )
    return binary


def _output(pixels: NDArray[np.uint8], as_pil: bool) -> ImageLike:
    return Image.fromarray(pixels) if as_pil else pixels


def cutout(image: ImageLike, mask: ArrayLike, crop: bool = False) -> ImageLike:
    """Make an RGBA cut-out: the image's colours, opaque inside the mask, transparent outside.

    Colours under the transparent part are kept (straight alpha); an input alpha channel
    is replaced by the mask.

    Args:
        image: the image (see the module docstring for accepted forms).
        mask: (H, W) mask matching the image.
        crop: crop to the mask's box (``mask_to_box``: inclusive pixel indices, see
            ``sam2_hf.formats.boxes``).

    Returns:
        (H, W, 4) uint8 RGBA (smaller when cropped); a ``PIL.Image`` in mode ``"RGBA"`` when
        ``image`` is one.

    Raises:
        ValueError: ``mask`` does not match the image, or ``crop`` is set and ``mask`` is empty.
    """
    rgb, as_pil = _to_rgb(image)
    binary = _masks_for(rgb, mask, "mask", single=True)
    rgba = np.dstack([rgb, binary.astype(np.uint8) * 255])
    if crop:
        if not binary.any():
            raise ValueError("mask is empty, so crop=True has nothing to crop to")
        x0, y0, x1, y1 = mask_to_box(binary)
        rgba = np.ascontiguousarray(rgba[y0 : y1 + 1, x0 : x1 + 1])
    return _output(rgba, as_pil)


def remove_background(
    image: ImageLike, mask: ArrayLike, background: Sequence[int] | None = (255, 255, 255)
) -> ImageLike:
    """Paint everything outside the mask in one colour.

    Args:
        image: the image (see the module docstring for accepted forms).
        mask: (H, W) mask matching the image; its foreground is kept.
        background: ``(r, g, b)`` ints in [0, 255], or ``None`` for a transparent
            background (the same as ``cutout(image, mask)``).

    Returns:
        (H, W, 3) uint8 RGB, or (H, W, 4) RGBA when ``background`` is ``None``; a
        ``PIL.Image`` when ``image`` is one.
    """
    if background is None:
        return cutout(image, mask)
    color = _color(background, "background")
    rgb, as_pil = _to_rgb(image)
    binary = _masks_for(rgb, mask, "mask", single=True)
    rgb[~binary] = color
    return _output(rgb, as_pil)


def _color(value: Sequence[int], name: str) -> RGB:
    color = tuple(value) if isinstance(value, Sequence | np.ndarray) else ()
    if len(color) != 3 or not all(isinstance(c, int | np.integer) and 0 <= c <= 255 for c in color):
        raise ValueError(f"{name} must be three ints (r, g, b) in [0, 255], got {value!r}")
    return (int(color[0]), int(color[1]), int(color[2]))


def _points(
    points: ArrayLike | None, labels: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    if points is None:
        if labels is not None:
            raise ValueError("point_labels were given without points")
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    coords = np.asarray(points, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"points must have shape (P, 2), got {coords.shape}")
    if labels is None:
        return coords, np.ones(len(coords), dtype=np.int64)
    label_array = np.asarray(labels)
    if label_array.shape != (len(coords),):
        raise ValueError(f"point_labels must have shape ({len(coords)},), got {label_array.shape}")
    if not np.isin(label_array, (0, 1)).all():
        raise ValueError(f"point_labels must be 1 (foreground) or 0 (background), got {labels}")
    return coords, label_array.astype(np.int64)


def _boxes(boxes: ArrayLike | None) -> NDArray[np.float64]:
    if boxes is None:
        return np.zeros((0, 4))
    array = np.asarray(boxes, dtype=np.float64)
    array = array[None] if array.shape == (4,) else array
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"boxes must have shape (4,) or (B, 4), got {np.shape(boxes)}")
    if np.any(array[:, 2] < array[:, 0]) or np.any(array[:, 3] < array[:, 1]):
        raise ValueError("boxes must be (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1")
    return array


def overlay(
    image: ImageLike,
    masks: ArrayLike,
    *,
    obj_ids: Sequence[int] | NDArray[np.integer] | None = None,
    alpha: float = 0.5,
    contours: bool = True,
    points: ArrayLike | None = None,
    point_labels: ArrayLike | None = None,
    boxes: ArrayLike | None = None,
) -> ImageLike:
    """Draw masks in translucent colours, with optional outlines, prompt points and boxes.

    Masks are painted in order, later ones over earlier ones; each gets
    ``object_color(obj_id)``, blended as ``(1 - alpha) * pixel + alpha * colour``. Outlines,
    points and boxes are opaque; their size grows with the image.

    Args:
        image: the image (see the module docstring for accepted forms).
        masks: (H, W) or (N, H, W) masks matching the image; N may be 0 (or ``[]``).
        obj_ids: (N,) int object ids that pick the colours; default ``0 .. N-1``.
        alpha: mask opacity in [0, 1].
        contours: outline each mask in its colour, along the inside of its edge.
        points: (P, 2) float point prompts, (x, y) in pixels.
        point_labels: (P,) ints, 1 foreground (drawn green) or 0 background (drawn red);
            default all foreground.
        boxes: (4,) or (B, 4) float box prompts, (x0, y0, x1, y1) in continuous pixel
            coordinates (see ``sam2_hf.formats.boxes``).

    Returns:
        (H, W, 3) uint8 RGB; a ``PIL.Image`` in mode ``"RGB"`` when ``image`` is one.

    Raises:
        TypeError: ``alpha`` is not a number or ``contours`` not a bool.
        ValueError: a shape does not match, ``alpha`` is outside [0, 1], or a label is not 0/1.
    """
    rgb, as_pil = _to_rgb(image)
    if isinstance(masks, (list, tuple)) and not masks:  # [] carries no (H, W) nor dtype
        masks = np.zeros((0, *rgb.shape[:2]), dtype=bool)
    stack = _masks_for(rgb, masks, "masks", single=False)
    stack = stack[None] if stack.ndim == 2 else stack
    if obj_ids is None:
        ids = np.arange(len(stack))
    else:
        ids = np.asarray(obj_ids)
        if ids.shape != (len(stack),):
            raise ValueError(f"obj_ids must have shape ({len(stack)},), got {ids.shape}")
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"obj_ids must be integers, got dtype {ids.dtype}")
    alpha = check_float("alpha", alpha, 0.0, 1.0)
    contours = check_bool("contours", contours)
    coords, labels = _points(points, point_labels)
    box_array = _boxes(boxes)

    height, width = rgb.shape[:2]
    thickness = max(1, round(min(height, width) / 400))
    canvas = rgb.astype(np.float32)
    if contours:
        from scipy import ndimage  # slow to import; only outlines pay for it
    for mask, obj_id in zip(stack, ids, strict=True):
        color = np.array(object_color(int(obj_id)), dtype=np.float32)
        canvas[mask] = (1.0 - alpha) * canvas[mask] + alpha * color
        if contours:
            # Pixels the erosion removes form an inner outline; pixels on the image border
            # count as edge, so a mask cut off by the frame is outlined there too.
            edge = mask & ~ndimage.binary_erosion(mask, iterations=thickness, border_value=0)
            canvas[edge] = color
    result = np.rint(canvas).astype(np.uint8)

    if len(coords) or len(box_array):
        drawing = Image.fromarray(result)
        draw = ImageDraw.Draw(drawing)
        for x0, y0, x1, y1 in box_array:
            draw.rectangle((x0, y0, x1, y1), outline=BOX_COLOR, width=thickness)
        radius = max(2, round(min(height, width) / 100))
        for (x, y), label in zip(coords, labels, strict=True):
            fill = FOREGROUND_POINT_COLOR if label == 1 else BACKGROUND_POINT_COLOR
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)
        result = np.array(drawing)
    return _output(result, as_pil)
