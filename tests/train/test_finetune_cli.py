"""The ``finetune`` command: arguments, exit status for bad data, options reaching the run."""

from __future__ import annotations

import argparse
import importlib.util
import json

import pytest
from finetune_shapes import make_shapes, write_mask_folder
from PIL import Image

from sam2_hf.train.cli import add_arguments, main
from sam2_hf.train.data import require_extra


def test_arguments_fit_a_subcommand() -> None:
    parser = argparse.ArgumentParser(prog="sam2-hf")
    commands = parser.add_subparsers(dest="command")
    add_arguments(commands.add_parser("finetune"))
    args = parser.parse_args(["finetune", "data/", "-o", "out/", "--image-encoder", "lora"])
    assert (args.data, args.output, args.image_encoder) == ("data/", "out/", "lora")
    assert args.correction_clicks == 7 and args.epochs == 10 and args.lr is None


def test_bad_data_exits_2_naming_the_file(tmp_path, capsys) -> None:
    root = write_mask_folder(tmp_path / "data", make_shapes(3, seed=2), layout="labels")
    Image.new("L", (10, 10), 1).save(root / "masks" / "img_001.png")
    assert main([str(root), "-o", str(tmp_path / "out"), "--cpu", "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("sam2-hf finetune: error: mask ")
    assert "img_001.png" in error and "10x10" in error
    assert not (tmp_path / "out").exists()


def test_bf16_and_gradient_accumulation(tmp_path, image_checkpoint, capsys) -> None:
    root = write_mask_folder(tmp_path / "data", make_shapes(8, seed=2), layout="objects")
    status = main(
        [str(root), "-o", str(tmp_path / "out"), "--model", str(image_checkpoint), "--cpu"]
        + ["--mixed-precision", "bf16", "--grad-accum", "2", "--batch-size", "2", "--epochs", "1"]
        + ["--correction-clicks", "1", "--val-fraction", "0.25", "--lr", "1e-3", "--quiet"]
    )
    assert status == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["steps"] == 2  # 6 training images, 2 per batch, 2 batches per step
    assert metrics["after"]["objects"] > 0
    config = json.loads((tmp_path / "out" / "finetune_config.json").read_text())
    assert config["mixed_precision"] == "bf16" and config["gradient_accumulation_steps"] == 2
    assert "Validation mean IoU" in capsys.readouterr().out


def test_missing_extra_says_how_to_install(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n: None if n == "peft" else real(n))
    with pytest.raises(ImportError, match=r"needs peft; .*pip install 'sam2-hf\[train\]'"):
        require_extra("accelerate", "peft")
