"""VideoTracker vs. the raw transformers session calls, side by side in one run.

1. Tracking speed: a hiera-tiny-sized video model with random weights (the default
   ``Sam2VideoConfig()``) on a synthetic 480x640 clip, 1 and 3 objects prompted on frame 0:
   frames per second and peak memory for the tracker, and the same frames through
   transformers' own calls (``add_inputs_to_inference_session`` + ``model(...)`` per frame
   + ``post_process_masks``), giving the tracker/raw time ratio (the overhead).
2. Streaming memory: the session's stored tensors and the process RSS at frame 60 and at the
   last frame (600 by default) of a pushed stream. This part uses the *tiny* test-sized model
   (the bound does not depend on model size, and it keeps the run short); it says so.

Random weights track nothing: this measures time and memory, not quality.
A full run (60 frames, 2 object counts, tracker + raw) takes tens of minutes on a 2-core CPU;
``--quick`` runs 6 frames. Run:
``python benchmarks/video.py --quick`` or ``python benchmarks/video.py --frames 60 --device cuda``
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import psutil
import torch
from transformers import (
    Sam2HieraDetConfig,
    Sam2ImageProcessor,
    Sam2VideoConfig,
    Sam2VideoInferenceSession,
    Sam2VideoModel,
    Sam2VideoProcessor,
    Sam2VideoVideoProcessor,
    Sam2VisionConfig,
)

from sam2_hf.engine.loading import LoadedModel
from sam2_hf.video.tracker import VideoTracker

PROMPTS = [(160, 120), (320, 240), (480, 360)]  # one click per object, (x, y)


def synthetic_clip(frames: int, height: int, width: int) -> list[np.ndarray]:
    """Squares drifting over noise."""
    rng = np.random.default_rng(0)
    clip = []
    for i in range(frames):
        frame = rng.integers(0, 80, size=(height, width, 3), dtype=np.uint8)
        for k, (x, y) in enumerate(PROMPTS):
            x0, y0 = int(x * width / 640) + i, int(y * height / 480)
            frame[max(y0 - 40, 0) : y0 + 40, max(x0 - 40, 0) : x0 + 40] = (200, 60 * k, 40)
        clip.append(frame)
    return clip


def tiny_config() -> Sam2VideoConfig:
    """The test suite's working tiny video model (image size 128, ~3M parameters)."""
    backbone = Sam2HieraDetConfig(
        hidden_size=12,
        num_attention_heads=1,
        image_size=[128, 128],
        blocks_per_stage=[1, 2, 7, 2],
        embed_dim_per_stage=[12, 24, 48, 96],
        num_attention_heads_per_stage=[1, 2, 4, 8],
        window_size_per_stage=[8, 4, 14, 7],
        global_attention_blocks=[5, 7, 9],
        window_positional_embedding_background_size=[7, 7],
    )
    vision = Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[96, 48, 24, 12],
        backbone_feature_sizes=[[32, 32], [16, 16], [8, 8]],
        fpn_hidden_size=128,
    )
    return Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config={"hidden_size": 128, "image_size": 128, "patch_size": 16},
        mask_decoder_config={"hidden_size": 128},
        image_size=128,
        memory_attention_hidden_size=128,
        memory_attention_feed_forward_hidden_size=256,
        memory_attention_rope_feat_sizes=[8, 8],
        memory_encoder_hidden_size=128,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=128,
        memory_fuser_embed_dim=128,
        memory_fuser_intermediate_dim=256,
    )


def build_tracker(config: Sam2VideoConfig, device: torch.device) -> VideoTracker:
    torch.manual_seed(0)
    model = Sam2VideoModel(config).eval().to(device)
    size = config.image_size
    processor = Sam2VideoProcessor(
        image_processor=Sam2ImageProcessor(size={"height": size, "width": size}),
        video_processor=Sam2VideoVideoProcessor(size={"height": size, "width": size}),
        target_size=size,
    )
    loaded = LoadedModel(model, processor, device, torch.float32, "random")
    return VideoTracker(loaded, progress=False)


def peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_tracker(tracker: VideoTracker, clip: list[np.ndarray], objects: int) -> float:
    session = tracker.open(clip)
    start = time.perf_counter()
    for obj_id in range(1, objects + 1):
        session.add(frame_idx=0, obj_id=obj_id, points=[PROMPTS[obj_id - 1]])
    for _ in session.propagate():
        pass
    return time.perf_counter() - start


@torch.inference_mode()
def run_raw(tracker: VideoTracker, clip: list[np.ndarray], objects: int) -> float:
    model, processor = tracker.model, tracker.processor
    height, width = clip[0].shape[:2]
    pixels = torch.stack([tracker._preprocess(frame) for frame in clip]).to(tracker.device)
    state = Sam2VideoInferenceSession(
        video=pixels,
        video_height=height,
        video_width=width,
        inference_device=tracker.device,
        dtype=torch.float32,
    )
    start = time.perf_counter()
    for obj_id in range(1, objects + 1):
        x, y = PROMPTS[obj_id - 1]
        processor.add_inputs_to_inference_session(
            state, 0, obj_id, input_points=[[[[x, y]]]], input_labels=[[[1]]]
        )
        model(state, frame_idx=0)
    for frame_idx in range(len(clip)):
        out = model(state, frame_idx=frame_idx)
        processor.post_process_masks([out.pred_masks.float().cpu()], [[height, width]])
    return time.perf_counter() - start


def streaming(frames: int, device: torch.device) -> None:
    tracker = build_tracker(tiny_config(), device)
    clip = synthetic_clip(8, 480, 640)
    stream = tracker.stream()
    rss = psutil.Process()
    marks = {60, frames}
    print(f"\nstreaming memory (tiny test-sized model, image size 128, {frames} frames 480x640):")
    for i in range(frames):
        stream.push(clip[i % len(clip)])
        if i == 0:
            stream.add(obj_id=1, points=[PROMPTS[0]])
        if i + 1 in marks:
            print(
                f"  frame {i + 1:4d}: frames held {len(stream.stored_frames):3d}, "
                f"session tensors {stream.stored_bytes / 2**20:7.2f} MB, "
                f"process RSS {rss.memory_info().rss / 2**20:7.1f} MB"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="clip length (default 60)")
    parser.add_argument("--quick", action="store_true", help="6 frames instead of --frames")
    parser.add_argument("--objects", type=int, nargs="+", default=[1, 3], choices=[1, 2, 3])
    parser.add_argument("--stream-frames", type=int, default=600)
    parser.add_argument("--stream-only", action="store_true", help="only the streaming part")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    frames = 6 if args.quick else args.frames
    if args.stream_only:
        streaming(args.stream_frames, device)
        return

    tracker = build_tracker(Sam2VideoConfig(), device)
    params = sum(p.numel() for p in tracker.model.parameters()) / 1e6
    clip = synthetic_clip(frames, 480, 640)
    print(
        f"hiera-tiny-sized random video model ({params:.1f}M parameters), {frames} frames "
        f"480x640, {device}, float32, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, python {sys.version.split()[0]}"
    )
    for objects in args.objects:
        raw = run_raw(tracker, clip, objects)
        ours = run_tracker(tracker, clip, objects)
        print(
            f"  {objects} object(s): tracker {frames / ours:6.3f} frames/s ({ours:7.1f} s), "
            f"raw transformers {frames / raw:6.3f} frames/s ({raw:7.1f} s), "
            f"tracker/raw {ours / raw:5.3f}, peak memory so far {peak_mb(device):7.0f} MB",
            flush=True,
        )
    streaming(args.stream_frames, device)


if __name__ == "__main__":
    main()
