"""Images and sessions for the app tests (not a conftest: test basenames must be unique)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Settings that let random weights propose masks: the real thresholds would drop them all.
EVERYTHING = {
    "points_per_side": 2,
    "pred_iou_thresh": 0.0,
    "stability_score_thresh": 0.0,
    "box_nms_thresh": 1.0,
}


def picture(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """An RGB uint8 image with a bright rectangle on a dark textured background."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    image[height // 5 : height * 3 // 5, width // 3 : width * 4 // 5] = (200, 80, 40)
    return image


def image_folder(folder: Path, count: int = 2, *, height: int = 48, width: int = 64) -> Path:
    """``folder`` with ``img0.png`` ... ``img{count-1}.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        Image.fromarray(picture(height, width, seed=index)).save(folder / f"img{index}.png")
    return folder
