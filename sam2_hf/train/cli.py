"""The ``finetune`` command: ``add_arguments(parser)`` and ``run(args) -> exit status``.

Also runnable on its own, on one device or several::

    python -m sam2_hf.train.cli DATA -o out/ --model tiny
    accelerate launch --num_processes 2 -m sam2_hf.train.cli DATA -o out/
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .cache import CACHE_MODES
from .data import DataError, require_extra
from .model import IMAGE_ENCODER_MODES
from .prompts import PromptSettings
from .trainer import MIXED_PRECISIONS

DESCRIPTION = "Fine-tune SAM 2 on your own masks; the result loads wherever a model name goes."

_DATA_HELP = (
    "a COCO .json (images beside it, in its images/ folder, or --images), a folder with "
    "images/ and masks/ (masks/<stem>.png instance labels or masks/<stem>/*.png one per "
    "object), a folder saved by datasets' save_to_disk, or hf:<dataset id> from the hub"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``finetune`` command's arguments to ``parser``."""
    defaults = PromptSettings()
    parser.add_argument("data", help=f"training data: {_DATA_HELP}")
    parser.add_argument(
        "-o", "--output", required=True, help="folder for the result (written at the end)"
    )
    parser.add_argument("--model", default="tiny", help="starting checkpoint (default: tiny)")
    parser.add_argument("--val", help="validation data, any form DATA takes")
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="share of DATA held out for validation when --val is not given (default: 0.1)",
    )
    parser.add_argument("--images", help="the images folder of a COCO file")
    parser.add_argument("--image-column", default="image", help="datasets image column")
    parser.add_argument("--mask-column", default="mask", help="datasets mask column")
    parser.add_argument("--split", default="train", help="split of an hf: dataset")

    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=int, default=10, help="default: 10")
    training.add_argument(
        "--batch-size", type=int, default=4, help="images per step and process (default: 4)"
    )
    training.add_argument(
        "--lr", type=float, help="peak learning rate (default: 1e-5, 1e-4 with LoRA)"
    )
    training.add_argument("--weight-decay", type=float, default=0.01, help="default: 0.01")
    training.add_argument(
        "--grad-accum", type=int, default=1, help="batches per optimizer step (default: 1)"
    )
    training.add_argument(
        "--image-encoder",
        choices=IMAGE_ENCODER_MODES,
        default="frozen",
        help="frozen (default; embeddings cached), full, or lora adapters",
    )
    training.add_argument("--lora-rank", type=int, default=8, help="default: 8")
    training.add_argument(
        "--train-prompt-encoder", action="store_true", help="let the prompt encoder learn too"
    )
    training.add_argument(
        "--cache",
        choices=CACHE_MODES,
        default="memory",
        help="where a frozen encoder's embeddings are kept (default: memory)",
    )
    training.add_argument(
        "--objects-per-image",
        type=int,
        default=defaults.objects_per_image,
        help=f"objects drawn per image and step (default: {defaults.objects_per_image})",
    )
    training.add_argument(
        "--correction-clicks",
        type=int,
        default=defaults.correction_clicks,
        help=f"correction rounds per step (default: {defaults.correction_clicks}, as SAM 2)",
    )
    training.add_argument(
        "--box-probability",
        type=float,
        default=defaults.box_probability,
        help=f"share of images prompted with a box first (default: {defaults.box_probability})",
    )
    training.add_argument(
        "--mixed-precision",
        choices=MIXED_PRECISIONS,
        default="auto",
        help="auto: bf16 on CUDA GPUs of compute capability 8.0+, else off",
    )
    training.add_argument("--seed", type=int, default=0, help="default: 0")
    training.add_argument(
        "--checkpoint-every", type=int, help="optimizer steps between checkpoints (default: epoch)"
    )
    training.add_argument(
        "--resume", action="store_true", help="continue from the last checkpoint of this output"
    )
    training.add_argument(
        "--overwrite", action="store_true", help="replace an existing output folder"
    )
    training.add_argument("--keep-checkpoints", action="store_true", help="keep <output>.partial/")
    training.add_argument("--no-eval", action="store_true", help="skip the validation scores")
    training.add_argument("--cpu", action="store_true", help="train on the CPU")
    training.add_argument("--quiet", action="store_true", help="no progress bar")
    training.add_argument("--push-to-hub", metavar="REPO", help="upload the result to the hub")
    training.add_argument("--revision", help="hub revision of --model")


def _data(source: str | None, split_name: str) -> Any:
    if source is None or not source.startswith("hf:"):
        return source
    require_extra("datasets")
    import datasets

    return datasets.load_dataset(source[3:], split=split_name)


def run(args: argparse.Namespace) -> int:
    """Run ``finetune`` from parsed arguments; 0 on success, 2 for unusable input."""
    from .trainer import finetune

    options = {"revision": args.revision} if args.revision else {}
    try:
        prompts = PromptSettings(
            objects_per_image=args.objects_per_image,
            correction_clicks=args.correction_clicks,
            box_probability=args.box_probability,
        )
        finetune(
            _data(args.data, args.split),
            args.output,
            model=args.model,
            val_data=_data(args.val, args.split),
            val_fraction=args.val_fraction,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            weight_decay=args.weight_decay,
            gradient_accumulation_steps=args.grad_accum,
            image_encoder=args.image_encoder,
            train_prompt_encoder=args.train_prompt_encoder,
            lora_rank=args.lora_rank,
            cache=args.cache,
            prompts=prompts,
            mixed_precision=args.mixed_precision,
            seed=args.seed,
            checkpoint_every=args.checkpoint_every,
            resume=args.resume,
            overwrite=args.overwrite,
            evaluate=not args.no_eval,
            keep_checkpoints=args.keep_checkpoints,
            progress=not args.quiet,
            cpu=args.cpu,
            push_to_hub=args.push_to_hub,
            images_dir=args.images,
            image_column=args.image_column,
            mask_column=args.mask_column,
            **options,
        )
    except (DataError, FileExistsError, FileNotFoundError, TypeError, ValueError) as error:
        print(f"sam2-hf finetune: error: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sam2_hf.train.cli``: the command on its own."""
    parser = argparse.ArgumentParser(prog="sam2-hf finetune", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
