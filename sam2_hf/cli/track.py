"""``sam2-hf track``: objects prompted on one frame, tracked through a video."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import arguments as a
from .output import geometry, print_json, quiet_transformers

EXAMPLES = """\
examples:
  # one object clicked on frame 0 of a video -> out/00000.png, 00001.png, ... and an overlay
  sam2-hf track clip.mp4 --frame 0 --point 210,350 -o out/ --overlay out.mp4

  # two objects from boxes on frame 12 of a folder of frames (object ids 1 and 2)
  sam2-hf track frames/ --frame 12 --box 300,0,500,400 --box 40,60,200,300 -o out/

Each PNG holds one frame's labels: pixel value = object id, 0 = background. Tracking runs
forward and backward from the prompted frame. Video files need: pip install "sam2-hf[video]".
For a single image use 'sam2-hf segment'.
"""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``track`` to the subcommands."""
    parser = commands.add_parser(
        "track",
        parents=[common],
        help="track objects prompted on one frame through a video",
        description="Track objects prompted on one frame through a video file or a folder of\n"
        "frames, writing one label PNG per frame and optionally an overlay video.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "video", metavar="VIDEO", help="a video file or a folder of JPEG/PNG frames"
    )
    parser.add_argument(
        "--frame", type=a.frame_index, default=0, help="the prompted frame (0-based, default 0)"
    )
    parser.add_argument(
        "--point", action="append", type=a.parse_point, metavar="X,Y[:L]", help=a.POINT_HELP
    )
    parser.add_argument(
        "--box",
        action="append",
        type=a.parse_box,
        metavar="X0,Y0,X1,Y1",
        help="a box in pixels; several boxes (without --point) track one object each",
    )
    parser.add_argument(
        "--obj-id",
        type=a.object_id,
        default=1,
        metavar="N",
        help="id of the (first) object, 1..255 (default 1); further boxes get N+1, N+2, ...",
    )
    parser.add_argument(
        "-o", "--output", type=Path, required=True, metavar="DIR", help="folder for label PNGs"
    )
    parser.add_argument(
        "--overlay", type=Path, metavar="VIDEO", help="the tracked masks on the frames (.mp4, .gif)"
    )
    parser.add_argument(
        "--fps", type=a.positive_float, default=10.0, help="overlay frame rate (default 10)"
    )
    parser.add_argument(
        "--fill-hole-area",
        type=a.non_negative_int,
        default=8,
        metavar="N",
        help="fill mask holes up to N low-res pixels, as the original (default 8; 0 = off)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    a.add_model_arguments(parser)
    parser.set_defaults(run=run, check=check, parser=parser)


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Prompts, object ids, input and outputs, before the model loads."""
    from ..image.batch import IMAGE_SUFFIXES

    video = Path(args.video)
    if video.is_file() and video.suffix.lower() in IMAGE_SUFFIXES:
        parser.error(
            f"VIDEO {args.video!r} is a single image: use 'sam2-hf segment' for an image, "
            "or give a video file or a folder of frames"
        )
    boxes = len(args.box or ())
    if not args.point and not boxes:
        parser.error("give the object(s) on --frame: --point X,Y and/or --box X0,Y0,X1,Y1")
    if args.point and boxes > 1:
        parser.error(
            f"--point goes with at most one --box (one object), got {boxes} boxes; "
            "to track one object per box leave out --point"
        )
    if args.obj_id + max(boxes, 1) - 1 > 255:
        parser.error(f"object ids must stay <= 255: --obj-id {args.obj_id} with {boxes} boxes")
    a.check_output_folder(parser, "-o/--output", args.output)
    a.check_output_file(parser, "--overlay", args.overlay, {".mp4", ".gif"}, "a video")
    a.check_model_arguments(parser, args)


def prompts(args: argparse.Namespace) -> list[dict[str, Any]]:
    """``TrackingSession.add`` arguments: points (+ one box) for one object, else one per box."""
    if args.point:
        prompt: dict[str, Any] = {
            "frame": args.frame,
            "obj_id": args.obj_id,
            "points": [(x, y) for x, y, _ in args.point],
            "labels": [label for _, _, label in args.point],
        }
        if args.box:
            prompt["box"] = args.box[0]
        return [prompt]
    return [
        {"frame": args.frame, "obj_id": args.obj_id + index, "box": box}
        for index, box in enumerate(args.box)
    ]


def run(args: argparse.Namespace) -> int:
    """Track, write the label PNGs (and overlay), report."""
    from ..video.tracker import track_video

    with quiet_transformers(args.verbose):
        results = track_video(
            args.video,
            prompts(args),
            output_dir=args.output,
            overlay_path=args.overlay,
            model=args.model,
            device=args.device,
            dtype=args.dtype,
            fill_hole_area=args.fill_hole_area,
            fps=args.fps,
            progress=False if args.quiet else None,
        )
    obj_ids = results[0].obj_ids
    if args.json:
        height, width = next(iter(results[0].masks.values())).shape
        frames = []
        for result in results:
            objects = [
                {
                    "obj_id": obj_id,
                    "present": bool(result.present[obj_id]),
                    "score": float(result.scores[obj_id]),
                    **geometry(result.masks[obj_id]),
                }
                for obj_id in result.obj_ids
            ]
            labels = args.output / f"{result.frame_idx:05d}.png"
            frames.append({"frame": result.frame_idx, "labels": str(labels), "objects": objects})
        print_json(
            {
                "video": str(args.video),
                "width": int(width),
                "height": int(height),
                "obj_ids": obj_ids,
                "output": str(args.output),
                "overlay": str(args.overlay) if args.overlay else None,
                "frames": frames,
            }
        )
    elif not args.quiet:
        overlay_note = f", overlay {args.overlay}" if args.overlay else ""
        print(
            f"tracked {len(obj_ids)} object(s) through {len(results)} frame(s): label PNGs in "
            f"{args.output} (pixel value = object id){overlay_note}"
        )
    return 0
