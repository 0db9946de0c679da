"""``sam2-hf batch`` in-process: the same COCO as ``run_job``, arguments checked first."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sam2_hf.cli import main


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for index in range(3):
        pixels = rng.integers(0, 255, (36, 44, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"im{index}.png")
    return folder


def test_batch_with_a_boxes_file_writes_coco_pngs_and_resumes(
    tmp_path, images, video_checkpoint, capsys
):
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"im0.png": [[-5, 2, 30, 20]], "im2.png": [[1, 1, 9, 9]] * 2}))
    args = ["batch", str(images), "--boxes", str(boxes), "-o", str(tmp_path / "out"), "--png",
            "--workers", "0", "--model", str(video_checkpoint), "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "3 images: 3 segmented, 0 already done, 0 failed; 3 masks" in out
    coco = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert [image["file_name"] for image in coco["images"]] == ["im0.png", "im1.png", "im2.png"]
    assert [a["image_id"] for a in coco["annotations"]] == [1, 3, 3]
    assert coco["annotations"][0]["prompt_box"] == [-5, 2, 30, 20]
    assert sorted(p.name for p in (tmp_path / "out" / "masks").iterdir()) == [
        "im0_0.png", "im2_0.png", "im2_1.png",
    ]  # fmt: skip
    assert main(args) == 0
    assert "0 segmented, 3 already done" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give the boxes"),
        (["--boxes", "b.json", "--detector", "x/y"], "one source of boxes"),
        (["--boxes", "missing.json"], "does not exist"),
        (["--detector", "x/y", "--box-threshold", "1.5"], "--box-threshold"),
        (["--text", "cat."], "--text: needs --detector"),
        (["--boxes-column", "boxes"], "--boxes-column: needs --dataset"),
    ],
)
def test_bad_arguments_exit_2_before_loading(tmp_path, images, extra, message, capsys):
    (tmp_path / "b.json").write_text("{}")
    with pytest.raises(SystemExit) as exit_info:
        main(["batch", str(images), "-o", str(tmp_path / "out"), *[
            str(tmp_path / e) if e.endswith(".json") else e for e in extra
        ]])  # fmt: skip
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_batch_over_a_saved_dataset_writes_the_dataset_back(tmp_path, video_checkpoint, capsys):
    import datasets

    from sam2_hf.jobs import decode_masks

    pixels = np.random.default_rng(4).integers(0, 255, (2, 32, 40, 3), dtype=np.uint8)
    table = datasets.Dataset.from_dict(
        {"image": [Image.fromarray(p) for p in pixels], "boxes": [[[2, 2, 20, 20]], []]}
    ).cast_column("image", datasets.Image())
    table.save_to_disk(tmp_path / "data")
    args = ["batch", str(tmp_path / "data"), "--dataset", "--boxes-column", "boxes",
            "-o", str(tmp_path / "out"), "--workers", "0", "--model", str(video_checkpoint),
            "--device", "cpu", "-q"]  # fmt: skip
    assert main(args) == 0
    assert capsys.readouterr().out == ""
    result = datasets.load_from_disk(tmp_path / "out" / "dataset")
    assert result.column_names[:2] == ["image", "boxes"]
    assert [decode_masks(row["sam2_masks"]).shape for row in result] == [(1, 32, 40), (0, 0, 0)]
