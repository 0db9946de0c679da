"""Sam2Predictor vs. the raw transformers calls, side by side in one run.

A hiera-tiny-sized model with random weights (the default ``Sam2Config()``, ~31M parameters in
the image model) on a 480x640 image, float32 on the CPU unless ``--device`` says otherwise.
Prints seconds and the predictor/raw ratio for:

1. set_image + 1 point prompt,
2. 20 point prompts after one set_image,
3. 16 boxes in one call vs. 16 single-box calls (both through the predictor and raw).

Run: ``python benchmarks/predictor.py [--repeats 7] [--device cpu]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
from transformers import Sam2Config, Sam2ImageProcessor, Sam2Model, Sam2Processor

from sam2_hf import Sam2Predictor


def paired(
    repeats: int, ours: Callable[[], object], raw: Callable[[], object]
) -> tuple[float, float]:
    """Median wall times of ``ours`` and ``raw``, run alternately after one warm-up each, so
    that drift in the machine's speed hits both alike."""
    ours()
    raw()
    times: dict[str, list[float]] = {"ours": [], "raw": []}
    for _ in range(repeats):
        for name, work in (("ours", ours), ("raw", raw)):
            start = time.perf_counter()
            work()
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["ours"]), statistics.median(times["raw"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.manual_seed(0)

    with tempfile.TemporaryDirectory() as folder:
        Sam2Model(Sam2Config()).save_pretrained(folder)
        Sam2Processor(image_processor=Sam2ImageProcessor()).save_pretrained(folder)
        predictor = Sam2Predictor.from_pretrained(folder, device=args.device, dtype="fp32")
    model, processor, device = predictor.model, predictor.processor, predictor.device

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    points = rng.uniform((0, 0), (640, 480), size=(20, 2)).round()
    corners = rng.uniform((0, 0), (320, 240), size=(16, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(40, 300, size=(16, 2))], axis=1)
    boxes = np.minimum(boxes, [640, 480, 640, 480]).round()

    @torch.inference_mode()
    def raw_embed():
        inputs = processor(
            images=[image.astype(np.float32) / 255], do_rescale=False, return_tensors="pt"
        )
        return inputs["original_sizes"], model.get_image_embeddings(
            inputs["pixel_values"].to(device)
        )

    @torch.inference_mode()
    def raw_decode(sizes, embeddings, multimask, **prompts):
        inputs = processor(original_sizes=sizes, return_tensors="pt", **prompts)
        prompt_tensors = {k: v.to(device) for k, v in inputs.items() if k.startswith("input_")}
        outputs = model(image_embeddings=embeddings, multimask_output=multimask, **prompt_tensors)
        masks = processor.post_process_masks(outputs.pred_masks.cpu(), sizes)[0]
        return masks.numpy(), outputs.iou_scores.cpu().numpy()

    def raw_point(sizes, embeddings, point):
        return raw_decode(
            sizes, embeddings, True, input_points=[[[point.tolist()]]], input_labels=[[[1]]]
        )

    def ours_one():
        predictor.set_image(image)
        return predictor.predict(point_coords=points[:1])

    def raw_one():
        sizes, embeddings = raw_embed()
        return raw_point(sizes, embeddings, points[0])

    predictor.set_image(image)
    sizes, embeddings = raw_embed()

    def ours_twenty():
        return [predictor.predict(point_coords=p[None]) for p in points]

    def raw_twenty():
        return [raw_point(sizes, embeddings, p) for p in points]

    def ours_boxes_batched():
        return predictor.predict_boxes(boxes)

    def ours_boxes_single():
        return [predictor.predict(box=b) for b in boxes]

    def raw_boxes_batched():
        return raw_decode(sizes, embeddings, False, input_boxes=[boxes.tolist()])

    rows = [
        ("set_image + 1 point", *paired(args.repeats, ours_one, raw_one)),
        ("20 points, one set_image", *paired(args.repeats, ours_twenty, raw_twenty)),
        ("16 boxes in one call", *paired(args.repeats, ours_boxes_batched, raw_boxes_batched)),
    ]
    batched, single = paired(args.repeats, ours_boxes_batched, ours_boxes_single)

    print(
        f"device={device}  torch threads={torch.get_num_threads()}  image=480x640  "
        f"model=hiera-tiny-sized Sam2Config() (random weights)  "
        f"median of {args.repeats}, alternating"
    )
    print(f"{'case':28s} {'sam2_hf s':>10s} {'raw s':>10s} {'sam2_hf/raw':>12s}")
    for name, ours, raw in rows:
        print(f"{name:28s} {ours:10.4f} {raw:10.4f} {ours / raw:12.3f}")
    print(
        f"16 boxes: one batched call {batched:.4f} s vs 16 single calls {single:.4f} s "
        f"-> batched is {single / batched:.2f}x faster"
    )


if __name__ == "__main__":
    main()
