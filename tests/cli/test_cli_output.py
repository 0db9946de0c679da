"""The CLI's writers: atomic, with a plain ``open()``'s permissions; COCO parts merged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import file_mode, load_coco, plain_file_mode
from PIL import Image

from sam2_hf import CocoImage, to_coco_annotations
from sam2_hf.cli.output import merge_coco, numbered, save_image


@pytest.fixture
def umask():
    """Set a umask for the test and restore the old one."""
    old = os.umask(0o022)
    try:
        yield lambda mask: os.umask(mask)
    finally:
        os.umask(old)


def test_image_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "overlay.png"
    path.write_bytes(b"old")

    def broken_save(self, handle, **kwargs):
        handle.write(b"half a PNG")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_image(np.zeros((4, 4, 3), np.uint8), path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["overlay.png"]


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077, 0o002])
def test_written_files_get_the_permissions_of_a_plain_open(tmp_path, umask, mask):
    umask(mask)
    written = save_image(np.zeros((4, 6, 3), np.uint8), tmp_path / "sub" / "picture.jpg")
    assert written == tmp_path / "sub" / "picture.jpg"  # the missing folder was created
    assert file_mode(written) == plain_file_mode(tmp_path) == 0o666 & ~mask
    assert Image.open(written).size == (6, 4)


def test_numbered_paths():
    assert numbered(Path("out/m.png"), 1) == [Path("out/m.png")]
    assert numbered(Path("out/m.png"), 2) == [Path("out/m_0.png"), Path("out/m_1.png")]


def test_merged_coco_parts_number_images_and_annotations_across_the_set(tmp_path):
    mask = np.zeros((2, 4, 5), bool)
    mask[0, 1:3, 1:4] = True
    mask[1, 0, 0] = True
    parts = [
        to_coco_annotations([CocoImage("a.png", mask, np.array([0.9, 0.8]))]),
        to_coco_annotations([CocoImage("b.png", mask[:0])]),
        to_coco_annotations([CocoImage("c.png", mask[1:], np.array([0.5]))]),
    ]
    merged = merge_coco(parts, [{"id": 1, "name": "object"}])
    assert [image["id"] for image in merged["images"]] == [1, 2, 3]
    assert [(ann["id"], ann["image_id"]) for ann in merged["annotations"]] == [
        (1, 1),
        (2, 1),
        (3, 3),
    ]
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(merged))
    coco = load_coco(path)
    np.testing.assert_array_equal(coco.annToMask(coco.loadAnns(3)[0]), mask[1])
