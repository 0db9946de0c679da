"""``sam2-hf segment`` in-process on the tiny random-weight checkpoint, against the API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import file_mode, load_coco, plain_file_mode
from PIL import Image

from sam2_hf import Sam2Predictor, load_mask
from sam2_hf.cli import main


@pytest.fixture
def image_file(tmp_path: Path, image_hw: np.ndarray) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(image_hw).save(path)
    return path


@pytest.fixture
def model_args(video_checkpoint: Path) -> list[str]:
    return ["--model", str(video_checkpoint), "--device", "cpu"]


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if a command gets as far as loading a model."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the arguments were checked")

    monkeypatch.setattr(Sam2Predictor, "from_pretrained", refuse)


def usage_error(argv: list[str], capsys) -> str:
    """Run ``main(argv)``, expect exit code 2, return stderr's last line."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.strip().splitlines()[-1]


def test_boxes_write_masks_cutouts_overlay_coco_and_json_like_the_api(
    tmp_path, image_file, model_args, predictor, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    boxes = [(5, 6, 50, 40), (30, 10, 60, 45)]
    argv = ["segment", str(image_file), "--box", "5,6,50,40", "--box", "30,10,60,45",
            "-o", "out/mask.png", "--cutout", "out/cut.png", "--overlay", "out/overlay.jpg",
            "--coco", "out/coco.json", "--json", *model_args]  # fmt: skip
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)

    predictor.set_image(image_file)
    expected = predictor.predict_boxes(boxes)
    assert (report["width"], report["height"]) == (64, 48)
    assert [entry["mask"] for entry in report["masks"]] == ["out/mask_0.png", "out/mask_1.png"]
    for index, entry in enumerate(report["masks"]):
        mask = load_mask(tmp_path / entry["mask"])
        np.testing.assert_array_equal(mask, expected.masks[index])
        assert entry["score"] == pytest.approx(float(expected.scores[index]), abs=1e-6)
        assert entry["area"] == int(mask.sum())
        ys, xs = np.nonzero(mask)
        assert entry["box"] == [xs.min(), ys.min(), xs.max(), ys.max()]
        assert entry["prompt_box"] == list(boxes[index])
        cut = Image.open(tmp_path / entry["cutout"])
        assert cut.mode == "RGBA" and cut.size == (64, 48)
        np.testing.assert_array_equal(np.array(cut)[..., 3] > 0, mask)
        assert file_mode(tmp_path / entry["cutout"]) == plain_file_mode(tmp_path)
    assert Image.open(tmp_path / "out/overlay.jpg").size == (64, 48)
    assert file_mode(tmp_path / "out/overlay.jpg") == plain_file_mode(tmp_path)
    coco = load_coco(tmp_path / "out/coco.json")
    assert len(coco.getAnnIds()) == 2
    np.testing.assert_array_equal(coco.annToMask(coco.loadAnns(1)[0]), expected.masks[0])
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left behind


def test_a_box_reaching_outside_the_image_is_clipped_like_the_api(
    tmp_path, image_file, model_args, predictor, capsys
):
    # "--box -10,..." with a space: argparse alone would read -10,... as an option.
    argv = ["segment", str(image_file), "--box", "-10,-5,40,30", "-o", str(tmp_path / "m.png"),
            "--json", *model_args]  # fmt: skip
    assert main(argv) == 0
    (entry,) = json.loads(capsys.readouterr().out)["masks"]
    assert entry["prompt_box"] == [-10, -5, 40, 30]
    predictor.set_image(image_file)
    expected = predictor.predict_boxes([(-10, -5, 40, 30)])
    np.testing.assert_array_equal(load_mask(tmp_path / "m.png"), expected.masks[0])


def test_a_click_outside_the_image_is_a_usage_error_before_loading(
    tmp_path, image_file, model_args, capsys, no_model
):
    line = usage_error(
        ["segment", str(image_file), "--point", "-5,10", "-o", str(tmp_path / "m.png"),
         *model_args], capsys)  # fmt: skip
    assert line.startswith("sam2-hf segment: error: argument --point: point_coords must lie")
    assert "(-5, 10)" in line


def test_points_and_a_box_make_one_object_like_the_api(
    tmp_path, image_file, model_args, predictor, capsys
):
    points = ["--point", "40,12", "--point", "10,30:0"]
    out = tmp_path / "out"
    out.mkdir()  # an existing folder: the mask is named after the image
    assert main(["segment", str(image_file), *points, "-o", str(out), "--json", *model_args]) == 0
    clicks = json.loads(capsys.readouterr().out)["masks"]
    assert main(["segment", str(image_file), *points, "--box", "5,6,50,40", "-o",
                 str(tmp_path / "both.png"), "--json", *model_args]) == 0  # fmt: skip
    with_box = json.loads(capsys.readouterr().out)["masks"]

    predictor.set_image(image_file)
    for reports, box in ((clicks, None), (with_box, (5, 6, 50, 40))):
        expected = predictor.predict([(40, 12), (10, 30)], [1, 0], box=box)
        assert len(reports) == 1
        np.testing.assert_array_equal(load_mask(reports[0]["mask"]), expected.best)
        assert reports[0]["score"] == pytest.approx(float(expected.best_score), abs=1e-6)
    assert clicks[0]["mask"] == str(out / "photo.png")
    assert with_box[0]["prompt_box"] == [5, 6, 50, 40]


def test_an_image_checkpoint_works_like_the_api(tmp_path, image_file, image_checkpoint, capsys):
    # A plain sam2 image checkpoint, beside the hub-shaped sam2_video one the others use.
    argv = ["segment", str(image_file), "--point", "40,12", "-o", str(tmp_path / "m.png"),
            "--json", "--model", str(image_checkpoint), "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    (entry,) = json.loads(capsys.readouterr().out)["masks"]
    predictor = Sam2Predictor.from_pretrained(image_checkpoint, device="cpu")
    predictor.set_image(image_file)
    expected = predictor.predict([(40, 12)], [1])
    np.testing.assert_array_equal(load_mask(tmp_path / "m.png"), expected.best)
    assert entry["score"] == pytest.approx(float(expected.best_score), abs=1e-6)


def test_an_output_folder_ending_in_a_slash_is_created(tmp_path, image_file, model_args, capsys):
    folder = tmp_path / "new" / "masks"
    argv = ["segment", str(image_file), "--box", "5,6,50,40", "--box", "30,10,60,45",
            "-o", f"{folder}/", "--quiet", *model_args]  # fmt: skip
    assert main(argv) == 0
    assert capsys.readouterr().out == ""  # --quiet
    assert sorted(p.name for p in folder.iterdir()) == ["photo_0.png", "photo_1.png"]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("m.jpg", "argument -o/--output: expected a .png file or a folder (existing, or ending"),
        ("masks", "in /), got 'masks'"),
        ("a_file/m.png", "argument -o/--output: cannot create a folder inside the file"),
        ("a_file/deeper/", "argument -o/--output: cannot create a folder inside the file"),
    ],
)
def test_a_bad_output_is_a_usage_error_before_loading(
    tmp_path, image_file, model_args, output, expected, capsys, monkeypatch, no_model
):
    monkeypatch.chdir(tmp_path)
    Path("a_file").write_text("in the way")
    line = usage_error(["segment", str(image_file), "--box", "1,2,30,40", "-o", output,
                        *model_args], capsys)  # fmt: skip
    assert expected in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "photo.png"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--point", "5"], "argument --point: expected X,Y or X,Y:LABEL"),
        (["--point", "1,2:7"], "argument --point: expected X,Y or X,Y:LABEL"),
        (["--point", "a,b"], "got 'a,b'"),
        (["--box", "1,2,3"], "argument --box: expected X0,Y0,X1,Y1"),
        (["--box", "1,2,3,nan"], "got '1,2,3,nan'"),
        (["--box", "9,2,3,4"], "X0 <= X1 and Y0 <= Y1; got '9,2,3,4'"),
        (["--point", "1,2", "--box", "0,0,4,4", "--box", "1,1,5,5"], "at most one --box"),
        ([], "give prompts for one image"),
        (["--point", "1,2", "--boxes", "b.json"], "the boxes come from the file"),
        (["--box", "0,0,4,4", "--cutout", "cut.jpg"], "argument --cutout: expected a transparent"),
        (["--box", "0,0,4,4", "--overlay", "o.xyz"], "argument --overlay: expected an image"),
        (["--box", "0,0,4,4", "--coco", "c.txt"], "argument --coco: expected a JSON file"),
        (["--box", "0,0,4,4", "--model", "huge"], "argument --model: model 'huge' is not"),
        (["--box", "0,0,4,4", "--device", "tpu"], "argument --device:"),
        (["--box", "0,0,4,4", "--batch-size", "0"], "argument --batch-size:"),
        (["--box", "0,0,4,4", "--class-names", "n.txt"], "--class-names goes with --yolo-labels"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(args, expected, capsys, no_model):
    line = usage_error(["segment", "photo.png", "-o", "m.png", *args], capsys)
    assert expected in line


def test_a_video_or_a_folder_points_to_track(tmp_path, capsys, no_model):
    line = usage_error(["segment", "clip.mp4", "--point", "1,2", "-o", "m.png"], capsys)
    assert "IMAGE 'clip.mp4' is a video: use 'sam2-hf track'" in line
    line = usage_error(["segment", str(tmp_path), "--point", "1,2", "-o", "m.png"], capsys)
    assert "is a folder: give --boxes JSON or --yolo-labels DIR (or use 'sam2-hf track'" in line


def test_a_missing_image_exits_1_in_one_line_and_keeps_old_output(tmp_path, model_args, capsys):
    old = tmp_path / "mask.png"
    old.write_bytes(b"a good mask from an earlier run")
    missing = tmp_path / "missing.png"
    assert main(["segment", str(missing), "--point", "3,4", "-o", str(old), *model_args]) == 1
    assert capsys.readouterr().err == f"sam2-hf: error: image file '{missing}' does not exist\n"
    assert old.read_bytes() == b"a good mask from an earlier run"


def test_a_failure_after_loading_keeps_old_files_and_verbose_shows_traceback(
    tmp_path, image_file, model_args, capsys, monkeypatch
):
    def out_of_memory(self, *args, **kwargs):
        raise RuntimeError("CUDA out of memory.\n  Tried to allocate 2 GiB")

    monkeypatch.setattr(Sam2Predictor, "predict", out_of_memory)
    old = tmp_path / "mask.png"
    old.write_bytes(b"old")
    args = ["segment", str(image_file), "--point", "50,5", "-o", str(old), *model_args]
    assert main(args) == 1
    # One line, however many the message had.
    assert capsys.readouterr().err == (
        "sam2-hf: error: CUDA out of memory. Tried to allocate 2 GiB\n"
    )
    assert old.read_bytes() == b"old"
    with pytest.raises(RuntimeError, match="out of memory"):
        main([*args, "--verbose"])


def test_an_unexpected_error_names_its_type(tmp_path, image_file, model_args, capsys, monkeypatch):
    monkeypatch.setattr(Sam2Predictor, "predict", lambda *a, **k: {}["missing"])
    args = ["segment", str(image_file), "--point", "50,5", "-o", str(tmp_path / "m.png")]
    assert main([*args, *model_args]) == 1
    assert capsys.readouterr().err == (
        "sam2-hf: error: KeyError: 'missing' (run with --verbose for the traceback)\n"
    )


# ---------------------------------------------------------------- folders and boxes files


def test_folder_with_boxes_json_writes_masks_and_coco(
    tmp_path, image_hw, model_args, predictor, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "images"
    folder.mkdir()
    images = {"a.png": image_hw, "b.jpg": image_hw[:, ::-1], "c.png": image_hw[::-1]}
    for name, pixels in images.items():
        Image.fromarray(np.ascontiguousarray(pixels)).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    table = {"a.png": [[5, 6, 50, 40], [30, 10, 60, 45]], "c.png": [[0, 0, 20, 20]]}
    (tmp_path / "boxes.json").write_text(json.dumps(table))

    argv = ["segment", "images", "--boxes", "boxes.json", "-o", "masks", "--coco", "coco.json"]
    assert main([*argv, *model_args]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # no progress bar when stderr is not a terminal
    assert captured.out == "3 mask(s) for 3 image(s) in masks, COCO annotations in coco.json\n"
    written = sorted(path.name for path in (tmp_path / "masks").iterdir())
    assert written == ["a_0.png", "a_1.png", "c_0.png"]

    paths = [folder / "a.png", folder / "c.png"]
    expected = predictor.predict_batch(paths, [table["a.png"], table["c.png"]])
    np.testing.assert_array_equal(load_mask(tmp_path / "masks/a_1.png"), expected[0].masks[1])
    np.testing.assert_array_equal(load_mask(tmp_path / "masks/c_0.png"), expected[1].masks[0])
    coco = load_coco(tmp_path / "coco.json")
    assert [image["file_name"] for image in coco.loadImgs(coco.getImgIds())] == list(images)
    assert coco.getAnnIds(imgIds=[2]) == []  # b.jpg had no boxes: listed, no annotations
    assert [ann["image_id"] for ann in coco.loadAnns(coco.getAnnIds())] == [1, 1, 3]
    first = coco.loadAnns(coco.getAnnIds(imgIds=[3]))[0]
    np.testing.assert_array_equal(coco.annToMask(first), expected[1].masks[0])
    assert first["score"] == pytest.approx(float(expected[1].scores[0]), abs=1e-6)


def test_yolo_labels_over_a_glob_give_class_categories(
    tmp_path, image_hw, model_args, predictor, capsys
):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    for name in ("one", "two"):
        Image.fromarray(image_hw).save(tmp_path / "images" / f"{name}.png")
    # cx, cy, w, h relative to the 64x48 image: the box (16, 12, 48, 36) in pixels.
    (tmp_path / "labels/one.txt").write_text("2 0.5 0.5 0.5 0.5\n\n0 0.25 0.25 0.25 0.25 0.9\n")
    (tmp_path / "classes.txt").write_text("person\nbicycle\ncar\n")
    args = [
        "segment", str(tmp_path / "images/*.png"), "--yolo-labels", str(tmp_path / "labels"),
        "--class-names", str(tmp_path / "classes.txt"), "-o", str(tmp_path / "masks"),
        "--coco", str(tmp_path / "coco.json"), "--batch-size", "1", "--json", *model_args,
    ]  # fmt: skip
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert [len(image["masks"]) for image in report["images"]] == [2, 0]
    assert report["images"][0]["masks"][0]["prompt_box"] == [16, 12, 48, 36]
    assert [mask["category_id"] for mask in report["images"][0]["masks"]] == [2, 0]

    predictor.set_image(image_hw)
    expected = predictor.predict_boxes([(16, 12, 48, 36), (8, 6, 24, 18)])
    coco = load_coco(tmp_path / "coco.json")
    assert coco.loadCats(coco.getCatIds()) == [
        {"id": 0, "name": "person"},
        {"id": 1, "name": "bicycle"},
        {"id": 2, "name": "car"},
    ]
    annotations = coco.loadAnns(coco.getAnnIds())
    assert [ann["category_id"] for ann in annotations] == [2, 0]
    for annotation, mask, path in zip(
        annotations, expected.masks, ["one_0.png", "one_1.png"], strict=True
    ):
        np.testing.assert_array_equal(coco.annToMask(annotation), mask)
        np.testing.assert_array_equal(load_mask(tmp_path / "masks" / path), mask)


def test_malformed_yolo_line_is_a_one_line_runtime_error(tmp_path, image_file, model_args, capsys):
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "photo.txt").write_text("0 0.5 0.5 0.2\n")
    args = ["segment", str(image_file.parent), "--yolo-labels", str(labels), "-o",
            str(tmp_path / "x")]  # fmt: skip
    assert main([*args, *model_args]) == 1
    error = capsys.readouterr().err
    assert error == f"sam2-hf: error: {labels / 'photo.txt'}:1: expected 'class cx cy w h' " \
        "(class an integer, the rest in [0, 1]), got '0 0.5 0.5 0.2'\n"  # fmt: skip


def test_a_folder_output_that_is_a_file_is_a_usage_error(tmp_path, capsys, no_model):
    (tmp_path / "masks").write_text("a file")
    line = usage_error(["segment", str(tmp_path), "--boxes", "b.json", "-o",
                        str(tmp_path / "masks")], capsys)  # fmt: skip
    assert line.endswith(f"-o/--output: '{tmp_path / 'masks'}' is a file; expected a folder")
