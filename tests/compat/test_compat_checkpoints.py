"""Meta ``.pt`` checkpoints: the key mapping, loading for the native classes, conversion to a
transformers folder, and the errors for files that do not fit."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import Sam2VideoModel

from sam2_hf import MaskGenerator, Sam2Predictor, VideoTracker
from sam2_hf.compat.checkpoints import (
    build_model,
    convert_checkpoint,
    convert_state_dict,
    load_checkpoint,
    read_state_dict,
)
from sam2_hf.compat.configs import BUILTIN_CONFIGS, VIDEO_POSTPROCESSING, apply_overrides

# The original builds its image transforms with torch.jit.script, which torch now deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")

# ------------------------------------------------------------ files that are not checkpoints


def _signature_only(path: Path, width: int, blocks: int, d_model: int, sam21: bool) -> Path:
    """A stand-in holding just the tensors a checkpoint's shapes are read from."""
    state = {
        "image_encoder.trunk.patch_embed.proj.weight": torch.zeros(width, 1),
        "image_encoder.neck.convs.0.conv.weight": torch.zeros(d_model, 1),
        **{f"image_encoder.trunk.blocks.{i}.norm1.weight": torch.zeros(1) for i in range(blocks)},
    }
    if sam21:
        state["no_obj_embed_spatial"] = torch.zeros(1, 64)
    torch.save({"model": state}, path)
    return path


def test_wrong_config_says_which_config_the_checkpoint_looks_like(tmp_path: Path) -> None:
    tiny_like = _signature_only(tmp_path / "mine.pt", 96, 12, 256, True)
    with pytest.raises(ValueError) as caught:
        load_checkpoint(tiny_like, "sam2.1_hiera_s", device="cpu")
    message = str(caught.value)
    assert "'mine.pt'" in message or "mine.pt" in message
    assert "does not match config 'configs/sam2.1/sam2.1_hiera_s.yaml'" in message
    assert "a Hiera of 12 blocks 96 wide" in message
    assert "it looks like 'configs/sam2.1/sam2.1_hiera_t.yaml'" in message
    large_20 = _signature_only(tmp_path / "old.pt", 144, 48, 256, False)
    with pytest.raises(ValueError, match=r"looks like 'configs/sam2/sam2_hiera_l.yaml'"):
        load_checkpoint(large_20, "sam2.1_hiera_l", device="cpu")


def test_checkpoint_matching_no_released_config(tmp_path: Path) -> None:
    odd = _signature_only(tmp_path / "odd.pt", 64, 10, 256, True)
    with pytest.raises(ValueError, match="matches none of the released configs"):
        load_checkpoint(odd, device="cpu")
    with pytest.raises(ValueError, match="matches none of the released configs"):
        load_checkpoint(odd, "sam2.1_hiera_t", device="cpu")


def test_unknown_config_name(tmp_path: Path) -> None:
    path = _signature_only(tmp_path / "x.pt", 96, 12, 256, True)
    with pytest.raises(ValueError, match=r"Known configs: 'configs/sam2.1/sam2.1_hiera_t.yaml'"):
        load_checkpoint(path, "sam2.1_hiera_huge", device="cpu")


def test_corrupt_and_foreign_files_are_named(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.pt"
    _signature_only(truncated, 96, 12, 256, True)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"checkpoint file '.*truncated.pt' cannot be read"):
        read_state_dict(truncated)
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    with pytest.raises(ValueError, match=r"'.*notes.pt' cannot be read"):
        read_state_dict(text)
    other = tmp_path / "other.pt"
    torch.save({"model": {"encoder.weight": torch.zeros(2)}}, other)
    with pytest.raises(ValueError, match=r"'.*other.pt' is not an original SAM 2 checkpoint"):
        read_state_dict(other)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        read_state_dict(tmp_path / "missing.pt")


def test_bare_and_ddp_state_dicts(tmp_path: Path) -> None:
    """Fine-tuning scripts save ``model.state_dict()`` as it is, sometimes from DDP."""
    state = {"image_encoder.trunk.patch_embed.proj.weight": torch.ones(3)}
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "ddp.pt")
    assert list(read_state_dict(tmp_path / "ddp.pt")) == list(state)
    torch.save(state, tmp_path / "bare.pt")
    assert list(read_state_dict(tmp_path / "bare.pt")) == list(state)


def test_tensors_without_a_counterpart_are_listed() -> None:
    with pytest.raises(ValueError, match=r"1 tensor\(s\) are not part of .*: lora_A.weight"):
        convert_state_dict({"lora_A.weight": torch.zeros(1), "no_mem_embed": torch.zeros(1)})


# ------------------------------------------------ the tiny original model (needs sam2)


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("sam2")
    from original_sam2 import originals

    return originals(tmp_path_factory.mktemp("original"))


@pytest.fixture(scope="module")
def tiny_yaml(original, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model's config as a YAML file, as Hydra composes it from Meta's config and the
    overrides: what someone who trained a model of their own has."""
    from hydra import compose
    from omegaconf import OmegaConf
    from original_sam2 import CONFIG, TINY_OVERRIDES

    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(OmegaConf.to_yaml(compose(config_name=CONFIG, overrides=TINY_OVERRIDES)))
    return path


def test_every_tensor_maps_to_sam2_video_model(original) -> None:
    """The key mapping is complete both ways, with the shapes transformers expects."""
    from original_sam2 import TINY_OVERRIDES

    state = read_state_dict(original.checkpoint)
    converted = convert_state_dict(state)
    settings = apply_overrides(
        BUILTIN_CONFIGS["configs/sam2.1/sam2.1_hiera_t.yaml"],
        [*TINY_OVERRIDES, *VIDEO_POSTPROCESSING],
    )
    model = build_model(settings, name="tiny", task="video")
    expected = model.state_dict()
    assert set(converted) == set(expected)
    for key, tensor in expected.items():
        assert converted[key].shape == tensor.shape, key
    # transformers' one tensor with no original of its own: a second copy of the Fourier matrix.
    assert len(converted) == len(state) - 4 + 1 + 1  # 4 point embeddings stacked into one
    assert (
        converted["shared_image_embedding.positional_embedding"]
        is converted["prompt_encoder.shared_embedding.positional_embedding"]
    )
    assert torch.equal(
        converted["prompt_encoder.point_embed.weight"][2],
        state["sam_prompt_encoder.point_embeddings.2.weight"][0],
    )


def test_load_checkpoint_for_the_native_classes(original, tiny_yaml: Path) -> None:
    from original_sam2 import original_image_predictor, test_image

    loaded = load_checkpoint(original.checkpoint, tiny_yaml, device="cpu")
    predictor = Sam2Predictor(loaded)
    reference = original_image_predictor(original.image_model)
    image = test_image()
    predictor.set_image(image)
    reference.set_image(image)
    box = np.array([15, 5, 55, 35])
    ours = predictor.predict(box=box, multimask_output=False)
    theirs = reference.predict(box=box, multimask_output=False)
    np.testing.assert_array_equal(ours.masks, theirs[0].astype(bool))
    np.testing.assert_allclose(ours.scores, theirs[1], atol=1e-4)
    assert MaskGenerator(predictor, points_per_side=2).generate(image) is not None
    video = load_checkpoint(original.checkpoint, tiny_yaml, task="video", device="cpu")
    assert isinstance(video.model, Sam2VideoModel)
    assert VideoTracker(video).fill_hole_area == 8


def test_convert_to_a_folder_round_trip(original, tiny_yaml: Path, tmp_path: Path) -> None:
    """``.pt`` -> folder -> ``from_pretrained`` gives the masks the ``.pt`` gives."""
    from original_sam2 import test_image

    old_umask = os.umask(0o022)
    try:
        out = convert_checkpoint(original.checkpoint, tmp_path / "converted", tiny_yaml)
    finally:
        os.umask(old_umask)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["converted"]  # no staging left
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "processor_config.json",
        "video_preprocessor_config.json",
    ]
    assert json.loads((out / "processor_config.json").read_text()) == {
        "point_pad_value": -10,
        "processor_class": "Sam2VideoProcessor",
        "target_size": 128,
    }
    assert json.loads((out / "config.json").read_text())["model_type"] == "sam2_video"
    assert stat.S_IMODE((out / "config.json").stat().st_mode) == 0o644
    assert stat.S_IMODE(out.stat().st_mode) == 0o755

    image = test_image()
    from_folder = Sam2Predictor.from_pretrained(out, device="cpu")
    from_pt = Sam2Predictor(load_checkpoint(original.checkpoint, tiny_yaml, device="cpu"))
    for predictor in (from_folder, from_pt):
        predictor.set_image(image)
    for prompt in (dict(point_coords=[(30, 20)]), dict(box=(15, 5, 55, 35))):
        a, b = from_folder.predict(**prompt), from_pt.predict(**prompt)
        np.testing.assert_array_equal(a.masks, b.masks)
        np.testing.assert_array_equal(a.scores, b.scores)
    tracker = VideoTracker.from_pretrained(out, device="cpu", progress=False)
    session = tracker.open([image, image])
    session.add(0, 1, points=[(30, 20)])
    assert [result.frame_idx for result in session.propagate()] == [0, 1]


def test_convert_refuses_to_overwrite(original, tiny_yaml: Path, tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        convert_checkpoint(original.checkpoint, target, tiny_yaml)
    assert (target / "keep.txt").read_text() == "mine"
    convert_checkpoint(original.checkpoint, target, tiny_yaml, overwrite=True)
    assert not (target / "keep.txt").exists() and (target / "model.safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_native_classes_load_a_pt_by_path(original, tiny_yaml: Path) -> None:
    """``from_pretrained("x.pt", config=...)`` is ``load_checkpoint``: the same masks."""
    from original_sam2 import test_image

    image = test_image()
    native = Sam2Predictor.from_pretrained(original.checkpoint, config=tiny_yaml, device="cpu")
    direct = Sam2Predictor(load_checkpoint(original.checkpoint, tiny_yaml, device="cpu"))
    for predictor in (native, direct):
        predictor.set_image(image)
    np.testing.assert_array_equal(
        native.predict(box=(15, 5, 55, 35)).masks, direct.predict(box=(15, 5, 55, 35)).masks
    )
    tracker = VideoTracker.from_pretrained(original.checkpoint, config=tiny_yaml, device="cpu")
    assert isinstance(tracker.model, Sam2VideoModel)
    with pytest.raises(ValueError, match="config= names the architecture of an original"):
        Sam2Predictor.from_pretrained("tiny", config=tiny_yaml)


def test_cli_convert_writes_a_folder_every_class_loads(
    original, tiny_yaml: Path, tmp_path: Path, capsys
) -> None:
    from sam2_hf.cli import main

    out = tmp_path / "converted"
    args = ["convert", str(original.checkpoint), str(out), "--config", str(tiny_yaml)]
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    assert Sam2Predictor.from_pretrained(out, device="cpu").model is not None
    with pytest.raises(SystemExit) as exit_info:  # not empty now
        main(args)
    assert exit_info.value.code == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite", "-q"]) == 0
