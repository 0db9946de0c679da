"""What the annotator sees: the image with coloured objects, the prompts, and proposals.

Large images are drawn at a display size (longest side ``max_side``) to keep every click's
redraw fast, small ones enlarged; ``View.scale`` maps display pixels back to image pixels.
The objects that are not being edited are blended once and cached, so a click redraws only
the selected object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw
from scipy import ndimage

from ..formats.draw import (
    BACKGROUND_POINT_COLOR,
    BOX_COLOR,
    FOREGROUND_POINT_COLOR,
    object_color,
    overlay,
)
from .store import AnnotatedObject, Box, StoredMask

# Long enough for detail on a laptop screen, short enough for ~10 ms redraws.
DEFAULT_MAX_SIDE = 1280
# Browsers show an image no larger than its own size in Gradio's frame (object-fit:
# scale-down, which its click coordinates assume), so small images are enlarged here.
MIN_SIDE = 640
OBJECT_ALPHA = 0.45
SELECTED_ALPHA = 0.6
PROPOSAL_ALPHA = 0.6


@dataclass(frozen=True, eq=False)
class View:
    """A rendered frame.

    Attributes:
        pixels: (h, w, 3) uint8 RGB at display size.
        scale: display pixels per image pixel.
    """

    pixels: NDArray[np.uint8]
    scale: float

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        """Display pixel (x, y) -> image pixel (x, y)."""
        return ((x + 0.5) / self.scale - 0.5, (y + 0.5) / self.scale - 0.5)


def display_shape(size: tuple[int, int], max_side: int) -> tuple[tuple[int, int], float]:
    """The (h, w) an (H, W) image is drawn at, and the scale.

    Large images shrink to ``max_side``; small ones (long side under ``MIN_SIDE``) grow by a
    whole factor, so their pixels stay crisp squares that are big enough to click.
    """
    height, width = size
    longest = max(height, width)
    smallest_display = min(MIN_SIDE, max_side)
    if longest > max_side:
        scale = max_side / longest
    elif longest < smallest_display:
        scale = float(smallest_display // longest)
    else:
        scale = 1.0
    return (max(1, round(height * scale)), max(1, round(width * scale))), scale


class Renderer:
    """Draws frames for one viewer (one browser tab), caching what does not change per click."""

    def __init__(self, max_side: int = DEFAULT_MAX_SIDE) -> None:
        """``max_side``: the longest display side in pixels."""
        if int(max_side) < 16:
            raise ValueError(f"max_side must be at least 16, got {max_side}")
        self.max_side = int(max_side)
        self._base: tuple[Any, NDArray[np.uint8]] | None = None
        self._composite: tuple[Any, NDArray[np.uint8]] | None = None

    def render(
        self,
        rgb: NDArray[np.uint8],
        objects: Sequence[AnnotatedObject],
        *,
        selected: str | None = None,
        proposal: StoredMask | None = None,
        corner: tuple[float, float] | None = None,
        image_key: str = "",
    ) -> View:
        """Draw an image with its objects.

        Args:
            rgb: (H, W, 3) uint8 image.
            objects: the objects; object i gets ``sam2_hf.object_color(i)``.
            selected: id of the object being edited: drawn stronger, with its clicks (green
                foreground, red background) and box.
            proposal: a "segment everything" mask under review, drawn on top.
            corner: the first corner (x, y) of a box being drawn, in image pixels.
            image_key: identifies ``rgb`` for the caches (e.g. ``LoadedImage.key``).

        Returns:
            The ``View``.
        """
        (height, width), scale = display_shape(rgb.shape[:2], self.max_side)
        base = self._display_base(rgb, (height, width), image_key)
        shape = (height, width)
        others = [(i, o) for i, o in enumerate(objects) if o.id != selected and o.mask is not None]
        composite_key = (image_key, shape, tuple((i, o.id, id(o.mask)) for i, o in others))
        if self._composite is not None and self._composite[0] == composite_key:
            canvas = self._composite[1]
        else:
            canvas = base
            if others:
                canvas = np.asarray(
                    overlay(
                        base,
                        np.stack([o.mask.resized(shape) for _, o in others if o.mask]),
                        obj_ids=[i for i, _ in others],
                        alpha=OBJECT_ALPHA,
                    )
                )
            self._composite = (composite_key, canvas)

        # Per click only the selected object, the proposal and the markers are drawn, each
        # on the bounding box of its mask: the rest of the frame is the cached composite.
        canvas = canvas.copy()
        points: list[tuple[float, float, bool]] = []
        box = None
        for index, obj in enumerate(objects):
            if obj.id != selected:
                continue
            if obj.mask is not None:
                _paint(canvas, obj.mask.resized(shape), object_color(index), SELECTED_ALPHA)
            points = [(c.x, c.y, c.positive) for c in obj.clicks]
            box = obj.box
        if proposal is not None:
            _paint(canvas, proposal.resized(shape), object_color(len(objects)), PROPOSAL_ALPHA)
        if corner is not None:
            points.append((corner[0], corner[1], True))
        if points or box is not None:
            canvas = _markers(canvas, points, box, scale)
        return View(canvas, scale)

    def _display_base(
        self, rgb: NDArray[np.uint8], shape: tuple[int, int], image_key: str
    ) -> NDArray[np.uint8]:
        key = (image_key, id(rgb), shape)
        if self._base is None or self._base[0] != key:
            if shape == rgb.shape[:2]:
                base = np.asarray(rgb)
            else:
                enlarge = shape[0] > rgb.shape[0]
                resized = Image.fromarray(np.asarray(rgb)).resize(
                    (shape[1], shape[0]),
                    Image.Resampling.NEAREST if enlarge else Image.Resampling.BILINEAR,
                )
                base = np.asarray(resized)
            self._base = (key, base)
        return self._base[1]


def _to_display(value: float, scale: float) -> float:
    return (value + 0.5) * scale - 0.5


def _paint(
    canvas: NDArray[np.uint8], mask: NDArray[np.bool_], color: tuple[int, int, int], alpha: float
) -> None:
    """Blend ``mask`` into ``canvas`` in place and outline it, as ``sam2_hf.overlay`` draws
    (same colours, alpha and inner outline), but only within the mask's bounding box."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    inside = mask[y0:y1, x0:x1]
    region = canvas[y0:y1, x0:x1]
    # Fixed-point blend over the whole box, kept where the mask is: boolean indexing of the
    # pixels was 10x slower. Within 1/256 of overlay()'s float blend.
    weight = round(alpha * 256)
    paint = np.array(color, dtype=np.uint16) * weight
    blended = (region.astype(np.uint16) * (256 - weight) + paint + 128) >> 8
    np.copyto(region, blended.astype(np.uint8), where=inside[:, :, None])
    thickness = max(1, round(min(canvas.shape[:2]) / 400))
    # Zero padding stands for the background around the box (and for the frame's edge, which
    # overlay() also outlines): the erosion then sees the same neighbours as on the full frame.
    padded = np.pad(inside, thickness)
    eroded = ndimage.binary_erosion(padded, iterations=thickness, border_value=0)
    region[inside & ~eroded[thickness:-thickness, thickness:-thickness]] = color


def _markers(
    canvas: NDArray[np.uint8],
    points: Sequence[tuple[float, float, bool]],
    box: Box | None,
    scale: float,
) -> NDArray[np.uint8]:
    """Clicks (green foreground, red background) and the box, sized as ``overlay`` sizes them."""
    height, width = canvas.shape[:2]
    drawing = Image.fromarray(canvas)
    draw = ImageDraw.Draw(drawing)
    if box is not None:
        corners = [_to_display(v, scale) for v in (box.x0, box.y0, box.x1, box.y1)]
        draw.rectangle(corners, outline=BOX_COLOR, width=max(1, round(min(height, width) / 400)))
    radius = max(2, round(min(height, width) / 100))
    for x, y, positive in points:
        x, y = _to_display(x, scale), _to_display(y, scale)
        fill = FOREGROUND_POINT_COLOR if positive else BACKGROUND_POINT_COLOR
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)
    return np.asarray(drawing)
