"""The ``sam2-hf`` command line: ``segment`` (prompts or detector boxes), ``auto`` (every
object), ``track`` (video) and ``models``.

JSON reports give each mask's ``box`` as inclusive pixel corners ``[x0, y0, x1, y1]`` of its
foreground (``sam2_hf.mask_to_box``; null when empty) and its ``area`` in pixels.

Exit codes: 0 success, 2 bad arguments (argparse usage errors, malformed prompt strings),
1 a runtime failure (missing file, model not available, ...), reported in one line on stderr;
``--verbose`` shows the traceback instead.

Every output file is written to a temporary file beside it and renamed into place, so a run
that fails never leaves a truncated file where a good one was. In single-image mode nothing
is written until every mask has been computed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from . import __version__
from .engine.loading import list_models, resolve_device, resolve_model_name
from .formats.coco import CocoImage, to_coco_annotations, write_coco_json
from .formats.draw import cutout, overlay
from .formats.masks import _atomic_write, mask_area, mask_to_box, save_mask
from .image.batch import (
    find_images,
    read_boxes_json,
    read_yolo_labels,
    segment_jobs,
    yolo_categories,
)
from .image.predictor import Sam2Predictor
from .inputs import load_image

PROG = "sam2-hf"
DTYPES = ("auto", "fp32", "fp16", "bf16", "float32", "float16", "bfloat16")
# Errors a user can act on; anything else is a bug and its message gets the type name.
_EXPECTED_ERRORS = (OSError, ValueError, RuntimeError, TypeError, ImportError)

SEGMENT_EXAMPLES = """\
examples:
  # one click (X,Y in pixels; ":0" marks a background click)
  sam2-hf segment photo.jpg --point 500,375 --point 420,300:0 -o mask.png

  # two boxes -> mask_0.png, mask_1.png, cut-outs, an overlay, and a JSON report
  sam2-hf segment photo.jpg --box 10,20,200,220 --box 300,40,480,260 -o mask.png \\
      --cutout cut.png --overlay overlay.png --json

  # detector boxes for a folder -> one mask per box per image and a COCO file
  sam2-hf segment images/ --boxes boxes.json -o masks/ --coco masks.json
  sam2-hf segment 'images/*.jpg' --yolo-labels labels/ -o masks/ --coco masks.json

boxes.json maps image file names to lists of [x0, y0, x1, y1] pixel boxes:
  {"cat.jpg": [[10, 20, 200, 220]], "dog.jpg": [[5, 5, 90, 80], [100, 10, 180, 95]]}
YOLO label files are labels/<image stem>.txt with lines "class cx cy w h" in [0, 1];
COCO category ids are the YOLO class ids (names from --class-names, one per line).
"""

AUTO_EXAMPLES = """\
examples:
  # every object in a photo: masks/photo_0.png, ... (best first), a COCO file, an overlay
  sam2-hf auto photo.jpg -o masks/ --coco masks.json --overlay overlay.png

  # a denser grid, and only confident, stable masks
  sam2-hf auto photo.jpg --points-per-side 64 --pred-iou-thresh 0.9 --json

The settings are the original SAM2AutomaticMaskGenerator's, with its defaults.
"""

TRACK_EXAMPLES = """\
examples:
  # one object clicked on frame 0 of a video -> out/00000.png, 00001.png, ... and an overlay
  sam2-hf track clip.mp4 --frame 0 --point 210,350 -o out/ --overlay out.mp4

  # two objects from boxes on frame 12 of a folder of frames (object ids 1 and 2)
  sam2-hf track frames/ --frame 12 --box 300,0,500,400 --box 40,60,200,300 -o out/

Each PNG holds one frame's labels: pixel value = object id, 0 = background. Tracking runs
forward and backward from the prompted frame. Video files need: pip install "sam2-hf[video]".
"""

MODELS_EXAMPLES = """\
examples:
  sam2-hf models
  sam2-hf models --json
"""


# ---------------------------------------------------------------- argument parsing


def _numbers(text: str, count: int) -> list[float] | None:
    parts = text.split(",")
    if len(parts) != count:
        return None
    try:
        values = [float(part) for part in parts]
    except ValueError:
        return None
    return values if all(math.isfinite(value) for value in values) else None


def parse_point(text: str) -> tuple[float, float, int]:
    """``"X,Y"`` or ``"X,Y:LABEL"`` -> ``(x, y, label)``; label 1 (foreground) by default."""
    coords, colon, label = text.partition(":")
    values = _numbers(coords, 2)
    if values is None or (colon and label.strip() not in ("0", "1")):
        raise argparse.ArgumentTypeError(
            "expected X,Y or X,Y:LABEL in pixels with LABEL 1 (foreground) or 0 (background), "
            f"e.g. 120,80 or 40,30:0; got {text!r}"
        )
    return values[0], values[1], int(label) if colon else 1


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``"X0,Y0,X1,Y1"`` -> ``(x0, y0, x1, y1)``, the top-left and bottom-right corners."""
    values = _numbers(text, 4)
    if values is None:
        raise argparse.ArgumentTypeError(
            f"expected X0,Y0,X1,Y1 in pixels (top-left, bottom-right), e.g. 10,20,110,90; "
            f"got {text!r}"
        )
    x0, y0, x1, y1 = values
    if x1 < x0 or y1 < y0:
        raise argparse.ArgumentTypeError(
            f"expected X0,Y0,X1,Y1 with X0 <= X1 and Y0 <= Y1; got {text!r}"
        )
    return x0, y0, x1, y1


_POINT_HELP = "a click in pixels; L is 1 (foreground, default) or 0 (background); repeatable"


def _bounded_int(text: str, low: int, high: float) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        limit = "" if high == math.inf else f" and <= {high}"
        raise argparse.ArgumentTypeError(f"expected a whole number >= {low}{limit}, got {text!r}")
    return value


def _frame_index(text: str) -> int:
    return _bounded_int(text, 0, math.inf)


def _object_id(text: str) -> int:
    # Object ids are pixel values of the label PNGs.
    return _bounded_int(text, 1, 255)


def _positive_int(text: str) -> int:
    return _bounded_int(text, 1, math.inf)


def _non_negative_int(text: str) -> int:
    return _bounded_int(text, 0, math.inf)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``sam2-hf`` parser with its subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Segment Anything 2 on Hugging Face transformers.",
        epilog="examples:\n"
        "  sam2-hf segment photo.jpg --point 500,375 -o mask.png\n"
        "  sam2-hf auto photo.jpg -o masks/ --coco masks.json\n"
        "  sam2-hf track clip.mp4 --frame 0 --point 210,350 -o out/ --overlay out.mp4\n"
        "  sam2-hf models\n\n"
        "Run 'sam2-hf COMMAND --help' for each command's options and more examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    common.add_argument(
        "-v", "--verbose", action="store_true", help="show the traceback of a failure"
    )

    segment = commands.add_parser(
        "segment",
        parents=[common],
        help="masks for one image from clicks and boxes, or for a folder from a boxes file",
        description="Masks for one image from --point / --box prompts, or for a folder or glob\n"
        "of images from a boxes file (--boxes JSON or --yolo-labels DIR).",
        epilog=SEGMENT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    segment.add_argument("input", metavar="IMAGE", help="an image file, a folder, or a glob")
    prompts = segment.add_argument_group("prompts for one image")
    prompts.add_argument(
        "--point",
        action="append",
        type=parse_point,
        metavar="X,Y[:L]",
        help=_POINT_HELP,
    )
    prompts.add_argument(
        "--box",
        action="append",
        type=parse_box,
        metavar="X0,Y0,X1,Y1",
        help="a box in pixels; several boxes give one mask each; with --point, one box only",
    )
    files = segment.add_argument_group("boxes for a folder or glob of images")
    source = files.add_mutually_exclusive_group()
    source.add_argument("--boxes", type=Path, metavar="JSON", help="image file name -> boxes")
    source.add_argument(
        "--yolo-labels", type=Path, metavar="DIR", help="YOLO txt files, one per image stem"
    )
    files.add_argument(
        "--class-names", type=Path, metavar="FILE", help="YOLO class names, one per line"
    )
    files.add_argument(
        "--batch-size",
        type=_positive_int,
        default=4,
        metavar="N",
        help="images per model call (default 4)",
    )
    outputs = segment.add_argument_group("outputs")
    outputs.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="PATH",
        help="mask PNG for one image (several masks: STEM_0.png, STEM_1.png, ...; an existing "
        "folder: IMAGE-STEM.png inside it); for a folder of images, the output folder",
    )
    outputs.add_argument("--cutout", type=Path, metavar="PNG", help="transparent cut-out(s)")
    outputs.add_argument("--overlay", type=Path, metavar="IMAGE", help="masks drawn on the image")
    outputs.add_argument("--coco", type=Path, metavar="JSON", help="a COCO annotations file")
    outputs.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    _add_model_arguments(segment)
    segment.set_defaults(handler=run_segment, check=_check_segment, parser=segment)

    auto = commands.add_parser(
        "auto",
        parents=[common],
        help="masks for every object in an image, from a grid of clicks",
        description="Masks for every object in an image (automatic mask generation): a grid of\n"
        "clicks, weak and unstable masks dropped, duplicates removed.",
        epilog=AUTO_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    auto.add_argument("input", metavar="IMAGE", help="an image file")
    auto.add_argument(
        "-o", "--output", type=Path, metavar="DIR", help="write IMAGE-STEM_0.png, ... there"
    )
    auto.add_argument("--coco", type=Path, metavar="JSON", help="a COCO annotations file")
    auto.add_argument("--overlay", type=Path, metavar="IMAGE", help="masks drawn on the image")
    auto.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    settings = auto.add_argument_group("generator settings (the original's defaults)")
    for name, kind, default, text in (
        ("--points-per-side", _positive_int, 32, "grid clicks along each side"),
        ("--points-per-batch", _positive_int, 64, "clicks decoded per model call"),
        ("--pred-iou-thresh", _fraction, 0.8, "keep masks with predicted IoU above this"),
        ("--stability-score-thresh", _fraction, 0.95, "keep masks at least this stable"),
        ("--box-nms-thresh", _fraction, 0.7, "box IoU above which duplicates are dropped"),
        ("--crop-n-layers", _non_negative_int, 0, "also run on 4, 16, ... crops"),
        ("--min-mask-region-area", _non_negative_int, 0, "remove holes/islands below N px"),
    ):
        settings.add_argument(name, type=kind, default=default, help=f"{text} (default {default})")
    _add_model_arguments(auto)
    auto.set_defaults(handler=run_auto, check=_check_auto, parser=auto)

    track = commands.add_parser(
        "track",
        parents=[common],
        help="track objects prompted on one frame through a video",
        description="Track objects prompted on one frame through a video file or a folder of\n"
        "frames, writing one label PNG per frame and optionally an overlay video.",
        epilog=TRACK_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    track.add_argument("video", metavar="VIDEO", help="a video file or a folder of JPEG/PNG frames")
    track.add_argument(
        "--frame", type=_frame_index, default=0, help="the prompted frame (0-based, default 0)"
    )
    track.add_argument(
        "--point", action="append", type=parse_point, metavar="X,Y[:L]", help=_POINT_HELP
    )
    track.add_argument(
        "--box",
        action="append",
        type=parse_box,
        metavar="X0,Y0,X1,Y1",
        help="a box in pixels; several boxes (without --point) track one object each",
    )
    track.add_argument(
        "--obj-id",
        type=_object_id,
        default=1,
        metavar="N",
        help="id of the (first) object, 1..255 (default 1); further boxes get N+1, N+2, ...",
    )
    track.add_argument(
        "-o", "--output", type=Path, required=True, metavar="DIR", help="folder for label PNGs"
    )
    track.add_argument(
        "--overlay", type=Path, metavar="VIDEO", help="the tracked masks on the frames (.mp4, .gif)"
    )
    track.add_argument("--fps", type=float, default=10.0, help="overlay frame rate (default 10)")
    track.add_argument(
        "--fill-hole-area",
        type=int,
        default=8,
        metavar="N",
        help="fill mask holes up to N low-res pixels, as the original (default 8; 0 = off)",
    )
    track.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    _add_model_arguments(track)
    track.set_defaults(handler=run_track, check=_check_track, parser=track)

    models = commands.add_parser(
        "models",
        parents=[common],
        help="list the model short names and whether they are downloaded",
        description="The known model short names, their hub ids, sizes and speeds, and whether\n"
        "each is in the local Hugging Face cache (checked offline).",
        epilog=MODELS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    models.add_argument("--json", action="store_true", help="print JSON instead of a table")
    models.add_argument(
        "--cache-dir", type=Path, help="the Hugging Face hub cache (default: HF_HUB_CACHE)"
    )
    models.set_defaults(handler=run_models, check=None, parser=models)
    return parser


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    names = ", ".join(info.name for info in list_models())
    group.add_argument(
        "--model", default="tiny", help=f"{names}, a hub id or a local folder (default tiny)"
    )
    group.add_argument(
        "--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps"
    )
    group.add_argument(
        "--dtype", default="auto", choices=DTYPES, metavar="DTYPE", help=", ".join(DTYPES)
    )


def _check_model_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    try:
        resolve_model_name(args.model)
    except ValueError as error:
        parser.error(f"argument --model: {error}")
    try:
        resolve_device(args.device)
    except ValueError as error:
        parser.error(f"argument --device: {error}")


def _check_segment(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    many = args.boxes is not None or args.yolo_labels is not None
    if many:
        if args.point or args.box:
            parser.error(
                "--point/--box prompt one image; with --boxes/--yolo-labels the boxes come "
                "from the file"
            )
        if args.cutout or args.overlay:
            parser.error("--cutout and --overlay work on one image, not with --boxes/--yolo-labels")
    else:
        if Path(args.input).is_dir():
            parser.error(f"IMAGE {args.input!r} is a folder: give --boxes JSON or --yolo-labels")
        if not args.point and not args.box:
            parser.error(
                "give prompts for one image (--point X,Y and/or --box X0,Y0,X1,Y1) or boxes "
                "for a folder (--boxes JSON or --yolo-labels DIR)"
            )
        if args.point and len(args.box or ()) > 1:
            parser.error(
                f"--point goes with at most one --box (one object), got {len(args.box)} boxes; "
                "for one mask per box leave out --point"
            )
    if args.class_names is not None and args.yolo_labels is None:
        parser.error("--class-names goes with --yolo-labels")
    for option, path, alpha in (
        ("--cutout", args.cutout, True),
        ("--overlay", args.overlay, False),
    ):
        if path is None:
            continue
        suffix = path.suffix.lower()
        if alpha and suffix not in (".png", ".webp"):
            parser.error(f"argument {option}: needs .png or .webp for transparency, got {path}")
        if suffix not in Image.registered_extensions():
            parser.error(f"argument {option}: unknown image file type {suffix!r} in {path}")
    _check_model_arguments(parser, args)


def _check_auto(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not (args.output or args.coco or args.overlay or args.json):
        parser.error("nothing to write: give -o DIR, --coco JSON, --overlay IMAGE and/or --json")
    if (
        args.overlay is not None
        and args.overlay.suffix.lower() not in Image.registered_extensions()
    ):
        parser.error(f"argument --overlay: unknown image file type in {args.overlay}")
    _check_model_arguments(parser, args)


def _check_track(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
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
    if args.overlay is not None and args.overlay.suffix.lower() not in (".mp4", ".gif"):
        parser.error(f"argument --overlay: expected a .mp4 or .gif path, got {args.overlay}")
    if not (math.isfinite(args.fps) and args.fps > 0):
        parser.error(f"argument --fps: expected a frame rate > 0, got {args.fps}")
    if args.fill_hole_area < 0:
        parser.error(f"argument --fill-hole-area: expected >= 0, got {args.fill_hole_area}")
    _check_model_arguments(parser, args)


# ---------------------------------------------------------------- running


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sam2-hf`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Bad arguments raise ``SystemExit(2)`` from argparse, as on the command line.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.check is not None:
        args.check(args.parser, args)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the one place a failure becomes a message and an exit code
        if args.verbose:
            raise
        text = " ".join(str(error).split()) or type(error).__name__
        if not isinstance(error, _EXPECTED_ERRORS):
            text = f"{type(error).__name__}: {text} (run with --verbose for the traceback)"
        print(f"{PROG}: error: {text}", file=sys.stderr)
        return 1


@contextlib.contextmanager
def _quiet_transformers(verbose: bool) -> Iterator[None]:
    """Hide transformers' loading warnings and bars: they are for developers, not CLI users."""
    from transformers.utils import logging

    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    if not verbose:
        logging.set_verbosity_error()
        logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def _warn(text: str) -> None:
    print(f"{PROG}: warning: {text}", file=sys.stderr)


def _dtype(args: argparse.Namespace) -> str | None:
    return None if args.dtype == "auto" else args.dtype


def _load_predictor(args: argparse.Namespace) -> Sam2Predictor:
    with _quiet_transformers(args.verbose):
        return Sam2Predictor.from_pretrained(args.model, device=args.device, dtype=_dtype(args))


def _save_image(image: Image.Image | NDArray[np.uint8], path: Path) -> Path:
    """Save by the file's extension, through a temporary file and a rename."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    file_format = Image.registered_extensions()[path.suffix.lower()]
    return _atomic_write(path, lambda handle: picture.save(handle, format=file_format))


def _numbered(path: Path, count: int) -> list[Path]:
    """``path`` for one file; ``stem_0.ext``, ``stem_1.ext``, ... for several."""
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}_{index}{path.suffix}") for index in range(count)]


def _geometry(mask: NDArray[np.bool_]) -> dict[str, Any]:
    """The mask's inclusive xyxy box (None when empty) and pixel area, for JSON reports."""
    area = int(mask_area(mask))
    return {"box": mask_to_box(mask).tolist() if area else None, "area": area}


def _mask_report(mask: NDArray[np.bool_], score: float, path: Path) -> dict[str, Any]:
    return {"mask": str(path), "score": float(score), **_geometry(mask)}


def _write_with_parents(write: Callable[[Any, Path], Path], value: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write(value, path)


def run_segment(args: argparse.Namespace) -> int:
    if args.boxes is not None or args.yolo_labels is not None:
        return _segment_many(args)
    return _segment_one(args)


def _segment_one(args: argparse.Namespace) -> int:
    image = load_image(args.input)  # before the model, so a wrong path fails fast
    predictor = _load_predictor(args)
    predictor.set_image(image)
    points = args.point or []
    boxes = args.box or []
    if points:
        result = predictor.predict(
            point_coords=[(x, y) for x, y, _ in points],
            point_labels=[label for _, _, label in points],
            box=boxes[0] if boxes else None,
        )
        masks, scores = result.masks[:1], result.scores[:1]  # best first: keep the best
        prompt_boxes = [boxes[0] if boxes else None]
    else:
        result = predictor.predict_boxes(boxes)
        masks, scores = result.masks, result.scores
        prompt_boxes = list(boxes)

    output = args.output
    if output.is_dir():
        output = output / f"{Path(args.input).stem}.png"
    mask_paths = _numbered(output, len(masks))
    cutout_paths = _numbered(args.cutout, len(masks)) if args.cutout else []
    # Draw everything before writing anything: a failure leaves every old file as it was.
    cutouts = [cutout(image, mask) for mask in masks] if args.cutout else []
    drawn = None
    if args.overlay:
        drawn = overlay(
            image,
            masks,
            points=[(x, y) for x, y, _ in points] or None,
            point_labels=[label for _, _, label in points] or None,
            boxes=boxes or None,
        )
    for mask, path in zip(masks, mask_paths, strict=True):
        _write_with_parents(save_mask, mask, path)
    for picture, path in zip(cutouts, cutout_paths, strict=True):
        _write_with_parents(_save_image, picture, path)
    if drawn is not None:
        _write_with_parents(_save_image, drawn, args.overlay)

    reports = []
    for index, (mask, score, path) in enumerate(zip(masks, scores, mask_paths, strict=True)):
        report = _mask_report(mask, score, path)
        prompt = prompt_boxes[index]
        report["prompt_box"] = list(prompt) if prompt is not None else None
        report["cutout"] = str(cutout_paths[index]) if cutout_paths else None
        reports.append(report)
    height, width = image.shape[:2]
    if args.coco:
        coco = to_coco_annotations([CocoImage(Path(args.input).name, masks, scores)])
        _write_with_parents(write_coco_json, coco, args.coco)
    if args.json:
        summary = {
            "image": str(args.input),
            "width": width,
            "height": height,
            "model": str(args.model),
            "masks": reports,
            "overlay": str(args.overlay) if args.overlay else None,
            "coco": str(args.coco) if args.coco else None,
        }
        print(json.dumps(summary, indent=2))
    elif not args.quiet:
        for report in reports:
            print(f"{report['mask']}: score {report['score']:.3f}, area {report['area']} px")
    return 0


# ---------------------------------------------------------------- folders and boxes files


def _segment_many(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    images = find_images(str(args.input))
    if args.boxes is not None:
        warn = (
            None if args.quiet else lambda text: print(f"{PROG}: warning: {text}", file=sys.stderr)
        )
        jobs = read_boxes_json(args.boxes, images, warn=warn)
        categories = [{"id": 1, "name": "object"}]
    else:
        jobs = read_yolo_labels(args.yolo_labels, images)
        names = []
        if args.class_names is not None:
            lines = args.class_names.read_text().splitlines()
            names = [line.strip() for line in lines if line.strip()]
        categories = yolo_categories(jobs, names)
    predictor = _load_predictor(args)
    args.output.mkdir(parents=True, exist_ok=True)

    coco_images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    reports: list[dict[str, Any]] = []
    hide = args.quiet or not sys.stderr.isatty()
    with tqdm(total=len(jobs), unit="image", disable=hide, file=sys.stderr) as progress:
        for job, found in segment_jobs(predictor, jobs, batch_size=args.batch_size):
            masks, scores, boxes = found.masks, found.scores, found.boxes
            paths = [args.output / f"{job.path.stem}_{i}.png" for i in range(len(masks))]
            for mask, path in zip(masks, paths, strict=True):
                save_mask(mask, path)
            image = CocoImage(job.path.name, masks, scores, job.category_ids)
            coco = to_coco_annotations([image], categories=categories)
            image_id = len(coco_images) + 1
            coco_images.append({**coco["images"][0], "id": image_id})
            for annotation in coco["annotations"]:
                annotations.append({**annotation, "id": len(annotations) + 1, "image_id": image_id})
            mask_reports = []
            for index, path in enumerate(paths):
                report = _mask_report(masks[index], scores[index], path)
                report["prompt_box"] = boxes[index].tolist()
                report["category_id"] = int(job.category_ids[index])
                mask_reports.append(report)
            entry = {"image": str(job.path), "width": image.width, "height": image.height}
            reports.append({**entry, "masks": mask_reports})
            progress.update(1)

    if args.coco:
        coco = {"images": coco_images, "annotations": annotations, "categories": categories}
        _write_with_parents(write_coco_json, coco, args.coco)
    if args.json:
        summary = {
            "model": str(args.model),
            "output": str(args.output),
            "coco": str(args.coco) if args.coco else None,
            "images": reports,
        }
        print(json.dumps(summary, indent=2))
    elif not args.quiet:
        count = sum(len(report["masks"]) for report in reports)
        coco_note = f", COCO annotations in {args.coco}" if args.coco else ""
        print(f"{count} mask(s) for {len(reports)} image(s) in {args.output}{coco_note}")
    return 0


# ---------------------------------------------------------------- auto


def run_auto(args: argparse.Namespace) -> int:
    from .image.automatic import MaskGenerator

    image = load_image(args.input)  # before the model, so a wrong path fails fast
    settings = {
        "points_per_side": args.points_per_side,
        "points_per_batch": args.points_per_batch,
        "pred_iou_thresh": args.pred_iou_thresh,
        "stability_score_thresh": args.stability_score_thresh,
        "box_nms_thresh": args.box_nms_thresh,
        "crop_n_layers": args.crop_n_layers,
        "min_mask_region_area": args.min_mask_region_area,
    }
    with _quiet_transformers(args.verbose):
        generator = MaskGenerator.from_pretrained(
            args.model, device=args.device, dtype=_dtype(args), **settings
        )
    show = not args.quiet and sys.stderr.isatty()
    records = generator.generate(image, progress=show)
    height, width = image.shape[:2]
    masks = np.array([r["segmentation"] for r in records], dtype=bool).reshape(-1, height, width)
    scores = np.array([r["predicted_iou"] for r in records], dtype=np.float64)
    stem = Path(args.input).stem
    paths = [args.output / f"{stem}_{i}.png" for i in range(len(masks))] if args.output else []
    drawn = overlay(image, masks) if args.overlay else None
    for mask, path in zip(masks, paths, strict=True):
        _write_with_parents(save_mask, mask, path)
    if args.coco:
        coco = to_coco_annotations([CocoImage(Path(args.input).name, masks, scores)])
        _write_with_parents(write_coco_json, coco, args.coco)
    if drawn is not None:
        _write_with_parents(_save_image, drawn, args.overlay)
    if args.json:
        reports = [
            {
                "mask": str(paths[i]) if paths else None,
                "score": float(record["predicted_iou"]),
                "stability_score": float(record["stability_score"]),
                "point": [float(v) for v in record["point_coords"][0]],
                **_geometry(masks[i]),
            }
            for i, record in enumerate(records)
        ]
        summary = {
            "image": str(args.input),
            "width": width,
            "height": height,
            "model": str(args.model),
            "settings": settings,
            "masks": reports,
            "coco": str(args.coco) if args.coco else None,
            "overlay": str(args.overlay) if args.overlay else None,
        }
        print(json.dumps(summary, indent=2))
    elif not args.quiet:
        where = f" in {args.output}" if args.output else ""
        print(f"{len(masks)} mask(s) for {args.input}{where}")
    return 0


# ---------------------------------------------------------------- track


def _track_prompts(args: argparse.Namespace) -> list[dict[str, Any]]:
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


def run_track(args: argparse.Namespace) -> int:
    from .video.io import iter_frames, save_mask_pngs, write_overlay
    from .video.tracker import track_video

    with _quiet_transformers(args.verbose):
        results = track_video(
            args.video,
            _track_prompts(args),
            model=args.model,
            device=args.device,
            dtype=_dtype(args),
            fill_hole_area=args.fill_hole_area,
            progress=False if args.quiet else None,
        )
    size = next(iter(results[0].masks.values())).shape
    # Everything is written into hidden folders beside the targets first, then renamed into
    # place, so a failure leaves earlier outputs whole.
    args.output.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        staging = Path(
            stack.enter_context(tempfile.TemporaryDirectory(dir=args.output, prefix="."))
        )
        moves = [
            (path, args.output / path.name) for path in save_mask_pngs(results, staging, size=size)
        ]
        if args.overlay is not None:
            args.overlay.parent.mkdir(parents=True, exist_ok=True)
            folder = stack.enter_context(
                tempfile.TemporaryDirectory(dir=args.overlay.parent, prefix=".")
            )
            temporary = Path(folder) / args.overlay.name
            write_overlay(iter_frames(args.video), results, temporary, fps=args.fps)
            moves.append((temporary, args.overlay))
        for source, target in moves:
            os.replace(source, target)

    obj_ids = results[0].obj_ids
    if args.json:
        frames = []
        for result in results:
            objects = [
                {
                    "obj_id": obj_id,
                    "present": bool(result.present[obj_id]),
                    "score": float(result.scores[obj_id]),
                    **_geometry(result.masks[obj_id]),
                }
                for obj_id in result.obj_ids
            ]
            labels = args.output / f"{result.frame_idx:05d}.png"
            frames.append({"frame": result.frame_idx, "labels": str(labels), "objects": objects})
        summary = {
            "video": str(args.video),
            "width": int(size[1]),
            "height": int(size[0]),
            "obj_ids": obj_ids,
            "output": str(args.output),
            "overlay": str(args.overlay) if args.overlay else None,
            "frames": frames,
        }
        print(json.dumps(summary, indent=2))
    elif not args.quiet:
        overlay_note = f", overlay {args.overlay}" if args.overlay else ""
        print(
            f"tracked {len(obj_ids)} object(s) through {len(results)} frame(s): label PNGs in "
            f"{args.output} (pixel value = object id){overlay_note}"
        )
    return 0


# ---------------------------------------------------------------- models


def run_models(args: argparse.Namespace) -> int:
    from huggingface_hub import try_to_load_from_cache

    rows = []
    for info in list_models():
        # Reads the cache folder only: a str is a cached file, anything else means not cached.
        found = try_to_load_from_cache(info.hub_id, "config.json", cache_dir=args.cache_dir)
        rows.append(
            {
                "name": info.name,
                "hub_id": info.hub_id,
                "params_millions": info.params_millions,
                "fps": info.fps,
                "cached": isinstance(found, str),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = ("name", "hub id", "params", "fps (A100)", "cached")
    table = [
        (
            r["name"],
            r["hub_id"],
            f"{r['params_millions']:.1f}M",
            f"{r['fps']:.1f}",
            "yes" if r["cached"] else "no",
        )
        for r in rows
    ]
    widths = [max(len(row[column]) for row in [header, *table]) for column in range(len(header))]
    for row in [header, *table]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
