"""Dataset jobs: sources, hub detectors, the resumable multi-process runner, datasets out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sam2_hf import load_image
from sam2_hf.jobs import (
    Detector,
    JobLockedError,
    dataset_source,
    decode_masks,
    folder_source,
    results_dataset,
    run_job,
    segment_text,
)


def make_images(folder: Path, count: int, size: tuple[int, int] = (40, 56)) -> list[Path]:
    """``count`` small PNGs with a bright rectangle each, named img_00.png ..."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    paths = []
    for index in range(count):
        image = rng.integers(0, 60, size=(*size, 3), dtype=np.uint8)
        image[5 + index : 25, 10 : 30 + index] = (200, 90 + 10 * index, 40)
        path = folder / f"img_{index:02d}.png"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


# ---------------------------------------------------------------- sources


def write_boxes(folder: Path, table: dict[str, list[list[float]]]) -> Path:
    path = folder / "boxes.json"
    path.write_text(json.dumps(table))
    return path


def test_folder_source_reads_boxes_yolo_and_coco_detections(tmp_path):
    make_images(tmp_path / "images", 3)
    boxes = write_boxes(tmp_path, {"img_00.png": [[1, 2, 20, 30]], "img_02.png": []})
    source = folder_source(tmp_path / "images", boxes_json=boxes)
    assert [item.key for item in source.items] == ["img_00.png", "img_01.png", "img_02.png"]
    np.testing.assert_array_equal(source.items[0].pixel_boxes(40, 56), [[1, 2, 20, 30]])
    assert source.items[1].pixel_boxes(40, 56).shape == (0, 4)

    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "img_01.txt").write_text("1 0.5 0.5 0.5 0.25\n")
    yolo = folder_source(tmp_path / "images", yolo_labels=labels, class_names=["a", "b"])
    np.testing.assert_allclose(yolo.items[1].pixel_boxes(40, 56), [[14, 15, 42, 25]])
    assert yolo.categories == [{"id": 0, "name": "a"}, {"id": 1, "name": "b"}]

    coco = {
        "images": [{"id": 7, "file_name": "sub/img_02.png"}],
        "annotations": [{"image_id": 7, "bbox": [3, 4, 10, 5], "category_id": 2}],
        "categories": [{"id": 2, "name": "thing"}],
    }
    (tmp_path / "det.json").write_text(json.dumps(coco))
    detections = folder_source(tmp_path / "images", coco_detections=tmp_path / "det.json")
    np.testing.assert_array_equal(detections.items[2].boxes, [[3, 4, 13, 9]])
    np.testing.assert_array_equal(detections.items[2].category_ids, [2])
    assert detections.items[0].boxes.shape == (0, 4)
    assert detections.categories == [{"id": 2, "name": "thing"}]


def test_folder_source_errors_name_the_file_and_entry(tmp_path):
    make_images(tmp_path / "images", 1)
    with pytest.raises(ValueError, match="at most one source of boxes"):
        folder_source(tmp_path / "images", boxes_json="a.json", yolo_labels="labels")
    bad = {"images": [{"id": 1, "file_name": "img_00.png"}], "annotations": [{"image_id": 1}]}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"bad.json: annotations\[0\] needs"):
        folder_source(tmp_path / "images", coco_detections=tmp_path / "bad.json")


def test_dataset_source_validates_columns_and_boxes():
    import datasets

    images = [np.zeros((8, 8, 3), np.uint8)] * 2
    table = datasets.Dataset.from_dict({"image": images, "boxes": [[[0, 0, 4, 4]], []]})
    source = dataset_source(table, boxes_column="boxes")
    assert [item.key for item in source.items] == ["row-0", "row-1"]
    assert source.load(source.items[0]).shape == (8, 8, 3)
    with pytest.raises(ValueError, match="'pixels' is not a column"):
        dataset_source(table, image_column="pixels")
    with pytest.raises(TypeError, match="pick a split"):
        dataset_source(datasets.DatasetDict({"train": table}))
    flipped = datasets.Dataset.from_dict({"image": images[:1], "boxes": [[[5, 0, 4, 4]]]})
    with pytest.raises(ValueError, match="row 0: 'boxes' boxes must be finite"):
        dataset_source(flipped, boxes_column="boxes")


# ---------------------------------------------------------------- runner


class CountingPredictor:
    """The predictor, counting ``predict_batch`` calls and images; can stop after N calls."""

    def __init__(self, predictor, stop_after: int | None = None) -> None:
        self.predictor, self.stop_after = predictor, stop_after
        self.calls = self.images = 0

    def predict_batch(self, images, boxes):
        if self.stop_after is not None and self.calls >= self.stop_after:
            raise KeyboardInterrupt  # as Ctrl-C between two batches
        self.calls += 1
        self.images += len(images)
        return self.predictor.predict_batch(images, boxes)


def box_table(count: int) -> dict[str, list[list[float]]]:
    return {f"img_{i:02d}.png": [[8, 3, 33, 27], [0, 0, 20 + i, 15]] for i in range(count)}


def test_run_job_writes_coco_equal_to_direct_calls(tmp_path, predictor):
    from pycocotools.coco import COCO

    paths = make_images(tmp_path / "images", 3)
    source = folder_source(tmp_path / "images", boxes_json=write_boxes(tmp_path, box_table(3)))
    summary = run_job(source, tmp_path / "out", predictor=predictor, batch_size=2, mask_pngs=True)
    assert (summary.images, summary.segmented, summary.skipped, summary.failed) == (3, 3, 0, 0)
    assert summary.masks == 6
    coco = COCO(str(tmp_path / "out" / "annotations.json"))
    assert [coco.imgs[i]["file_name"] for i in sorted(coco.imgs)] == [p.name for p in paths]
    direct = predictor.predict_batch(paths, [np.array(b) for b in box_table(3).values()])
    for image_id, expected in zip(sorted(coco.imgs), direct, strict=True):
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        assert [a["prompt_box"] for a in annotations] == [
            [8, 3, 33, 27],
            [0, 0, 20 + image_id - 1, 15],
        ]
        for annotation, mask, score in zip(
            annotations, expected.masks, expected.scores, strict=True
        ):
            np.testing.assert_array_equal(coco.annToMask(annotation).astype(bool), mask)
            assert annotation["score"] == pytest.approx(float(score))
    assert sorted(p.name for p in (tmp_path / "out" / "masks").iterdir())[:2] == [
        "img_00_0.png",
        "img_00_1.png",
    ]
    assert not (tmp_path / "out" / ".sam2-hf.lock").exists()


def test_killed_run_resumes_without_redoing_images(tmp_path, predictor):
    make_images(tmp_path / "images", 5)
    source = folder_source(tmp_path / "images", boxes_json=write_boxes(tmp_path, box_table(5)))
    whole = tmp_path / "whole"
    run_job(source, whole, predictor=predictor, batch_size=2)

    first = CountingPredictor(predictor, stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        run_job(source, tmp_path / "out", predictor=first, batch_size=2)
    assert first.images == 4
    assert not (tmp_path / "out" / "annotations.json").exists()
    assert not list((tmp_path / "out" / "parts").glob(".*.tmp"))  # nothing half-written
    second = CountingPredictor(predictor)
    summary = run_job(source, tmp_path / "out", predictor=second, batch_size=2)
    assert second.images == 1 and (summary.segmented, summary.skipped) == (1, 4)
    resumed = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert resumed == json.loads((whole / "annotations.json").read_text())


def test_unreadable_image_is_reported_and_retried(tmp_path, predictor):
    make_images(tmp_path / "images", 2)
    broken = tmp_path / "images" / "img_01.png"
    good = broken.read_bytes()
    broken.write_bytes(b"not a png")
    source = folder_source(tmp_path / "images", boxes_json=write_boxes(tmp_path, box_table(2)))
    summary = run_job(source, tmp_path / "out", predictor=predictor)
    assert (summary.segmented, summary.failed) == (1, 1)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["failed"][0]["image"] == "img_01.png"
    assert "cannot be read as an image" in report["failed"][0]["reason"]
    broken.write_bytes(good)
    again = run_job(source, tmp_path / "out", predictor=predictor)
    assert (again.segmented, again.skipped, again.failed) == (1, 1, 0)


def test_a_second_run_on_the_same_folder_is_refused(tmp_path, predictor):
    make_images(tmp_path / "images", 1)
    source = folder_source(tmp_path / "images", boxes_json=write_boxes(tmp_path, box_table(1)))
    out = tmp_path / "out"
    out.mkdir()
    lock = out / ".sam2-hf.lock"
    import socket

    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": 0}))
    with pytest.raises(JobLockedError, match="another run .* is writing to"):
        run_job(source, out, predictor=predictor)
    # A lock whose process is gone is taken over.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    lock.write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    assert run_job(source, out, predictor=predictor).segmented == 1


def test_source_without_boxes_needs_a_detector(tmp_path, predictor):
    make_images(tmp_path / "images", 1)
    with pytest.raises(ValueError, match="pass a detector"):
        run_job(folder_source(tmp_path / "images"), tmp_path / "out", predictor=predictor)


def test_dataset_in_and_out_round_trips_the_masks(tmp_path, predictor):
    import datasets

    paths = make_images(tmp_path / "images", 3)
    boxes = [[[8, 3, 33, 27]], [], [[0, 0, 20, 15], [5, 5, 40, 30]]]
    table = datasets.Dataset.from_dict({"image": [str(p) for p in paths], "boxes": boxes})
    table = table.cast_column("image", datasets.Image())
    source = dataset_source(table, boxes_column="boxes")
    run_job(source, tmp_path / "out", predictor=predictor, num_workers=1)
    result = results_dataset(source, tmp_path / "out")
    assert result.column_names == ["image", "boxes", "sam2_masks", "sam2_scores", "sam2_boxes",
                                   "sam2_category_ids"]  # fmt: skip
    result.save_to_disk(tmp_path / "saved")
    reloaded = datasets.load_from_disk(tmp_path / "saved")
    direct = predictor.predict_batch(paths, [np.array(b).reshape(-1, 4) for b in boxes])
    for row, expected in zip(reloaded, direct, strict=True):
        masks = decode_masks(row["sam2_masks"])
        assert len(masks) == len(expected)
        if len(expected):
            np.testing.assert_array_equal(masks, expected.masks)


# ---------------------------------------------------------------- detectors


def test_closed_set_detector_boxes_labels_and_thresholds(detr_checkpoint):
    from transformers import DetrForObjectDetection, DetrImageProcessor

    image = np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    detector = Detector.from_pretrained(detr_checkpoint, box_threshold=0.0, device="cpu")
    assert not detector.zero_shot
    assert detector.categories == [{"id": 0, "name": "cat"}, {"id": 1, "name": "dog"}]
    (found,) = detector.detect([image])
    # The raw transformers call on the same model gives the same boxes, in score order.
    model = DetrForObjectDetection.from_pretrained(detr_checkpoint).eval()
    processor = DetrImageProcessor.from_pretrained(detr_checkpoint)
    with torch.no_grad():
        outputs = model(**processor(images=[image], return_tensors="pt"))
    (raw,) = processor.post_process_object_detection(outputs, 0.0, target_sizes=[(40, 56)])
    order = torch.argsort(raw["scores"], descending=True, stable=True)
    np.testing.assert_allclose(found.boxes, raw["boxes"][order].numpy(), atol=1e-5)
    assert found.labels == [["cat", "dog"][int(i)] for i in raw["labels"][order]]
    np.testing.assert_array_equal(found.category_ids, raw["labels"][order].numpy())
    assert np.all(np.diff(found.scores) <= 0)
    high = Detector.from_pretrained(detr_checkpoint, box_threshold=float(found.scores[1]))
    assert len(high.detect([image])[0]) < len(found)
    with pytest.raises(ValueError, match="takes no text"):
        Detector.from_pretrained(detr_checkpoint, text="cat.")


def test_zero_shot_detector_labels_are_the_query_phrases(owlv2_checkpoint):
    image = np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    detector = Detector.from_pretrained(owlv2_checkpoint, text="a cat. a dog.", box_threshold=0)
    assert detector.zero_shot
    assert detector.categories == [{"id": 1, "name": "a cat"}, {"id": 2, "name": "a dog"}]
    (found,) = detector.detect([image])
    assert len(found) > 0
    assert set(found.labels) <= {"a cat", "a dog"}
    expected_ids = [1 if label == "a cat" else 2 for label in found.labels]
    np.testing.assert_array_equal(found.category_ids, expected_ids)
    # OWLv2 pads to a square: boxes reaching into the padding are clipped to the image.
    assert np.all((found.boxes[:, 0::2] >= 0) & (found.boxes[:, 0::2] <= 56))
    assert np.all((found.boxes[:, 1::2] >= 0) & (found.boxes[:, 1::2] <= 40))
    assert np.all(found.boxes[:, 2:] > found.boxes[:, :2])
    with pytest.raises(ValueError, match="pass text="):
        Detector.from_pretrained(owlv2_checkpoint)
    with pytest.raises(ValueError, match="at least one thing"):
        Detector.from_pretrained(owlv2_checkpoint, text=" . ")


def test_detector_boxes_prompt_the_job_and_label_the_coco(tmp_path, predictor, detr_checkpoint):
    make_images(tmp_path / "images", 2)
    detector = Detector.from_pretrained(detr_checkpoint, box_threshold=0.0)
    summary = run_job(
        folder_source(tmp_path / "images"), tmp_path / "out", predictor=predictor,
        detector=detector,
    )  # fmt: skip
    coco = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert coco["categories"] == detector.categories
    assert summary.masks == len(coco["annotations"]) > 0
    first = [a for a in coco["annotations"] if a["image_id"] == 1]
    (found,) = detector.detect([load_image(tmp_path / "images" / "img_00.png")])
    assert [a["label"] for a in first] == found.labels
    assert [a["category_id"] for a in first] == found.category_ids.tolist()
    np.testing.assert_allclose([a["prompt_box"] for a in first], found.boxes, atol=1e-4)
    np.testing.assert_allclose([a["detector_score"] for a in first], found.scores, atol=1e-6)


def test_segment_text_returns_labeled_masks(owlv2_checkpoint, predictor):
    image = np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    detector = Detector.from_pretrained(owlv2_checkpoint, text="a cat.", box_threshold=0.0)
    found = segment_text(image, "a cat.", detector=detector, model=predictor)
    assert len(found) == len(found.labels) == len(found.scores) > 0
    assert found.masks.shape == (len(found), 40, 56) and found.masks.dtype == bool
    predictor.set_image(image)
    np.testing.assert_array_equal(found.masks, predictor.predict_boxes(found.boxes).masks)
    with pytest.raises(ValueError, match="built for"):
        segment_text(image, "a dog.", detector=detector, model=predictor)


# ---------------------------------------------------------------- processes


def test_two_processes_give_the_one_process_coco(tmp_path, video_checkpoint):
    make_images(tmp_path / "images", 5)
    boxes = write_boxes(tmp_path, box_table(5))
    script = tmp_path / "job.py"
    script.write_text(
        "import sys, torch\n"
        "torch.set_num_threads(1)\n"
        "from sam2_hf import Sam2Predictor\n"
        "from sam2_hf.jobs import folder_source, run_job\n"
        "images, boxes, model, out = sys.argv[1:]\n"
        "predictor = Sam2Predictor.from_pretrained(model, device='cpu')\n"
        "print(run_job(folder_source(images, boxes_json=boxes), out, predictor=predictor,"
        " batch_size=2))\n"
    )
    common = [str(tmp_path / "images"), str(boxes), str(video_checkpoint)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(script), *common, str(tmp_path / "one")],
                   check=True, env=env, capture_output=True, timeout=300)  # fmt: skip
    launched = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
         "2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
         "--main_process_port", "0", str(script), *common, str(tmp_path / "two")],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert launched.stdout.count("5 images: ") == 2  # every process gets the totals
    one = json.loads((tmp_path / "one" / "annotations.json").read_text())
    two = json.loads((tmp_path / "two" / "annotations.json").read_text())
    assert two == one
