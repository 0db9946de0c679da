"""What the annotator sees: the image with coloured objects, the prompts, and proposals.

Large images are drawn at a display size (longest side ``max_side``) to keep every click's
redraw fast, small ones enlarged; ``View.scale`` maps display pixels back to image pixels. The objects that are
not being edited are blended once and cached, so a click redraws only the selected object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ..formats.draw import overlay
from .store import AnnotatedObject, Box, Click, StoredMask

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

        for index, obj in enumerate(objects):
            if obj.id != selected:
                continue
            masks = (
                obj.mask.resized(shape)[None]
                if obj.mask is not None
                else np.zeros((0, *shape), bool)
            )
            clicks = [p for p in obj.prompts if isinstance(p, Click)]
            points = np.array([[c.x, c.y] for c in clicks], dtype=np.float64).reshape(-1, 2)
            box = obj.box
            canvas = np.asarray(
                overlay(
                    canvas,
                    masks,
                    obj_ids=[index] * len(masks),
                    alpha=SELECTED_ALPHA,
                    points=_to_display(points, scale),
                    point_labels=[int(c.positive) for c in clicks],
                    boxes=None if box is None else _box_to_display(box, scale),
                )
            )
        if proposal is not None:
            canvas = np.asarray(
                overlay(
                    canvas,
                    proposal.resized(shape),
                    obj_ids=[len(objects)],
                    alpha=PROPOSAL_ALPHA,
                )
            )
        if corner is not None:
            canvas = np.asarray(
                overlay(
                    canvas,
                    np.zeros((0, *shape), bool),
                    points=_to_display(np.array([corner], dtype=np.float64), scale),
                )
            )
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


def _to_display(points: NDArray[np.float64], scale: float) -> NDArray[np.float64]:
    return (points + 0.5) * scale - 0.5


def _box_to_display(box: Box, scale: float) -> NDArray[np.float64]:
    corners = np.array([[box.x0, box.y0], [box.x1, box.y1]], dtype=np.float64)
    return _to_display(corners, scale).reshape(4)
