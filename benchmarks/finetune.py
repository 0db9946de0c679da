"""Fine-tuning the mask decoder: cached image embeddings vs running the encoder every step.

On a hiera-tiny-sized random-weight ``Sam2Model`` (default ``Sam2Config()``, 1024 input), one
training step is what ``finetune`` runs per batch: simulated prompts (first prompt plus
correction rounds), SAM 2's losses, backward, AdamW. Two ways to get the image features:

- cached: computed once per image (the first epoch) and reused, as ``finetune`` does with a
  frozen encoder (``cache="memory"``);
- recomputed: image loaded, preprocessed and encoded (without gradients) in every step, as a
  loop without a cache does.

Printed: steps/s of each (steady state, after warm-up), their ratio, the time to encode one
image, and the peak memory of each loop (resident set size above the start on the CPU, peak
allocated on CUDA).

    python benchmarks/finetune.py                  # batch of 2 images, SAM 2's 7 corrections
    python benchmarks/finetune.py --steps 3 --correction-clicks 1
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from transformers import Sam2Config, Sam2ImageProcessor, Sam2Model, Sam2Processor

from sam2_hf.train import PromptSettings, SegmentationData
from sam2_hf.train.items import TrainingItems, pixel_values
from sam2_hf.train.losses import LossWeights
from sam2_hf.train.model import InteractiveLoss, image_embeddings, set_trainable

PAGE = os.sysconf("SC_PAGE_SIZE")


class Shapes(SegmentationData):
    """Textured 480x640 images with four rectangles and ellipses each, made on the fly."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def name(self, index: int) -> str:
        return f"shapes {index}"

    def image(self, index: int) -> np.ndarray:
        rng = np.random.default_rng(index)
        image = rng.integers(40, 200, (480, 640, 3)).astype(np.uint8)
        for number, mask in enumerate(self.masks(index)):
            image[mask] = (60 * number, 200, 255 - 50 * number)
        return image

    def masks(self, index: int) -> np.ndarray:
        rng = np.random.default_rng(1000 + index)
        yy, xx = np.mgrid[0:480, 0:640]
        masks = []
        for number in range(4):
            cy, cx = rng.uniform(80, 400), rng.uniform(80, 560)
            ry, rx = rng.uniform(20, 70), rng.uniform(20, 70)
            if number % 2:
                masks.append((np.abs(yy - cy) < ry) & (np.abs(xx - cx) < rx))
            else:
                masks.append(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1)
        return np.stack(masks)


def _to(value: Any, device: torch.device) -> Any:
    return value.to(device) if isinstance(value, torch.Tensor) else value


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def measure(run: Callable[[], Any], device: torch.device) -> tuple[float, float]:
    """Run once; return (wall seconds, peak MiB above the start)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start_cuda = torch.cuda.memory_allocated(device)
        t0 = time.perf_counter()
        run()
        torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
        return seconds, (torch.cuda.max_memory_allocated(device) - start_cuda) / 2**20
    start, peak, done = _rss(), [0], threading.Event()

    def poll() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    run()
    seconds = time.perf_counter() - t0
    done.set()
    thread.join()
    return seconds, (max(peak[0], _rss()) - start) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="timed steps per loop")
    parser.add_argument("--batch-size", type=int, default=2, help="images per step")
    parser.add_argument("--correction-clicks", type=int, default=7)
    parser.add_argument("--objects-per-image", type=int, default=4)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    device = torch.device(args.device)
    torch.manual_seed(0)
    model: Any = Sam2Model(Sam2Config())
    model.to(device)
    processor = Sam2Processor(image_processor=Sam2ImageProcessor(), target_size=1024)
    set_trainable(model, "frozen", prompt_encoder=False)
    module = InteractiveLoss(model, LossWeights()).train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=1e-5)
    settings = PromptSettings(
        correction_clicks=args.correction_clicks, objects_per_image=args.objects_per_image
    )
    data = Shapes(args.batch_size)
    items = TrainingItems(data, processor, 1024, settings, seed=0, with_pixels=False)

    def encode(index: int) -> list[torch.Tensor]:
        values = pixel_values(processor, data.image(index))[None].to(device)
        with torch.no_grad():
            return image_embeddings(model, values)

    def step(epoch: int, features: Callable[[int], list[torch.Tensor]]) -> None:
        batch = [items[(epoch, i)] for i in range(args.batch_size)]
        batch = [{k: _to(v, device) for k, v in item.items()} for item in batch]
        losses = module(batch, [features(i) for i in range(args.batch_size)])
        losses["loss"].backward()
        optimizer.step()
        optimizer.zero_grad()

    print(
        f"hiera-tiny-sized Sam2Model on {device}, {torch.get_num_threads()} threads; "
        f"{sum(p.numel() for p in parameters) / 1e6:.2f}M trainable (mask decoder); batch of "
        f"{args.batch_size} images x {args.objects_per_image} objects, "
        f"1 + {args.correction_clicks} prompt rounds per step"
    )
    encode_seconds, _ = measure(lambda: encode(0), device)
    print(f"encoding one image: {encode_seconds:.2f} s")

    cache = {i: encode(i) for i in range(args.batch_size)}
    per_image = sum(level.numel() * level.element_size() for level in cache[0]) / 2**20
    print(f"cached embeddings: {per_image:.1f} MiB per image")
    step(0, cache.__getitem__)  # warm-up
    step(0, encode)

    def steps(features: Callable[[int], list[torch.Tensor]]) -> None:
        for epoch in range(1, args.steps + 1):
            step(epoch, features)

    cached_s, cached_mib = measure(lambda: steps(cache.__getitem__), device)
    cache.clear()  # the recomputing loop holds no cache
    recompute_s, recompute_mib = measure(lambda: steps(encode), device)
    cached_rate, recompute_rate = args.steps / cached_s, args.steps / recompute_s
    print(f"{'':28}{'steps/s':>10}{'s/step':>10}{'peak MiB':>10}")
    print(f"{'cached embeddings':28}{cached_rate:10.3f}{1 / cached_rate:10.2f}{cached_mib:10.0f}")
    print(
        f"{'encoder every step':28}{recompute_rate:10.3f}{1 / recompute_rate:10.2f}"
        f"{recompute_mib:10.0f}"
    )
    print(f"cached / recomputed: {cached_rate / recompute_rate:.2f}x the steps per second")


if __name__ == "__main__":
    main()
