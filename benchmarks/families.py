"""SAM 2.1 tiny, EdgeTAM and SAM 3's tracker side by side in one run: image embedding time and
video frames per second, each family as a ratio to SAM 2.1 tiny measured in the same run.

Each family at its released size with random weights (nothing is downloaded):

- ``sam2``: the default ``Sam2VideoConfig()``, hiera-tiny sized (SAM 2.1 tiny's shapes);
- ``edgetam``: ``EdgeTamVideoConfig`` on timm's ``repvit_m1``, as yonigozlan/EdgeTAM-hf (given
  explicitly: transformers' default backbone config misspells ``architecture``);
- ``sam3_tracker``: the default ``Sam3TrackerVideoConfig()``, SAM 3's tracker (ViT with 32
  layers, 1008-pixel input); SAM 3 has one size, larger than hiera-tiny.

Measured through sam2-hf's own classes: ``ImageEngine.encode`` on one 480x640 image (the
embedding every image prompt reuses; the fastest of ``--repeats`` runs, as the first call of a
new model pays one-off costs such as oneDNN's convolution set-up, about 3x for EdgeTAM, and a
shared CPU adds noise that only slows runs down), and ``VideoTracker`` tracking one clicked
object through a synthetic 480x640 clip: frames per second over the frames after the first
(each frame's encoding and memory attention included; the first frame, prompted, pays the
one-off costs). Random weights track nothing: this measures time, not quality.

Run: ``python benchmarks/families.py --quick`` (2 embeddings and 3 frames per family; about
seven minutes on a 2-core CPU, SAM 3 most of it), or ``--frames 10 --repeats 3 --device cuda``.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import transformers

from sam2_hf.engine.image import ImageEngine
from sam2_hf.engine.loading import LoadedModel, _model_class_for, resolve_device
from sam2_hf.video.tracker import VideoTracker

FAMILIES = ("sam2", "edgetam", "sam3_tracker")
TITLES = {"sam2": "SAM 2.1 tiny", "edgetam": "EdgeTAM", "sam3_tracker": "SAM 3 tracker"}
HEIGHT, WIDTH = 480, 640


@dataclass
class Row:
    """One family's measurements (seconds, frames per second) and ratios to SAM 2.1 tiny."""

    family: str
    params_millions: float
    embedding_s: float
    video_fps: float
    embedding_ratio: float = 1.0
    fps_ratio: float = 1.0


def video_config(family: str) -> Any:
    """The family's released video configuration, random weights."""
    if family == "sam2":
        return transformers.Sam2VideoConfig()
    if family == "edgetam":
        backbone = transformers.TimmWrapperConfig(
            architecture="repvit_m1",
            model_args={"in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3]},
        )
        vision = transformers.EdgeTamVisionConfig(backbone_config=backbone)
        return transformers.EdgeTamVideoConfig(vision_config=vision)
    return transformers.Sam3TrackerVideoConfig()


def processors(family: str) -> tuple[Any, Any]:
    """(image processor, video processor) as the family's hub repository ships them."""
    if family == "sam3_tracker":
        size, half = {"height": 1008, "width": 1008}, [0.5, 0.5, 0.5]
        image = transformers.Sam3ImageProcessor(size=size)
        video = transformers.Sam2VideoVideoProcessor(size=size, image_mean=half, image_std=half)
        return (
            transformers.Sam3TrackerProcessor(image_processor=image, target_size=1008),
            transformers.Sam3TrackerVideoProcessor(
                image_processor=image, video_processor=video, target_size=1008
            ),
        )
    image = transformers.Sam2ImageProcessor()
    return (
        transformers.Sam2Processor(image_processor=image, target_size=1024),
        transformers.Sam2VideoProcessor(
            image_processor=image,
            video_processor=transformers.Sam2VideoVideoProcessor(),
            target_size=1024,
        ),
    )


def synthetic_clip(frames: int) -> list[np.ndarray]:
    """A square drifting over noise."""
    rng = np.random.default_rng(0)
    clip = []
    for i in range(frames):
        frame = rng.integers(0, 80, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
        frame[200:280, 280 + 4 * i : 360 + 4 * i] = (200, 60, 40)
        clip.append(frame)
    return clip


def measure(family: str, device: torch.device, frames: int, repeats: int, warmup: bool) -> Row:
    """Embedding seconds (fastest of ``repeats``) and tracking frames/s (over the frames after
    the prompted first one) for one family."""
    torch.manual_seed(0)
    config = video_config(family)
    image_processor, video_processor = processors(family)
    image_cls, image_config = _model_class_for(config, "image")
    image_model = image_cls(image_config).eval().to(device)
    params = sum(p.numel() for p in image_model.parameters()) / 1e6
    engine = ImageEngine(LoadedModel(image_model, image_processor, device, torch.float32, family))
    image = synthetic_clip(1)[0]
    if warmup:
        engine.encode([image])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        engine.encode([image])
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    del engine, image_model
    gc.collect()

    video_cls, _ = _model_class_for(config, "video")
    model = video_cls(config).eval().to(device)
    loaded = LoadedModel(model, video_processor, device, torch.float32, family)
    tracker = VideoTracker(loaded, progress=False)
    clip = synthetic_clip(frames)
    if warmup:
        warm = tracker.open(clip[:2])
        warm.add(frame_idx=0, obj_id=1, points=[(320, 240)])
        list(warm.propagate())
    session = tracker.open(clip)  # reading and resizing frames is not timed
    session.add(frame_idx=0, obj_id=1, points=[(320, 240)])
    stamps = []
    for _ in session.propagate():
        if device.type == "cuda":
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
    assert len(stamps) == frames
    del tracker, loaded, model, session
    gc.collect()
    fps = (frames - 1) / (stamps[-1] - stamps[0])
    return Row(family, round(params, 1), float(np.min(times)), fps)


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 embeddings and 3 frames each")
    parser.add_argument("--frames", type=int, default=8, help="frames tracked per family")
    parser.add_argument("--repeats", type=int, default=3, help="embeddings timed per family")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    parser.add_argument("--threads", type=int, default=None, help="torch threads on the CPU")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.repeats = 3, 2
    if args.frames < 2 or args.repeats < 1:
        parser.error("--frames must be at least 2 (the first is not timed), --repeats at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    families = ["sam2", *[f for f in args.families if f != "sam2"]]  # the reference first
    rows = []
    for family in families:
        # A warm-up run on a GPU (kernels, allocator); on the CPU the fastest repeat and the
        # frames after the first leave the one-off costs out without doubling SAM 3's minutes.
        rows.append(measure(family, device, args.frames, args.repeats, device.type != "cpu"))
    reference = rows[0]
    for row in rows:
        row.embedding_ratio = row.embedding_s / reference.embedding_s
        row.fps_ratio = row.video_fps / reference.video_fps
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
        return rows
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, transformers "
        f"{transformers.__version__}, {args.frames} frames ({args.frames - 1} timed), fastest of "
        f"{args.repeats} embedding(s)"
    )
    header = ("family", "params", "embedding", "x tiny", "video", "x tiny")
    print("{:<15} {:>8} {:>10} {:>7} {:>10} {:>7}".format(*header))
    for row in rows:
        print(
            f"{TITLES[row.family]:<15} {row.params_millions:>7.1f}M {row.embedding_s:>9.2f}s "
            f"{row.embedding_ratio:>6.2f}x {row.video_fps:>6.2f} fps {row.fps_ratio:>6.2f}x"
        )
    return rows


if __name__ == "__main__":
    main()
