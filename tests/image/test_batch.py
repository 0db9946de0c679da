"""Folders of images with detector boxes: reading the boxes files and segmenting in batches."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sam2_hf.image.batch import (
    find_images,
    read_boxes_json,
    read_yolo_labels,
    segment_jobs,
    yolo_categories,
)


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for name, size in (("a.png", (40, 60)), ("b.jpg", (30, 50)), ("c.png", (20, 20))):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_find_images_in_a_folder_and_a_glob(folder):
    assert [p.name for p in find_images(folder)] == ["a.png", "b.jpg", "c.png"]
    assert [p.name for p in find_images(str(folder / "*.png"))] == ["a.png", "c.png"]
    with pytest.raises(FileNotFoundError, match="no images in glob"):
        find_images(str(folder / "*.gif"))
    Image.new("RGB", (4, 4)).save(folder / "a.jpg")
    with pytest.raises(ValueError, match="share the file stem 'a'"):
        find_images(folder)


def test_boxes_json(folder):
    images = find_images(folder)
    path = folder / "boxes.json"
    path.write_text(json.dumps({"a.png": [[1, 2, 30, 20], [0, 0, 5, 5]], "zzz.png": []}))
    warnings: list[str] = []
    jobs = read_boxes_json(path, images, warn=warnings.append)
    assert [len(job.boxes) for job in jobs] == [2, 0, 0]
    np.testing.assert_array_equal(jobs[0].pixel_boxes(40, 60), [[1, 2, 30, 20], [0, 0, 5, 5]])
    assert warnings and "'zzz.png'" in warnings[0]
    path.write_text(json.dumps({"a.png": [[5, 5, 1, 1]]}))
    with pytest.raises(ValueError, match=r"'a.png' must be a list of \[x0, y0, x1, y1\]"):
        read_boxes_json(path, images)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must map image file names"):
        read_boxes_json(path, images)


def test_yolo_labels(folder):
    images = find_images(folder)
    labels = folder / "labels"
    labels.mkdir()
    (labels / "a.txt").write_text("2 0.5 0.5 0.5 0.25 0.9\n\n0 0.25 0.25 0.1 0.1\n")
    jobs = read_yolo_labels(labels, images)
    np.testing.assert_array_equal(jobs[0].category_ids, [2, 0])
    np.testing.assert_allclose(jobs[0].pixel_boxes(40, 60)[0], [15, 15, 45, 25])
    assert len(jobs[1].boxes) == 0  # no label file: no detections
    assert yolo_categories(jobs, ["cat"]) == [
        {"id": 0, "name": "cat"},
        {"id": 2, "name": "2"},
    ]
    (labels / "b.txt").write_text("1.5 0.5 0.5 0.1 0.1\n")
    with pytest.raises(ValueError, match=r"b.txt:1: expected 'class cx cy w h'"):
        read_yolo_labels(labels, images)
    with pytest.raises(FileNotFoundError, match="YOLO label folder"):
        read_yolo_labels(folder / "missing", images)


def test_segment_jobs_match_predict_boxes_and_skip_the_encoder_for_empty_images(
    predictor, folder, monkeypatch
):
    images = find_images(folder)
    path = folder / "boxes.json"
    path.write_text(json.dumps({"a.png": [[1, 2, 30, 20], [0, 0, 5, 5]], "c.png": [[2, 2, 9, 9]]}))
    jobs = read_boxes_json(path, images)
    calls: list[int] = []
    encoder = predictor.model.vision_encoder
    forward = encoder.forward
    monkeypatch.setattr(
        encoder,
        "forward",
        lambda pixels, *a, **k: calls.append(len(pixels)) or forward(pixels, *a, **k),
    )
    results = list(segment_jobs(predictor, jobs, batch_size=2))
    assert calls == [1, 1]  # b.jpg has no boxes and is never encoded
    assert [job.path.name for job, _ in results] == ["a.png", "b.jpg", "c.png"]
    assert [masks.masks.shape for _, masks in results] == [(2, 40, 60), (0, 30, 50), (1, 20, 20)]
    predictor.set_image(folder / "a.png")
    alone = predictor.predict_boxes(jobs[0].boxes)
    np.testing.assert_array_equal(results[0][1].masks, alone.masks)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        list(segment_jobs(predictor, jobs, batch_size=0))


def test_segment_jobs_read_each_image_once(predictor, folder, monkeypatch):
    images = find_images(folder)
    path = folder / "boxes.json"
    path.write_text(json.dumps({"a.png": [[1, 2, 30, 20]], "b.jpg": [[0, 0, 9, 9]]}))
    jobs = read_boxes_json(path, images)
    opened: list[str] = []
    open_image = Image.open

    def counted(file, *args, **kwargs):
        opened.append(str(file))
        return open_image(file, *args, **kwargs)

    monkeypatch.setattr(Image, "open", counted)
    results = list(segment_jobs(predictor, jobs, batch_size=3))
    assert sorted(opened) == sorted(str(job.path) for job in jobs)
    assert [len(masks) for _, masks in results] == [1, 1, 0]
