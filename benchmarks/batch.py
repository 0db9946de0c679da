"""Dataset jobs: images/s of ``sam2-hf batch`` by batch size, DataLoader workers and processes.

A hiera-tiny-sized random-weight ``sam2_video`` checkpoint (default config) is saved to a
temporary folder, with a folder of 480x640 JPEGs and a ``boxes.json`` of 3 boxes each. Every
setting runs the real command (``python -m sam2_hf.cli batch``, or ``torchrun`` for two
processes) into a fresh output folder, in one run, and the images/s are printed side by side
as ratios to batch 1 with no workers in one process.

    python benchmarks/batch.py                # 16 images
    python benchmarks/batch.py --images 8     # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import (
    Sam2ImageProcessor,
    Sam2VideoConfig,
    Sam2VideoModel,
    Sam2VideoProcessor,
    Sam2VideoVideoProcessor,
)


def build_checkpoint(folder: Path) -> None:
    torch.manual_seed(0)
    Sam2VideoModel(Sam2VideoConfig()).eval().save_pretrained(folder)
    Sam2VideoProcessor(
        image_processor=Sam2ImageProcessor(), video_processor=Sam2VideoVideoProcessor()
    ).save_pretrained(folder)


def build_images(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    table = {}
    for index in range(count):
        pixels = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
        pixels[100:300, 150:450] = (200, 60 + index, 40)
        Image.fromarray(pixels).save(folder / f"{index:03d}.jpg", quality=90)
        table[f"{index:03d}.jpg"] = [[150, 100, 450, 300], [0, 0, 320, 240], [300, 200, 640, 480]]
    boxes = folder.parent / "boxes.json"
    boxes.write_text(json.dumps(table))
    return boxes


def run(
    root: Path, checkpoint: Path, boxes: Path, batch: int, workers: int, processes: int
) -> tuple[float, float]:
    out = root / f"out-b{batch}-w{workers}-p{processes}"
    command = ["-m", "sam2_hf.cli", "batch", str(root / "images"), "--boxes", str(boxes),
               "-o", str(out), "--batch-size", str(batch), "--workers", str(workers),
               "--model", str(checkpoint), "--device", "cpu"]  # fmt: skip
    if processes > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                    str(processes)]  # fmt: skip
    else:
        launcher = [sys.executable]
    # Threads are split between processes as accelerate does for CPU jobs.
    threads = max(1, (os.cpu_count() or 1) // processes)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    finished = subprocess.run(
        [*launcher, *command], check=True, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    report = json.loads((out / "report.json").read_text())
    assert report["done"] == report["images"], report
    # The job's own rate (from its summary line) leaves out interpreter start and model loading.
    segmented, job_seconds = re.findall(r"(\d+) segmented.* in ([\d.]+) s \(", finished.stdout)[-1]
    return int(segmented) / float(job_seconds), report["done"] / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        build_checkpoint(root / "model")
        boxes = build_images(root / "images", args.images)
        settings = [(b, w, 1) for w in (0, 2) for b in (1, 4, 8)] + [(4, 0, 2), (4, 2, 2)]
        rates = {s: run(root, root / "model", boxes, *s) for s in settings}
    base_job, base_wall = rates[settings[0]]
    print(f"{args.images} images of 480x640, 3 boxes each, hiera-tiny-sized model, CPU")
    print(f"{'batch':>5} {'workers':>7} {'processes':>9} {'job img/s':>9} {'ratio':>6}"
          f" {'wall img/s':>10} {'ratio':>6}")  # fmt: skip
    for (batch, workers, processes), (job, wall) in rates.items():
        print(f"{batch:>5} {workers:>7} {processes:>9} {job:>9.3f} {job / base_job:>6.2f}"
              f" {wall:>10.3f} {wall / base_wall:>6.2f}")  # fmt: skip
    print("job: the run's own summary (model loaded); wall: the whole command, loading included")


if __name__ == "__main__":
    main()
