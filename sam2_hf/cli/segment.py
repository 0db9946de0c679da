"""``sam2-hf segment``: masks for one image from clicks and boxes, or for a folder of images
from a boxes file (JSON or YOLO labels)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import arguments as a
from .output import (
    geometry,
    merge_coco,
    numbered,
    print_json,
    quiet_transformers,
    save_coco_file,
    save_image,
    save_mask_file,
    show_progress,
    warn,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from ..image.predictor import Sam2Predictor

EXAMPLES = """\
examples:
  # one click (X,Y in pixels; ":0" marks a background click)
  sam2-hf segment photo.jpg --point 500,375 --point 420,300:0 -o mask.png

  # two boxes -> mask_0.png, mask_1.png, cut-outs, an overlay, and a JSON report
  sam2-hf segment photo.jpg --box 10,20,200,220 --box 300,40,480,260 -o mask.png \\
      --cutout cut.png --overlay overlay.png --json

  # a box reaching past the left edge is clipped to the image
  sam2-hf segment photo.jpg --box -10,20,100,200 -o masks/

  # detector boxes for a folder -> one mask per box per image and a COCO file
  sam2-hf segment images/ --boxes boxes.json -o masks/ --coco masks.json
  sam2-hf segment 'images/*.jpg' --yolo-labels labels/ -o masks/ --coco masks.json

boxes.json maps image file names to lists of [x0, y0, x1, y1] pixel boxes:
  {"cat.jpg": [[10, 20, 200, 220]], "dog.jpg": [[5, 5, 90, 80], [100, 10, 180, 95]]}
YOLO label files are labels/<image stem>.txt with lines "class cx cy w h" in [0, 1];
COCO category ids are the YOLO class ids (names from --class-names, one per line).
"""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``segment`` to the subcommands."""
    parser = commands.add_parser(
        "segment",
        parents=[common],
        help="masks for one image from clicks and boxes, or for a folder from a boxes file",
        description="Masks for one image from --point / --box prompts, or for a folder or glob\n"
        "of images from a boxes file (--boxes JSON or --yolo-labels DIR).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="IMAGE", help="an image file, a folder, or a glob")
    prompts = parser.add_argument_group("prompts for one image")
    prompts.add_argument(
        "--point", action="append", type=a.parse_point, metavar="X,Y[:L]", help=a.POINT_HELP
    )
    prompts.add_argument(
        "--box",
        action="append",
        type=a.parse_box,
        metavar="X0,Y0,X1,Y1",
        help="a box in pixels, clipped to the image; several boxes give one mask each; "
        "with --point, one box only",
    )
    files = parser.add_argument_group("boxes for a folder or glob of images")
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
        type=a.positive_int,
        default=4,
        metavar="N",
        help="images per model call (default 4)",
    )
    outputs = parser.add_argument_group("outputs")
    outputs.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PATH",
        help="mask PNG for one image (several masks: STEM_0.png, STEM_1.png, ...; a folder, "
        "existing or ending in /: IMAGE-STEM.png inside it); for a folder of images, the "
        "output folder",
    )
    outputs.add_argument("--cutout", type=Path, metavar="PNG", help="transparent cut-out(s)")
    outputs.add_argument("--overlay", type=Path, metavar="IMAGE", help="masks drawn on the image")
    outputs.add_argument("--coco", type=Path, metavar="JSON", help="a COCO annotations file")
    outputs.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    a.add_model_arguments(parser)
    parser.set_defaults(run=run, check=check, parser=parser)


def _many(args: argparse.Namespace) -> bool:
    return args.boxes is not None or args.yolo_labels is not None


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject bad combinations and unwritable outputs before the model loads."""
    if _many(args):
        if args.point or args.box:
            parser.error(
                "--point/--box prompt one image; with --boxes/--yolo-labels the boxes come "
                "from the file"
            )
        if args.cutout or args.overlay:
            parser.error("--cutout and --overlay work on one image, not with --boxes/--yolo-labels")
        a.check_output_folder(parser, "-o/--output", args.output)
    else:
        if Path(args.input).is_dir():
            parser.error(
                f"IMAGE {args.input!r} is a folder: give --boxes JSON or --yolo-labels DIR "
                "(or use 'sam2-hf track' for a folder of video frames)"
            )
        if Path(args.input).suffix.lower() in a.VIDEO_SUFFIXES:
            parser.error(
                f"IMAGE {args.input!r} is a video: use 'sam2-hf track' to follow objects through it"
            )
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
        if a.names_a_folder(args.output):
            a.check_output_folder(parser, "-o/--output", args.output)
        elif Path(args.output).suffix.lower() != ".png":
            parser.error(
                "argument -o/--output: expected a .png file or a folder (existing, or ending "
                f"in /), got {args.output!r}"
            )
        else:
            a.check_output_file(parser, "-o/--output", args.output, {".png"}, "a mask")
    if args.class_names is not None and args.yolo_labels is None:
        parser.error("--class-names goes with --yolo-labels")
    a.check_output_file(parser, "--cutout", args.cutout, {".png", ".webp"}, "a transparent image")
    a.check_output_file(parser, "--overlay", args.overlay, a.image_suffixes(), "an image")
    a.check_output_file(parser, "--coco", args.coco, {".json"}, "a JSON")
    a.check_model_arguments(parser, args)


def run(args: argparse.Namespace) -> int:
    """Segment, write the outputs, report."""
    return _segment_many(args) if _many(args) else _segment_one(args)


def _check_prompts(args: argparse.Namespace, size: tuple[int, int]) -> None:
    """Prompts against the image size: a click outside it is a bad argument, not a failure."""
    from ..inputs import as_boxes, as_points

    try:
        if args.point:
            as_points([(x, y) for x, y, _ in args.point], None, size)
    except ValueError as error:
        args.parser.error(f"argument --point: {error}")
    try:
        if args.box:
            as_boxes(args.box, size)
    except ValueError as error:
        args.parser.error(f"argument --box: {error}")


def _load_predictor(args: argparse.Namespace) -> Sam2Predictor:
    from ..image.predictor import Sam2Predictor

    with quiet_transformers(args.verbose):
        return Sam2Predictor.from_pretrained(args.model, device=args.device, dtype=args.dtype)


def _segment_one(args: argparse.Namespace) -> int:
    from ..formats.coco import CocoImage, to_coco_annotations
    from ..formats.draw import cutout, overlay
    from ..inputs import load_image

    image = load_image(args.input)  # before the model, so a wrong path fails fast
    height, width = image.shape[:2]
    _check_prompts(args, (height, width))
    predictor = _load_predictor(args)
    predictor.set_image(image)
    points = args.point or []
    boxes = args.box or []
    masks: NDArray[np.bool_]
    if points:
        result = predictor.predict(
            point_coords=[(x, y) for x, y, _ in points],
            point_labels=[label for _, _, label in points],
            box=boxes[0] if boxes else None,
        )
        masks, scores = result.masks[:1], result.scores[:1]  # best first: keep the best
        prompt_boxes = [boxes[0] if boxes else None]
    else:
        found = predictor.predict_boxes(boxes)
        masks, scores = found.masks, found.scores
        prompt_boxes = list(boxes)

    output = Path(args.output)
    if a.names_a_folder(args.output):
        output = output / f"{Path(args.input).stem}.png"
    mask_paths = numbered(output, len(masks))
    cutout_paths = numbered(args.cutout, len(masks)) if args.cutout else []
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
        save_mask_file(mask, path)
    for picture, path in zip(cutouts, cutout_paths, strict=True):
        save_image(picture, path)
    if drawn is not None:
        save_image(drawn, args.overlay)
    if args.coco:
        coco = to_coco_annotations(
            [CocoImage(Path(args.input).name, masks, scores.astype("float64"))]
        )
        save_coco_file(coco, args.coco)

    reports = []
    for index, (mask, score, path) in enumerate(zip(masks, scores, mask_paths, strict=True)):
        prompt = prompt_boxes[index]
        reports.append(
            {
                "mask": str(path),
                "score": float(score),
                **geometry(mask),
                "prompt_box": list(prompt) if prompt is not None else None,
                "cutout": str(cutout_paths[index]) if cutout_paths else None,
            }
        )
    if args.json:
        print_json(
            {
                "image": str(args.input),
                "width": width,
                "height": height,
                "model": str(args.model),
                "masks": reports,
                "overlay": str(args.overlay) if args.overlay else None,
                "coco": str(args.coco) if args.coco else None,
            }
        )
    elif not args.quiet:
        for report in reports:
            print(f"{report['mask']}: score {report['score']:.3f}, area {report['area']} px")
    return 0


def _segment_many(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..formats.coco import CocoImage, to_coco_annotations
    from ..image.batch import (
        find_images,
        read_boxes_json,
        read_yolo_labels,
        segment_jobs,
        yolo_categories,
    )

    images = find_images(str(args.input))
    if args.boxes is not None:
        jobs = read_boxes_json(args.boxes, images, warn=None if args.quiet else warn)
        categories: list[dict[str, Any]] = [{"id": 1, "name": "object"}]
    else:
        jobs = read_yolo_labels(args.yolo_labels, images)
        names = []
        if args.class_names is not None:
            lines = args.class_names.read_text().splitlines()
            names = [line.strip() for line in lines if line.strip()]
        categories = yolo_categories(jobs, names)
    predictor = _load_predictor(args)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)

    coco_parts: list[dict[str, Any]] = []
    reports: list[dict[str, Any]] = []
    with tqdm(total=len(jobs), unit="image", disable=not show_progress(args)) as progress:
        for job, found in segment_jobs(predictor, jobs, batch_size=args.batch_size):
            paths = [output / f"{job.path.stem}_{i}.png" for i in range(len(found))]
            for mask, path in zip(found.masks, paths, strict=True):
                save_mask_file(mask, path)
            image = CocoImage(
                job.path.name, found.masks, found.scores.astype("float64"), job.category_ids
            )
            if args.coco:
                coco_parts.append(to_coco_annotations([image], categories=categories))
            masks = [
                {
                    "mask": str(path),
                    "score": float(found.scores[index]),
                    **geometry(found.masks[index]),
                    "prompt_box": None if found.boxes is None else found.boxes[index].tolist(),
                    "category_id": int(job.category_ids[index]),
                }
                for index, path in enumerate(paths)
            ]
            reports.append(
                {
                    "image": str(job.path),
                    "width": image.width,
                    "height": image.height,
                    "masks": masks,
                }
            )
            progress.update(1)

    if args.coco:
        save_coco_file(merge_coco(coco_parts, categories), args.coco)
    if args.json:
        print_json(
            {
                "model": str(args.model),
                "output": str(args.output),
                "coco": str(args.coco) if args.coco else None,
                "images": reports,
            }
        )
    elif not args.quiet:
        count = sum(len(report["masks"]) for report in reports)
        coco_note = f", COCO annotations in {args.coco}" if args.coco else ""
        print(f"{count} mask(s) for {len(reports)} image(s) in {args.output}{coco_note}")
    return 0
