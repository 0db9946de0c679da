"""``sam2-hf track`` in-process on the tiny random-weight video checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sam2_hf.cli import build_parser, main
from sam2_hf.cli.track import prompts


@pytest.fixture
def frames(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for index in range(3):
        pixels = rng.integers(0, 60, (40, 56, 3), dtype=np.uint8)
        pixels[8 + index : 24 + index, 10 + 2 * index : 30 + 2 * index] = (200, 80, 40)
        Image.fromarray(pixels).save(folder / f"{index:03d}.png")
    return folder


def test_track_writes_label_pngs_overlay_and_json_like_track_video(
    tmp_path, frames, video_checkpoint, capsys
):
    from sam2_hf.video.io import label_image
    from sam2_hf.video.tracker import track_video

    out = tmp_path / "out"
    model = ["--model", str(video_checkpoint), "--device", "cpu"]
    overlay = tmp_path / "overlay.gif"
    args = ["track", str(frames), "--frame", "1", "--box", "8,6,34,26", "--box", "30,5,50,30",
            "--obj-id", "3", "-o", str(out), "--overlay", str(overlay), "--json"]  # fmt: skip
    assert main([*args, *model]) == 0
    report = json.loads(capsys.readouterr().out)

    expected = track_video(
        frames,
        [
            {"frame": 1, "obj_id": 3, "box": (8, 6, 34, 26)},
            {"frame": 1, "obj_id": 4, "box": (30, 5, 50, 30)},
        ],
        model=video_checkpoint,
        device="cpu",
        progress=False,
    )
    assert (report["width"], report["height"], report["obj_ids"]) == (56, 40, [3, 4])
    assert [frame["frame"] for frame in report["frames"]] == [0, 1, 2]
    for frame, result in zip(report["frames"], expected, strict=True):
        labels = np.array(Image.open(frame["labels"]))
        np.testing.assert_array_equal(labels, label_image(result, (40, 56)))
        for entry in frame["objects"]:
            assert entry["area"] == int(result.masks[entry["obj_id"]].sum())
            assert entry["present"] == result.present[entry["obj_id"]]
    assert Image.open(overlay).n_frames == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "out", "overlay.gif"]
    assert sorted(p.name for p in out.iterdir()) == ["00000.png", "00001.png", "00002.png"]


def test_an_image_is_not_a_video(tmp_path, capsys):
    # It used to "track" through 1 frame and exit 0.
    image = tmp_path / "photo.jpg"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    with pytest.raises(SystemExit) as exit_info:
        main(["track", str(image), "--point", "1,2", "-o", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"VIDEO '{image}' is a single image: use 'sam2-hf segment'" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "give the object(s) on --frame"),
        (["--point", "1,2", "--box", "0,0,4,4", "--box", "1,1,5,5"], "at most one --box"),
        (["--box", "0,0,4,4", "--obj-id", "0"], "argument --obj-id: expected a whole number >= 1"),
        (["--box", "0,0,4,4", "--box", "0,0,4,4", "--obj-id", "255"], "must stay <= 255"),
        (["--box", "0,0,4,4", "--frame", "-1"], "argument --frame:"),
        (["--box", "0,0,4,4", "--overlay", "o.avi"], "argument --overlay: expected a video file"),
        (["--box", "0,0,4,4", "--fps", "0"], "argument --fps: expected a number > 0"),
        (["--box", "0,0,4,4", "--fill-hole-area", "-1"], "argument --fill-hole-area:"),
        (["--point", "1;2"], "argument --point: expected X,Y or X,Y:LABEL"),
    ],
)
def test_bad_track_arguments_exit_2(args, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["track", "clip.mp4", "-o", "out", *args])
    assert exit_info.value.code == 2
    assert expected in capsys.readouterr().err


def test_an_output_folder_that_is_a_file_exits_2(tmp_path, capsys):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(SystemExit) as exit_info:
        main(["track", "clip.mp4", "--point", "1,2", "-o", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "is a file; expected a folder" in capsys.readouterr().err


def test_track_prompts_one_object_for_points_one_per_box_otherwise():
    parse = build_parser().parse_args
    points = parse(["track", "v", "-o", "o", "--frame", "3", "--point", "1,2", "--point",
                    "3,4:0", "--box", "0,0,9,9", "--obj-id", "7"])  # fmt: skip
    assert prompts(points) == [
        {"frame": 3, "obj_id": 7, "points": [(1, 2), (3, 4)], "labels": [1, 0], "box": (0, 0, 9, 9)}
    ]
    boxes = parse(["track", "v", "-o", "o", "--box", "0,0,9,9", "--box", "1,1,5,5"])
    assert prompts(boxes) == [
        {"frame": 0, "obj_id": 1, "box": (0, 0, 9, 9)},
        {"frame": 0, "obj_id": 2, "box": (1, 1, 5, 5)},
    ]
