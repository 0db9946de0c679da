"""Half precision two ways, each against float32 on the same model, prompts and image.

transformers#46493 reported that casting the whole SAM 2 model to bfloat16 gives worse masks
than running it under autocast as the original sam2 repo does. This script measures both:

- ``autocast``: weights stay float32, ``torch.autocast`` runs matmuls/convs in half precision
  (what ``Sam2Predictor`` does for ``dtype="bf16"`` / ``"fp16"``),
- ``cast``: ``model.to(dtype)`` and half-precision inputs,

reporting, over 24 point prompts, the mean IoU of the best mask with the float32 mask and the
mean absolute difference of the low-res logits. A hiera-tiny-sized model with random weights
(``Sam2Config()``) unless ``--model`` names a real checkpoint.

Run: ``python benchmarks/dtype.py [--dtype bf16] [--device cpu] [--model PATH_OR_NAME]``
"""

from __future__ import annotations

import argparse
import copy
import tempfile

import numpy as np
import torch
from transformers import Sam2Config, Sam2ImageProcessor, Sam2Model, Sam2Processor

from sam2_hf import Sam2Predictor
from sam2_hf.engine.loading import LoadedModel, resolve_dtype


def predictions(predictor: Sam2Predictor, image: np.ndarray, points: np.ndarray):
    predictor.set_image(image)
    results = [predictor.predict(point_coords=p[None], multimask_output=False) for p in points]
    return np.stack([r.best for r in results]), np.stack([r.best_logits for r in results])


def cast_predictor(base: Sam2Predictor, dtype: torch.dtype) -> Sam2Predictor:
    """The whole model in half precision: weights and inputs cast, no autocast."""
    model = copy.deepcopy(base.model).to(dtype)
    forward, embed = model.forward, model.get_image_embeddings

    def cast_forward(*args, **kwargs):
        kwargs = {k: _to(v, dtype) for k, v in kwargs.items()}
        return forward(*args, **kwargs)

    model.forward = cast_forward
    model.get_image_embeddings = lambda pixels, **kw: embed(pixels.to(dtype), **kw)
    # float32 as the engine's compute dtype disables its autocast.
    loaded = LoadedModel(model, base.processor, base.device, torch.float32, "cast")
    return Sam2Predictor(loaded)


def _to(value, dtype):
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.to(dtype)
    if isinstance(value, list):
        return [_to(v, dtype) for v in value]
    return value


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="bf16")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default=None, help="a real checkpoint (default: random)")
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        source = args.model
        if source is None:
            Sam2Model(Sam2Config()).save_pretrained(folder)
            Sam2Processor(image_processor=Sam2ImageProcessor()).save_pretrained(folder)
            source = folder
        reference = Sam2Predictor.from_pretrained(source, device=args.device, dtype="fp32")
        autocast = Sam2Predictor.from_pretrained(source, device=args.device, dtype=args.dtype)
    half = resolve_dtype(args.dtype, reference.device)
    cast = cast_predictor(reference, half)

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    image[100:300, 200:450] = (220, 120, 40)  # some structure for the masks to follow
    points = rng.uniform((0, 0), (640, 480), size=(24, 2)).round()

    ref_masks, ref_logits = predictions(reference, image, points)
    print(f"device={reference.device} half={half} model={args.model or 'random Sam2Config()'}")
    scale = float(np.abs(ref_logits).mean())
    print(f"mean |fp32 logit| = {scale:.4g} (random weights give logits near 0)")
    print(
        f"{'variant':10s} {'mean IoU vs fp32':>17s} {'min IoU':>8s} {'mean |dlogit|':>14s} "
        f"{'relative':>9s}"
    )
    for name, predictor in (("autocast", autocast), ("cast", cast)):
        masks, logits = predictions(predictor, image, points)
        ious = [iou(m, r) for m, r in zip(masks, ref_masks, strict=True)]
        drift = float(np.abs(logits - ref_logits).mean())
        print(
            f"{name:10s} {np.mean(ious):17.4f} {np.min(ious):8.4f} {drift:14.4g} "
            f"{drift / scale:9.4f}"
        )


if __name__ == "__main__":
    main()
