"""The CLI on EdgeTAM and SAM 3 tracker checkpoints, named by short name through the hub cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sam2_hf.cli import main


@pytest.fixture
def cache(families_hub_cache, monkeypatch):
    """Point huggingface_hub at the fake cache holding one checkpoint of each family."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(families_hub_cache))
    return families_hub_cache


@pytest.mark.parametrize("name", ["edgetam", "sam3"])
def test_segment_auto_and_track_by_short_name(tmp_path, image_hw, cache, name, capsys):
    image = tmp_path / "photo.png"
    Image.fromarray(image_hw).save(image)
    model = ["--model", name, "--device", "cpu"]
    out = tmp_path / "mask.png"
    assert (
        main(["segment", str(image), "--box", "5,6,50,40", "-o", str(out), "--json", *model]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert (report["width"], report["height"]) == (64, 48) and len(report["masks"]) == 1

    settings = ["--points-per-side", "4", "--pred-iou-thresh", "0", "--stability-score-thresh", "0"]
    assert main(["auto", str(image), "--json", *settings, *model]) == 0
    assert json.loads(capsys.readouterr().out)["masks"]  # thresholds at 0 keep masks

    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(3):
        Image.fromarray(np.roll(image_hw, 2 * index, axis=1)).save(frames / f"{index:03d}.png")
    out = tmp_path / "labels"
    assert main(["track", str(frames), "--box", "8,6,34,26", "-o", str(out), "--json", *model]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [frame["frame"] for frame in report["frames"]] == [0, 1, 2]
