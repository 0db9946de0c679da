"""Automatic mask generation: ``MaskGenerator`` vs transformers' ``pipeline("mask-generation")``.

Both run on the same hiera-tiny-sized random-weight ``Sam2Model`` (default ``Sam2Config()``),
with the thresholds set to keep everything, on a 480x640 image: seconds per image and peak
memory (resident set size above the loaded model) at 16x16 and 32x32 point grids. First, one
decoder forward of 64 clicks through ``decode_clicks`` and through the plain model call: time,
memory and whether the outputs are bit-identical.

Then a record check: on a 512x512 image, with both given the same image embedding, the two
must return the same masks and predicted IoUs. (At 480x640 they cannot: the pipeline scales
click y by 768/480 as for SAM 1's aspect-preserving resize, while SAM 2 stretches the image to
1024x1024 -- see the printed note. Pixel input differs too: the pipeline resizes uint8 images,
sam2-hf float ones like the original sam2, so the shared embedding isolates the decoding.)

    python benchmarks/automatic.py            # 16 and 32 points per side (several minutes)
    python benchmarks/automatic.py --quick    # 16 only
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
from PIL import Image
from transformers import Sam2Config, Sam2ImageProcessor, Sam2Model, Sam2Processor, pipeline

from sam2_hf.engine.fast_decode import decode_clicks
from sam2_hf.engine.loading import LoadedModel
from sam2_hf.image.automatic import MaskGenerator
from sam2_hf.image.predictor import Sam2Predictor

KEEP_ALL = {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def measure(run: Callable[[], Any]) -> tuple[Any, float, float, float]:
    """Run once; return (result, wall s, process CPU s, peak resident MiB above the start).

    CPU seconds are less disturbed than wall seconds when other jobs share the cores."""
    start, peak, done = _rss(), [0], threading.Event()

    def poll() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    t0, c0 = time.perf_counter(), time.process_time()
    result = run()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    done.set()
    thread.join()
    return result, seconds, cpu, (max(peak[0], _rss()) - start) / 2**20


def test_image(height: int, width: int) -> np.ndarray:
    """Shapes on a noisy background, uint8 RGB."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:height, :width]
    image[(yy - height * 0.4) ** 2 + (xx - width * 0.3) ** 2 < (height * 0.2) ** 2] = (200, 60, 40)
    image[int(height * 0.55) : int(height * 0.9), int(width * 0.55) : int(width * 0.9)] = 90
    return image


def pipeline_kwargs(points_per_side: int) -> dict[str, Any]:
    return {
        "points_per_crop": points_per_side,
        "points_per_batch": 64,
        "crops_nms_thresh": 0.7,
        **KEEP_ALL,
    }


def compare_records(
    ours: list[dict[str, Any]], theirs: dict[str, Any]
) -> tuple[int, int, int, float]:
    """(ours, theirs, identical masks, largest predicted-IoU difference among those)."""
    their_masks = [mask.numpy() for mask in theirs["masks"]]
    their_scores = theirs["scores"].float().numpy()
    same, worst = 0, 0.0
    for record, mask, score in zip(ours, their_masks, their_scores, strict=False):
        if np.array_equal(record["segmentation"], mask):
            same += 1
            worst = max(worst, abs(record["predicted_iou"] - float(score)))
    return len(ours), len(their_masks), same, worst


def _time_decoder(generator: MaskGenerator) -> list[float]:
    """Wrap the generator's decoder call; the returned list's one entry sums its wall time."""
    total = [0.0]
    decode = generator._predict_points

    def timed(*args: Any) -> Any:
        t0 = time.perf_counter()
        result = decode(*args)
        total[0] += time.perf_counter() - t0
        return result

    generator._predict_points = timed  # type: ignore[method-assign]
    return total


def compare_decoding(model: Sam2Model, embeddings: list[torch.Tensor], count: int) -> None:
    """One forward of ``count`` clicks: ``decode_clicks`` against the plain model call."""
    points = torch.rand(count, 2, generator=torch.Generator().manual_seed(0)) * 1024
    labels = torch.ones(count, dtype=torch.int64)
    with torch.inference_mode():
        (masks, iou), fast_s, _, fast_mem = measure(
            lambda: decode_clicks(model, embeddings, points, labels, True)
        )
        out, plain_s, _, plain_mem = measure(
            lambda: model(
                image_embeddings=embeddings,
                input_points=points[None, :, None],
                input_labels=labels[None, :, None],
                multimask_output=True,
            )
        )
    same = torch.equal(masks, out.pred_masks[0]) and torch.equal(iou, out.iou_scores[0])
    print(
        f"one decoder forward, {count} clicks: decode_clicks {fast_s:.2f} s ({fast_mem:.0f} MiB), "
        f"model(...) {plain_s:.2f} s ({plain_mem:.0f} MiB), bit-identical: {same}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16x16 grid only")
    args = parser.parse_args()
    grids = (16,) if args.quick else (16, 32)

    torch.manual_seed(0)
    model = Sam2Model(Sam2Config()).eval()
    image_processor = Sam2ImageProcessor()
    processor = Sam2Processor(image_processor=image_processor, target_size=1024)
    loaded = LoadedModel(model, processor, torch.device("cpu"), torch.float32, "random")
    predictor = Sam2Predictor(loaded)
    pipe = pipeline("mask-generation", model=model, image_processor=image_processor, device="cpu")
    params = sum(p.numel() for p in model.parameters()) / 1e6
    threads = torch.get_num_threads()
    print(f"model: random Sam2Config() ({params:.1f}M parameters), fp32, CPU, {threads} threads")

    image = test_image(480, 640)
    pil = Image.fromarray(image)
    encoded, encode_s, encode_cpu, _ = measure(lambda: predictor.engine.encode([image]))
    print(f"one image embedding: {encode_s:.2f} s wall, {encode_cpu:.2f} s CPU")
    compare_decoding(model, list(encoded.features), 64)
    print(f"{'grid':>6} {'impl':>10} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9} {'masks':>6}")
    for n in grids:
        generator = MaskGenerator(predictor, points_per_side=n, **KEEP_ALL)
        decoder = _time_decoder(generator)
        ours, our_s, our_cpu, our_mem = measure(lambda g=generator: g.generate(image))
        theirs, their_s, their_cpu, their_mem = measure(lambda n=n: pipe(pil, **pipeline_kwargs(n)))
        their_count = len(theirs["masks"])
        print(f"{n:>4}^2 {'sam2-hf':>10} {our_s:8.2f} {our_cpu:8.2f} {our_mem:9.0f} {len(ours):6d}")
        print(
            f"{n:>4}^2 {'pipeline':>10} {their_s:8.2f} {their_cpu:8.2f} {their_mem:9.0f} "
            f"{their_count:6d}"
        )
        print(f"       speed-up x{their_s / our_s:.2f} wall, x{their_cpu / our_cpu:.2f} CPU")
        print(
            f"       sam2-hf wall split: mask decoder forwards {decoder[0]:.2f} s "
            f"({decoder[0] / our_s:.0%}), the rest (embedding, filtering, NMS, output) "
            f"{our_s - decoder[0]:.2f} s"
        )
        counts = compare_records(ours, theirs)
        print(
            f"       480x640 records: ours {counts[0]}, pipeline {counts[1]}, identical masks "
            f"in order {counts[2]} (the pipeline's clicks are misplaced in y here)"
        )

    # Record check: same embedding for both, square image so the pipeline's clicks are right.
    square = test_image(512, 512)
    embedding = predictor.engine.encode([square]).features
    original = model.get_image_embeddings
    model.get_image_embeddings = lambda *a, **k: [level.clone() for level in embedding]
    try:
        n = grids[0]
        ours = MaskGenerator(predictor, points_per_side=n, **KEEP_ALL).generate(square)
        theirs = pipe(Image.fromarray(square), **pipeline_kwargs(n))
    finally:
        model.get_image_embeddings = original
    counts = compare_records(ours, theirs)
    verdict = "SAME" if counts[0] == counts[1] == counts[2] else "DIFFERENT"
    print(
        f"\n512x512, {n}^2, shared embedding: ours {counts[0]} records, pipeline {counts[1]}, "
        f"identical masks in order {counts[2]}, max |IoU diff| {counts[3]:.2e} -> {verdict}"
    )


if __name__ == "__main__":
    main()
