"""The four SAM 2.1 sizes on one GPU, fp32 and bf16, beside the seed's A100 FPS table.

For each size (tiny, small, base-plus, large: the real configs, random weights) and each dtype
this measures, after a warm-up:

- encoder: image-encoder throughput, images/s, batches of 8 images of 1024x1024;
- prompt: latency of one click after ``set_image`` (ms, median), the decoder alone;
- automatic: ``MaskGenerator`` (32x32 points, the original's defaults) on one 1200x1800 image,
  seconds per image;
- video: ``VideoTracker`` frames/s over 48 frames of 540x960, one object (frames already read);
- batch: ``run_job`` over 32 images of 1200x1800 with 3 boxes each, batch 8, 4 workers,
  images/s.

The seed's table (SAM 2.1, A100, the original repo's README) is printed beside the video
frames/s: tiny 91.2, small 84.8, base-plus 64.1, large 39.5 FPS. It was measured with
``torch.compile`` and ``vos_optimized`` on an A100; these figures are eager, on whatever card
runs this, with random weights: compare orders of magnitude and the fp32/bf16 ratio, not
digits. Random weights segment nothing meaningful, which matters for the automatic-mask time
(how many masks survive the filters); the count is printed.

Prepared to run in one go in under 5 minutes on one H100/H200:

    python benchmarks/gpu.py                              # cuda, all sizes, fp32 and bf16
    python benchmarks/gpu.py --quick --device cpu --sizes tiny --dtypes float32  # smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import (
    Sam2ImageProcessor,
    Sam2VideoModel,
    Sam2VideoProcessor,
    Sam2VideoVideoProcessor,
)

from sam2_hf import MaskGenerator, Sam2Predictor, VideoTracker
from sam2_hf.compat.build_sam import VIDEO_POSTPROCESSING
from sam2_hf.compat.configs import apply_overrides, load_meta_config, to_transformers
from sam2_hf.jobs import folder_source, run_job

SEED_A100_FPS = {"tiny": 91.2, "small": 84.8, "base-plus": 64.1, "large": 39.5}
SIZES = tuple(SEED_A100_FPS)


def build_checkpoint(size: str, folder: Path) -> None:
    """Save a random-weight SAM 2.1 checkpoint of ``size`` in the hub's layout."""
    torch.manual_seed(0)
    # The video settings build_sam2_video_predictor applies, as the released checkpoints use.
    settings = apply_overrides(load_meta_config(size)[1], VIDEO_POSTPROCESSING)
    config = to_transformers(settings, name=size)
    Sam2VideoModel(config).eval().save_pretrained(folder)
    Sam2VideoProcessor(
        image_processor=Sam2ImageProcessor(), video_processor=Sam2VideoVideoProcessor()
    ).save_pretrained(folder)


def scene(height: int, width: int, seed: int) -> np.ndarray:
    """(H, W, 3) uint8: noise with a bright rectangle, so masks have something to find."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    y, x = height // 4 + seed % 16, width // 4 + 2 * (seed % 16)
    pixels[y : y + height // 2, x : x + width // 3] = (220, 80, 40)
    return pixels


def timed(run: Callable[[], object], device: torch.device) -> float:
    """Seconds of one call, the GPU's queue drained before and after."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def measure(
    folder: Path, device: torch.device, dtype: str, quick: bool, work: Path
) -> dict[str, float]:
    """The five figures of one checkpoint in one dtype."""
    reps = 1 if quick else 5
    predictor = Sam2Predictor.from_pretrained(folder, device=str(device), dtype=dtype)
    figures: dict[str, float] = {}

    batch = [scene(1024, 1024, seed) for seed in range(2 if quick else 8)]
    predictor.engine.encode(batch)  # warm-up: kernels, allocator
    seconds = [timed(lambda: predictor.engine.encode(batch), device) for _ in range(reps)]
    figures["encoder img/s"] = len(batch) / statistics.median(seconds)

    predictor.set_image(scene(1200, 1800, 0))
    predictor.predict(point_coords=[(900, 600)], point_labels=[1])
    seconds = [
        timed(lambda: predictor.predict(point_coords=[(900, 600)], point_labels=[1]), device)
        for _ in range(3 if quick else 30)
    ]
    figures["prompt ms"] = 1000 * statistics.median(seconds)

    generator = MaskGenerator(predictor, points_per_side=8 if quick else 32)
    image = scene(1200, 1800, 1)
    generator.generate(image, progress=False)
    records: list[object] = []
    seconds = [
        timed(lambda: records.append(generator.generate(image, progress=False)), device)
        for _ in range(1 if quick else 2)
    ]
    figures["automatic s/img"] = statistics.median(seconds)
    figures["automatic masks"] = float(len(records[-1]))  # type: ignore[arg-type]

    tracker = VideoTracker.from_pretrained(folder, device=str(device), dtype=dtype, progress=False)
    frames = [scene(540, 960, seed) for seed in range(4 if quick else 48)]
    session = tracker.open(frames)
    session.add(frame_idx=0, obj_id=1, box=(240, 135, 560, 405))
    for _ in session.propagate(max_frames=2):  # warm-up
        pass
    session.reset()
    session.add(frame_idx=0, obj_id=1, box=(240, 135, 560, 405))
    seconds_video = timed(lambda: list(session.propagate()), device)
    figures["video fps"] = len(frames) / seconds_video

    images = work / "images"
    if not images.exists():
        images.mkdir(parents=True)
        boxes = [[450, 300, 1050, 900], [0, 0, 900, 600], [900, 600, 1800, 1200]]
        table = {}
        for index in range(4 if quick else 32):
            Image.fromarray(scene(1200, 1800, index)).save(images / f"{index:03d}.jpg")
            table[f"{index:03d}.jpg"] = boxes
        (work / "boxes.json").write_text(json.dumps(table))
    source = folder_source(images, boxes_json=work / "boxes.json")
    out = work / f"out-{folder.name}-{dtype}"
    summary = run_job(
        source, out, predictor=predictor, batch_size=2 if quick else 8,
        num_workers=0 if quick else 4, progress=False,
    )  # fmt: skip
    figures["batch img/s"] = summary.images_per_s
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sizes", nargs="+", choices=SIZES, default=list(SIZES))
    parser.add_argument("--dtypes", nargs="+", choices=("float32", "bfloat16"),
                        default=["float32", "bfloat16"])  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="a smoke run: few images, frames")
    args = parser.parse_args()
    device = torch.device(args.device)
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    columns = ("encoder img/s", "prompt ms", "automatic s/img", "automatic masks", "video fps",
               "batch img/s")  # fmt: skip
    rows: list[tuple[str, str, dict[str, float]]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        for size in args.sizes:
            build_checkpoint(size, root / size)
            for dtype in args.dtypes:
                figures = measure(root / size, device, dtype, args.quick, root)
                rows.append((size, dtype, figures))
                print(size, dtype, {k: round(v, 3) for k, v in figures.items()}, flush=True)
    print(f"\nSAM 2.1, random weights, eager, on {card} (torch {torch.__version__}); "
          f"{time.perf_counter() - started:.0f} s in all")  # fmt: skip
    header = f"{'size':<10}{'dtype':<10}" + "".join(f"{c:>17}" for c in columns)
    print(header + f"{'seed A100 FPS':>15}{'video/seed':>12}")
    for size, dtype, figures in rows:
        cells = "".join(f"{figures[c]:>17.2f}" for c in columns)
        seed = SEED_A100_FPS[size]
        print(f"{size:<10}{dtype:<10}{cells}{seed:>15.1f}{figures['video fps'] / seed:>12.2f}")
    for size in args.sizes:
        by_dtype = {dtype: figures for s, dtype, figures in rows if s == size}
        if {"float32", "bfloat16"} <= by_dtype.keys():
            ratios = ", ".join(
                f"{c} {by_dtype['bfloat16'][c] / by_dtype['float32'][c]:.2f}x"
                for c in ("encoder img/s", "video fps", "batch img/s")
            )
            print(f"{size}: bf16/fp32 {ratios}")


if __name__ == "__main__":
    main()
