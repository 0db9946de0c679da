"""A generated dataset for the fine-tuning tests: simple shapes on textured backgrounds.

Each image is a smooth random texture with stripes, holding 1-3 filled shapes (ellipse,
rectangle, triangle) of their own colour with a little noise; the masks are exact. Written out
as a mask folder, a COCO file or a ``datasets`` dataset, so every reader is tested on the same
content.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

Sample = tuple[np.ndarray, np.ndarray]  # (H, W, 3) uint8 image, (N, H, W) bool masks


def make_shapes(
    count: int,
    size: tuple[int, int] = (96, 128),
    seed: int = 0,
    max_objects: int = 3,
    colour: tuple[int, int, int] | None = None,
) -> list[Sample]:
    """``count`` images of ``size`` (H, W) with 1 to ``max_objects`` shapes each, of random
    colours or all of ``colour``."""
    rng = np.random.default_rng(seed)
    height, width = size
    return [_one_image(rng, height, width, max_objects, colour) for _ in range(count)]


def _one_image(
    rng: np.random.Generator,
    height: int,
    width: int,
    max_objects: int,
    colour: tuple[int, int, int] | None,
) -> Sample:
    yy, xx = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(6, 14)
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    base = rng.uniform(60, 160, size=3)
    noise = rng.normal(0, 12, size=(height, width, 3))
    image = base + 25 * stripes[..., None] + noise
    masks = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        canvas = Image.new("L", (width, height), 0)
        draw = ImageDraw.Draw(canvas)
        w, h = rng.uniform(0.2, 0.45) * width, rng.uniform(0.2, 0.45) * height
        x0, y0 = rng.uniform(0, width - w), rng.uniform(0, height - h)
        kind = int(rng.integers(3))
        if kind == 0:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=1)
        elif kind == 1:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=1)
        else:
            draw.polygon([(x0, y0 + h), (x0 + w / 2, y0), (x0 + w, y0 + h)], fill=1)
        mask = np.asarray(canvas, dtype=bool)
        for earlier in masks:  # later shapes cover earlier ones
            earlier &= ~mask
        masks.append(mask.copy())
        fill = rng.uniform(0, 255, size=3) if colour is None else np.asarray(colour, float)
        image[mask] = fill + rng.normal(0, 8, size=(int(mask.sum()), 3))
    masks = [m for m in masks if m.sum() >= 20]
    if not masks:
        return _one_image(rng, height, width, max_objects, colour)
    return np.clip(image, 0, 255).astype(np.uint8), np.stack(masks)


def write_mask_folder(root: Path, samples: list[Sample], layout: str = "labels") -> Path:
    """``root/images/img_K.png`` with ``masks/img_K.png`` (labels) or ``masks/img_K/*.png``."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for number, (image, masks) in enumerate(samples):
        stem = f"img_{number:03d}"
        Image.fromarray(image).save(root / "images" / f"{stem}.png")
        if layout == "labels":
            labels = np.zeros(image.shape[:2], np.uint8)
            for value, mask in enumerate(masks, start=1):
                labels[mask] = value
            Image.fromarray(labels).save(root / "masks" / f"{stem}.png")
        else:
            (root / "masks" / stem).mkdir()
            for value, mask in enumerate(masks):
                Image.fromarray(mask.astype(np.uint8) * 255).save(
                    root / "masks" / stem / f"{value}.png"
                )
    return root


def coco_content(samples: list[Sample], encoding: str = "rle") -> dict:
    """A COCO dict for ``samples`` (file names ``img_K.png``), RLE or polygon segmentations."""
    from pycocotools import mask as mask_utils

    images, annotations = [], []
    for number, (image, masks) in enumerate(samples):
        height, width = image.shape[:2]
        name = f"img_{number:03d}.png"
        images.append({"id": number + 1, "file_name": name, "width": width, "height": height})
        for mask in masks:
            if encoding == "rle":
                rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
                segmentation = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            else:
                segmentation = [_outline(mask)]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": number + 1,
                    "category_id": 1,
                    "iscrowd": 0,
                    "segmentation": segmentation,
                }
            )
    return {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "x"}]}


def _outline(mask: np.ndarray) -> list[float]:
    import cv2

    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    largest = max(contours, key=cv2.contourArea)
    return [float(v) for v in largest.reshape(-1)]


def write_coco(root: Path, samples: list[Sample], encoding: str = "rle") -> Path:
    """``root/annotations.json`` and ``root/images/img_K.png``; returns the JSON path."""
    (root / "images").mkdir(parents=True)
    for number, (image, _) in enumerate(samples):
        Image.fromarray(image).save(root / "images" / f"img_{number:03d}.png")
    path = root / "annotations.json"
    path.write_text(json.dumps(coco_content(samples, encoding)))
    return path


def to_hf_dataset(samples: list[Sample]):
    """A ``datasets.Dataset`` with an ``image`` column (PIL) and a ``mask`` column (labels)."""
    import datasets

    labels = []
    for image, masks in samples:
        label = np.zeros(image.shape[:2], np.uint8)
        for value, mask in enumerate(masks, start=1):
            label[mask] = value
        labels.append(Image.fromarray(label))
    features = datasets.Features({"image": datasets.Image(), "mask": datasets.Image()})
    return datasets.Dataset.from_dict(
        {"image": [Image.fromarray(image) for image, _ in samples], "mask": labels},
        features=features,
    )
