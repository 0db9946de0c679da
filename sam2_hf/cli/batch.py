"""``sam2-hf batch``: a whole folder or 🤗 dataset -> one COCO file, resumable, on accelerate."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .arguments import add_model_arguments, check_model_arguments, fraction, positive_int
from .arguments import non_negative_int as workers_count
from .output import quiet_transformers

EXAMPLES = """\
examples:
  sam2-hf batch images/ --boxes boxes.json -o out/
  sam2-hf batch images/ --detector facebook/detr-resnet-50 -o out/ --png
  sam2-hf batch images/ --detector IDEA-Research/grounding-dino-tiny --text "cat. dog." -o out/
  sam2-hf batch my/dataset --dataset --split train --boxes-column boxes -o out/
  accelerate launch --multi_gpu --num_processes 4 -m sam2_hf.cli batch images/ ... -o out/
  torchrun --nproc_per_node 2 -m sam2_hf.cli batch images/ ... -o out/ --device cpu

Writes out/annotations.json (COCO, RLE masks, categories and scores from the boxes or the
detector), out/report.json (images that failed and why) and, with --png, one PNG per mask.
Each finished image is committed at once: re-running the same command resumes.
"""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``batch`` to the subcommands."""
    parser = commands.add_parser(
        "batch",
        parents=[common],
        help="segment a folder or dataset into one COCO file (resumable, multi-process)",
        description="Box prompts (from a boxes file or a hub detector) -> SAM 2 masks for every\n"
        "image of a folder or a Hugging Face dataset, merged into one COCO file.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", help="a folder or glob of images, or a dataset with --dataset")
    parser.add_argument("-o", "--output", required=True, type=Path, help="the output folder")
    boxes = parser.add_argument_group("boxes (one source)")
    boxes.add_argument("--boxes", type=Path, help='JSON {"image.jpg": [[x0, y0, x1, y1], ...]}')
    boxes.add_argument("--yolo-labels", type=Path, help="folder of YOLO <stem>.txt labels")
    boxes.add_argument("--class-names", type=Path, help="YOLO class names, one per line")
    boxes.add_argument("--coco-detections", type=Path, help="COCO file with bbox annotations")
    boxes.add_argument("--detector", help="a detector's hub id or folder (DETR, Grounding DINO...)")
    boxes.add_argument("--text", help='what a zero-shot detector looks for: "cat. dog."')
    boxes.add_argument(
        "--box-threshold", type=fraction, default=0.3, help="detector score threshold (0.3)"
    )
    data = parser.add_argument_group("datasets")
    data.add_argument(
        "--dataset",
        action="store_true",
        help="SOURCE is a 🤗 dataset: a save_to_disk folder or a hub dataset id",
    )
    data.add_argument("--split", default="train", help="the dataset split (train)")
    data.add_argument("--image-column", default="image", help="the column of images (image)")
    data.add_argument("--boxes-column", help="a column of per-row [x0, y0, x1, y1] box lists")
    run_group = parser.add_argument_group("run")
    run_group.add_argument(
        "--batch-size", type=positive_int, default=4, help="images per encoder forward (4)"
    )
    run_group.add_argument(
        "--workers", type=workers_count, default=2, help="image-decoding processes (2)"
    )
    run_group.add_argument("--png", action="store_true", help="also write one PNG per mask")
    add_model_arguments(parser)
    parser.set_defaults(run=run, check=check, parser=parser)


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """One source of boxes; text only with a detector; inputs that exist."""
    if args.text is not None and args.detector is None:
        parser.error("argument --text: needs --detector (a zero-shot detector)")
    if args.class_names is not None and args.yolo_labels is None:
        parser.error("argument --class-names: needs --yolo-labels")
    given = [
        option
        for option, value in (
            ("--boxes", args.boxes),
            ("--yolo-labels", args.yolo_labels),
            ("--coco-detections", args.coco_detections),
            ("--detector", args.detector),
            ("--boxes-column", args.boxes_column),
        )
        if value is not None
    ]
    if len(given) > 1:
        parser.error(f"give one source of boxes, got {' and '.join(given)}")
    if not given:
        parser.error(
            "give the boxes: --boxes, --yolo-labels, --coco-detections, --boxes-column "
            "(with --dataset) or --detector"
        )
    if args.dataset and (args.boxes or args.yolo_labels or args.coco_detections):
        parser.error("with --dataset the boxes come from --boxes-column or --detector")
    if not args.dataset and args.boxes_column is not None:
        parser.error("argument --boxes-column: needs --dataset")
    for option, path in (
        ("--boxes", args.boxes),
        ("--coco-detections", args.coco_detections),
        ("--class-names", args.class_names),
    ):
        if path is not None and not path.is_file():
            parser.error(f"argument {option}: file {str(path)!r} does not exist")
    if args.yolo_labels is not None and not args.yolo_labels.is_dir():
        parser.error(f"argument --yolo-labels: folder {str(args.yolo_labels)!r} does not exist")
    if args.output.exists() and not args.output.is_dir():
        parser.error(f"argument -o/--output: {str(args.output)!r} is a file; expected a folder")
    check_model_arguments(parser, args)


def run(args: argparse.Namespace) -> int:
    """Segment every image; the main process prints the summary."""
    import torch
    from accelerate import PartialState

    from ..image.predictor import Sam2Predictor
    from ..jobs import Detector, dataset_source, folder_source, results_dataset, run_job

    on_cpu = args.device == "cpu" or (args.device == "auto" and not torch.cuda.is_available())
    state = PartialState(cpu=on_cpu)
    device = str(state.device) if args.device == "auto" else args.device
    source = _source(args, dataset_source, folder_source)
    with quiet_transformers(args.verbose):
        predictor = Sam2Predictor.from_pretrained(args.model, device=device, dtype=args.dtype)
        detector = None
        if args.detector is not None:
            detector = Detector.from_pretrained(
                args.detector, text=args.text, box_threshold=args.box_threshold, device=device
            )
    summary = run_job(
        source,
        args.output,
        predictor=predictor,
        detector=detector,
        batch_size=args.batch_size,
        num_workers=args.workers,
        mask_pngs=args.png,
        progress=False if args.quiet else None,
    )
    if state.is_main_process:
        if args.dataset:
            results_dataset(source, args.output).save_to_disk(os.fspath(args.output / "dataset"))
        if not args.quiet:
            print(summary)
            print(f"wrote {args.output / 'annotations.json'}")
    return 1 if summary.failed else 0


def _source(args: argparse.Namespace, dataset_source: Any, folder_source: Any) -> Any:
    if not args.dataset:
        names = args.class_names.read_text().splitlines() if args.class_names else ()
        return folder_source(
            args.source,
            boxes_json=args.boxes,
            yolo_labels=args.yolo_labels,
            class_names=[name.strip() for name in names if name.strip()],
            coco_detections=args.coco_detections,
        )
    import datasets

    if Path(args.source).is_dir():
        table = datasets.load_from_disk(args.source)
    else:
        table = datasets.load_dataset(args.source, split=args.split)
    if isinstance(table, datasets.DatasetDict):
        if args.split not in table:
            raise ValueError(f"the dataset has no split {args.split!r}; it has {list(table)}")
        table = table[args.split]
    return dataset_source(table, image_column=args.image_column, boxes_column=args.boxes_column)
