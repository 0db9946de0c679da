"""The annotation app: time from a click to the updated overlay, without re-encoding.

A hiera-tiny-sized model with random weights (the default ``Sam2Config()``, ~31M parameters
in the image model), float32, on photo-sized images. After the image is encoded once, each
click runs what the page runs: the refinement step (one mask-decoder call with the previous
logits), saving the annotation file, redrawing the frame and encoding it as the JPEG the
browser receives. Prints the median of each part, the whole, and the raw decoder call
(``Sam2Predictor.predict`` alone) beside it; the goal is under 300 ms on 2 CPU cores.

Run: ``python benchmarks/app.py [--clicks 10] [--threads 2] [--device cpu]``
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import Sam2Config, Sam2ImageProcessor, Sam2Model, Sam2Processor

from sam2_hf.app import Annotator, ImageFolder, Segmenter


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth gradients plus noise: encodes like a photo (not like a flat test pattern)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x / 5) % 255, (y / 4) % 255, ((x + y) / 7) % 255], axis=-1)
    noisy = base + rng.normal(0, 12, base.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def jpeg(pixels: np.ndarray) -> bytes:
    """The frame as the page sends it (Gradio's JPEG encoding of a numpy frame)."""
    try:
        from gradio.processing_utils import encode_pil_to_bytes
    except ImportError:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG")
        return buffer.getvalue()
    return encode_pil_to_bytes(Image.fromarray(pixels), "jpeg")


def timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def bench_image(folder: Path, model: Path, args: argparse.Namespace, size: tuple[int, int]):
    height, width = size
    images = folder / f"{height}x{width}"
    images.mkdir()
    Image.fromarray(photo(height, width)).save(images / "photo.png")
    segmenter = Segmenter(model, device=args.device, dtype="fp32")
    annotator = Annotator(ImageFolder(images), segmenter)
    load_s, _ = timed(segmenter.load)
    encode_s, _ = timed(annotator.prepare)

    rng = np.random.default_rng(1)
    # A few finished objects, so the frame has something besides the one being edited.
    for _ in range(args.objects):
        annotator.new_object()
        annotator.click(*rng.uniform((0, 0), (width, height)))
    annotator.new_object()
    annotator.click(width / 2, height / 2)  # the first click of the object being timed

    parts: dict[str, list[float]] = {"decode": [], "save": [], "render": [], "jpeg": []}
    totals, raw = [], []
    predictor = segmenter.predictor(annotator.image)
    original_save = annotator.store.save

    def timed_save() -> None:
        seconds, _ = timed(original_save)
        parts["save"].append(seconds)

    annotator.store.save = timed_save  # type: ignore[method-assign]
    original_refine = segmenter.refine

    def timed_refine(*a, **k):
        seconds, result = timed(lambda: original_refine(*a, **k))
        parts["decode"].append(seconds)
        return result

    segmenter.refine = timed_refine  # type: ignore[method-assign]
    for index in range(args.clicks):
        x, y = rng.uniform((width * 0.3, height * 0.3), (width * 0.7, height * 0.7))
        annotator.mode = "background" if index % 3 == 2 else "foreground"
        start = time.perf_counter()
        annotator.click(x, y)
        render_s, view = timed(annotator.render)
        jpeg_s, _ = timed(lambda view=view: jpeg(view.pixels))
        totals.append(time.perf_counter() - start)
        parts["render"].append(render_s)
        parts["jpeg"].append(jpeg_s)
        obj = annotator.objects()[-1]
        points = np.array([[c.x, c.y] for c in obj.clicks], np.float32)
        labels = np.array([int(c.positive) for c in obj.clicks])
        seconds, _ = timed(
            lambda p=points, lab=labels: predictor.predict(
                point_coords=p,
                point_labels=lab,
                mask_input=np.zeros((256, 256), np.float32),
                multimask_output=False,
            )
        )
        raw.append(seconds)
    assert segmenter.encodes == 1, "a click re-encoded the image"
    median = statistics.median
    shape = annotator.render().pixels.shape  # type: ignore[union-attr]
    print(
        f"{height}x{width} image (shown at {shape[0]}x{shape[1]}), {args.objects} other objects: "
        f"model load {load_s:.2f} s, image encoding (once) {encode_s:.2f} s"
    )
    print(
        f"  click -> updated overlay: median {1000 * median(totals):.0f} ms "
        f"(min {1000 * min(totals):.0f}, max {1000 * max(totals):.0f}) over {args.clicks} clicks"
    )
    print(
        "  parts (median ms): "
        + ", ".join(f"{name} {1000 * median(values):.1f}" for name, values in parts.items())
    )
    ratio = median(totals) / median(raw)
    print(
        f"  raw decoder call (predict with mask_input) {1000 * median(raw):.0f} ms; "
        f"click / raw = {ratio:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument("--objects", type=int, default=4, help="finished objects on the image")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (CPU)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch threads: {torch.get_num_threads()}, device: {args.device}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = folder / "model"
        Sam2Model(Sam2Config()).save_pretrained(model)
        Sam2Processor(image_processor=Sam2ImageProcessor()).save_pretrained(model)
        for size in ((768, 1024), (1080, 1920), (3024, 4032)):
            bench_image(folder, model, args, size)


if __name__ == "__main__":
    main()
