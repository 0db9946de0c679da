"""``sam2-hf auto``: masks for every object in an image (automatic mask generation)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import arguments as a
from .output import (
    geometry,
    print_json,
    quiet_transformers,
    save_coco_file,
    save_image,
    save_mask_file,
    show_progress,
)

EXAMPLES = """\
examples:
  # every object in a photo: masks/photo_0.png, ... (best first), a COCO file, an overlay
  sam2-hf auto photo.jpg -o masks/ --coco masks.json --overlay overlay.png

  # a denser grid, and only confident, stable masks, as a JSON report
  sam2-hf auto photo.jpg --points-per-side 64 --pred-iou-thresh 0.9 --json

The settings are the original SAM2AutomaticMaskGenerator's, with its defaults.
"""

# (MaskGenerator keyword, type, default, help); each is the option --points-per-side etc.
SETTINGS = (
    ("points_per_side", a.positive_int, 32, "grid clicks along each side"),
    ("points_per_batch", a.positive_int, 64, "clicks decoded per model call"),
    ("pred_iou_thresh", a.fraction, 0.8, "keep masks with predicted IoU above this"),
    ("stability_score_thresh", a.fraction, 0.95, "keep masks at least this stable"),
    ("box_nms_thresh", a.fraction, 0.7, "box IoU above which duplicates are dropped"),
    ("crop_n_layers", a.non_negative_int, 0, "also run on 4, 16, ... crops"),
    ("min_mask_region_area", a.non_negative_int, 0, "remove holes/islands below N px"),
)


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``auto`` to the subcommands."""
    parser = commands.add_parser(
        "auto",
        parents=[common],
        help="masks for every object in an image, from a grid of clicks",
        description="Masks for every object in an image (automatic mask generation): a grid of\n"
        "clicks, weak and unstable masks dropped, duplicates removed.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="IMAGE", help="an image file")
    parser.add_argument(
        "-o", "--output", type=Path, metavar="DIR", help="write IMAGE-STEM_0.png, ... there"
    )
    parser.add_argument("--coco", type=Path, metavar="JSON", help="a COCO annotations file")
    parser.add_argument("--overlay", type=Path, metavar="IMAGE", help="masks drawn on the image")
    parser.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    settings = parser.add_argument_group("generator settings (the original's defaults)")
    for name, kind, default, text in SETTINGS:
        option = "--" + name.replace("_", "-")
        settings.add_argument(
            option, type=kind, default=default, help=f"{text} (default {default})"
        )
    a.add_model_arguments(parser)
    parser.set_defaults(run=run, check=check, parser=parser)


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Something to write, and writable outputs, before the model loads."""
    if not (args.output or args.coco or args.overlay or args.json):
        parser.error("nothing to write: give -o DIR, --coco JSON, --overlay IMAGE and/or --json")
    if Path(args.input).suffix.lower() in a.VIDEO_SUFFIXES:
        parser.error(f"IMAGE {args.input!r} is a video: 'sam2-hf auto' takes one image")
    a.check_output_folder(parser, "-o/--output", args.output)
    a.check_output_file(parser, "--overlay", args.overlay, a.image_suffixes(), "an image")
    a.check_output_file(parser, "--coco", args.coco, {".json"}, "a JSON")
    a.check_model_arguments(parser, args)


def run(args: argparse.Namespace) -> int:
    """Generate the masks, write the outputs, report."""
    import numpy as np

    from ..formats.coco import CocoImage, to_coco_annotations
    from ..formats.draw import overlay
    from ..image.automatic import MaskGenerator
    from ..inputs import load_image

    image = load_image(args.input)  # before the model, so a wrong path fails fast
    settings: dict[str, Any] = {name: getattr(args, name) for name, *_ in SETTINGS}
    with quiet_transformers(args.verbose):
        generator = MaskGenerator.from_pretrained(
            args.model, device=args.device, dtype=args.dtype, **settings
        )
    # One image in, one list of records (best first) out.
    records = generator.generate(image, progress=show_progress(args))
    height, width = image.shape[:2]
    masks = np.array([r["segmentation"] for r in records], dtype=np.bool_).reshape(
        -1, height, width
    )
    scores = np.array([r["predicted_iou"] for r in records], dtype=np.float64)

    stem = Path(args.input).stem
    paths = [args.output / f"{stem}_{i}.png" for i in range(len(masks))] if args.output else []
    drawn = overlay(image, masks) if args.overlay else None  # before writing anything
    if args.output:
        args.output.mkdir(parents=True, exist_ok=True)  # asked for, even with no mask found
        for mask, path in zip(masks, paths, strict=True):
            save_mask_file(mask, path)
    if drawn is not None:
        save_image(drawn, args.overlay)
    if args.coco:
        coco = to_coco_annotations([CocoImage(Path(args.input).name, masks, scores)])
        save_coco_file(coco, args.coco)

    if args.json:
        reports = [
            {
                "mask": str(paths[index]) if paths else None,
                "score": float(record["predicted_iou"]),
                "stability_score": float(record["stability_score"]),
                "point": [float(v) for v in record["point_coords"][0]],
                **geometry(masks[index]),
            }
            for index, record in enumerate(records)
        ]
        print_json(
            {
                "image": str(args.input),
                "width": width,
                "height": height,
                "model": str(args.model),
                "settings": settings,
                "masks": reports,
                "coco": str(args.coco) if args.coco else None,
                "overlay": str(args.overlay) if args.overlay else None,
            }
        )
    elif not args.quiet:
        where = f" in {args.output}" if args.output else ""
        print(f"{len(masks)} mask(s) for {args.input}{where}")
    return 0
