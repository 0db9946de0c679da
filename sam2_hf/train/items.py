"""From images with masks to training items: objects drawn, masks resized, prompts drawn.

Every random choice comes from a generator seeded by (seed, epoch, image), never from global
state: two processes, or a run resumed from a checkpoint, draw exactly what one uninterrupted
run draws. The sampler hands out ``(epoch, image)`` keys, so the items need no epoch state of
their own (data-loader workers and accelerate's sharded samplers cannot put it out of step).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from .data import SegmentationData
from .prompts import PromptSettings, draw_prompts, resize_masks

# Separate random streams for the prompts and for the order of the images.
_ITEM_STREAM, _ORDER_STREAM = 0, 1


def pixel_values(processor: Any, image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) image from ``SegmentationData.image`` -> (3, S, S) float32 model input, made as
    ``Sam2Predictor`` makes it (floats in [0, 1], resized as floats)."""
    array = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image
    values = processor.image_processor(
        images=[array.astype(np.float32, copy=False)],
        do_rescale=False,
        input_data_format="channels_last",
        return_tensors="pt",
    )["pixel_values"]
    return values[0]


class TrainingItems(Dataset[dict[str, Any]]):
    """``(epoch, index)`` -> one training item for image ``index`` (a dict of tensors):

    - ``index``: int, the image's position in ``data``;
    - ``masks``: (m, S, S) bool, the drawn objects at the model's input size;
    - ``use_box``, ``boxes`` (m, 4), ``clicks`` (m, 2), ``draws`` (R, m), ``from_object``
      (R, m): the prompts (see ``ImagePrompts``);
    - ``pixel_values``: (3, S, S) float32, only with ``with_pixels``.
    """

    def __init__(
        self,
        data: SegmentationData,
        processor: Any,
        image_size: int,
        settings: PromptSettings,
        seed: int,
        with_pixels: bool,
    ) -> None:
        self.data = data
        self.processor = processor
        self.image_size = image_size
        self.settings = settings
        self.seed = seed
        self.with_pixels = with_pixels

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        epoch, index = key
        rng = np.random.default_rng([self.seed, _ITEM_STREAM, epoch, index])
        masks = self.data.masks(index)
        count = min(self.settings.objects_per_image, len(masks))
        chosen = np.sort(rng.choice(len(masks), size=count, replace=False))
        resized = resize_masks(masks[chosen], self.image_size)
        prompts = draw_prompts(resized.numpy(), rng, self.settings)
        item: dict[str, Any] = {
            "index": index,
            "masks": resized,
            "use_box": prompts.use_box,
            "boxes": torch.from_numpy(prompts.boxes),
            "clicks": torch.from_numpy(prompts.clicks),
            "draws": torch.from_numpy(prompts.draws),
            "from_object": torch.from_numpy(prompts.from_object),
        }
        if self.with_pixels:
            item["pixel_values"] = pixel_values(self.processor, self.data.image(index))
        return item


def keep_list(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The collate function: images hold different numbers of objects, so nothing is stacked."""
    return items


class EpochShuffle(Sampler[tuple[int, int]]):
    """``(epoch, index)`` keys in a fresh order per epoch, seeded by (seed, epoch);
    ``set_epoch`` before iterating."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = np.random.default_rng([self.seed, _ORDER_STREAM, self.epoch]).permutation(self.size)
        return iter([(self.epoch, index) for index in order.tolist()])
