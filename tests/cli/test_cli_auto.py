"""``sam2-hf auto`` in-process on the tiny random-weight checkpoint, against the generator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import load_coco
from PIL import Image

from sam2_hf import load_mask
from sam2_hf.cli import main

# Keep every mask the random weights make, on a coarse grid.
SETTINGS = {"points_per_side": 4, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
SETTING_ARGS = ["--points-per-side", "4", "--pred-iou-thresh", "0", "--stability-score-thresh", "0"]


@pytest.fixture
def image_file(tmp_path: Path, image_hw: np.ndarray) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(image_hw).save(path)
    return path


@pytest.fixture
def records(image_file, video_checkpoint):
    from sam2_hf.image.automatic import MaskGenerator

    generator = MaskGenerator.from_pretrained(video_checkpoint, device="cpu", **SETTINGS)
    found = generator.generate(image_file)
    assert len(found) >= 1  # the tests below need masks to write
    return found


def test_auto_writes_masks_coco_and_overlay_like_the_generator(
    tmp_path, image_file, video_checkpoint, records, capsys
):
    args = ["auto", str(image_file), "-o", str(tmp_path / "masks"), "--coco",
            str(tmp_path / "coco.json"), "--overlay", str(tmp_path / "overlay.png"), "--json",
            *SETTING_ARGS, "--model", str(video_checkpoint), "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)

    assert len(report["masks"]) == len(records)
    assert report["settings"] == {**report["settings"], **SETTINGS}
    coco = load_coco(tmp_path / "coco.json")
    annotations = coco.loadAnns(coco.getAnnIds())
    for index, (entry, record) in enumerate(zip(report["masks"], records, strict=True)):
        assert entry["mask"] == str(tmp_path / "masks" / f"photo_{index}.png")
        np.testing.assert_array_equal(load_mask(entry["mask"]), record["segmentation"])
        np.testing.assert_array_equal(coco.annToMask(annotations[index]), record["segmentation"])
        assert entry["score"] == pytest.approx(record["predicted_iou"], abs=1e-6)
        assert entry["area"] == record["area"]
    assert Image.open(tmp_path / "overlay.png").size == (64, 48)


@pytest.mark.parametrize("only", ["--json", "--coco", "--overlay"])
def test_one_output_alone_works_when_masks_are_found(
    tmp_path, image_file, video_checkpoint, records, only, capsys, monkeypatch
):
    # The example in `auto --help`; it crashed with "zip() argument 2 is shorter" without -o.
    monkeypatch.chdir(tmp_path)
    target = {"--json": [], "--coco": ["coco.json"], "--overlay": ["overlay.png"]}[only]
    argv = ["auto", str(image_file), only, *target, *SETTING_ARGS, "--model",
            str(video_checkpoint), "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    if only == "--json":
        report = json.loads(out)
        assert [entry["mask"] for entry in report["masks"]] == [None] * len(records)
        assert [entry["area"] for entry in report["masks"]] == [r["area"] for r in records]
    else:
        assert out == f"{len(records)} mask(s) for {image_file}\n"
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(["photo.png", *target])
    if only == "--coco":
        assert len(load_coco(tmp_path / "coco.json").getAnnIds()) == len(records)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "nothing to write"),
        (["--json", "--points-per-side", "0"], "argument --points-per-side: expected a whole"),
        (["--json", "--pred-iou-thresh", "1.5"], "argument --pred-iou-thresh: expected a number"),
        (["--overlay", "o.xyz"], "argument --overlay: expected an image file"),
        (["--coco", "."], "argument --coco: '.' is a folder"),
        (["-o", "photo.png"], "argument -o/--output: 'photo.png' is a file; expected a folder"),
    ],
)
def test_bad_auto_arguments_exit_2(args, expected, image_file, capsys, monkeypatch):
    monkeypatch.chdir(image_file.parent)
    with pytest.raises(SystemExit) as exit_info:
        main(["auto", "photo.png", *args])
    assert exit_info.value.code == 2
    assert expected in capsys.readouterr().err


def test_a_video_is_not_an_image(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["auto", "clip.mov", "--json"])
    assert exit_info.value.code == 2
    assert "IMAGE 'clip.mov' is a video" in capsys.readouterr().err
