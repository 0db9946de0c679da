"""Model names, loading from folders and a hub-shaped cache, device and dtype choice."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import transformers
from conftest import FAKE_COMMIT, FAKE_HUB_ID, add_to_hub_cache
from safetensors.torch import load_file, save_file

from sam2_hf import ModelNotAvailableError, Sam2Predictor, list_models, load_model
from sam2_hf.engine.loading import (
    FAMILIES,
    MODELS,
    SUPPORTED_TRANSFORMERS,
    DamagedCheckpointError,
    LoadedModel,
    is_cached,
    model_class_for,
    resolve_device,
    resolve_dtype,
    resolve_model_name,
    transformers_is_supported,
    transformers_support,
)
from sam2_hf.engine.registry import family_for_model_type

PROJECT = Path(__file__).resolve().parents[2]


def test_known_names_families_and_published_numbers(tmp_path):
    table = {m.name: (m.hub_id, m.family, m.params_millions, m.fps) for m in list_models()}
    assert table == {
        "tiny": ("facebook/sam2.1-hiera-tiny", "sam2", 38.9, 91.2),
        "small": ("facebook/sam2.1-hiera-small", "sam2", 46.0, 84.8),
        "base-plus": ("facebook/sam2.1-hiera-base-plus", "sam2", 80.8, 64.1),
        "large": ("facebook/sam2.1-hiera-large", "sam2", 224.4, 39.5),
        "edgetam": ("yonigozlan/EdgeTAM-hf", "edgetam", None, 150.9),
        "sam3": ("facebook/sam3", "sam3_tracker", 848.0, None),
    }
    assert [m.name for m in list_models() if m.gated] == ["sam3"]
    assert not any(m.cached for m in list_models(cache_dir=tmp_path))


def test_list_models_reads_the_cache_offline(hub_cache):
    cached = {m.name: m.cached for m in list_models(cache_dir=hub_cache)}
    assert cached == {
        "tiny": True,
        "small": False,
        "base-plus": False,
        "large": False,
        "edgetam": False,
        "sam3": False,
    }
    assert is_cached(FAKE_HUB_ID, hub_cache)
    assert not is_cached(FAKE_HUB_ID, hub_cache, revision="v9")


def test_a_config_without_weights_is_not_cached(tmp_path):
    snapshot = tmp_path / "models--facebook--sam2.1-hiera-tiny" / "snapshots" / FAKE_COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (tmp_path / "models--facebook--sam2.1-hiera-tiny" / "refs").mkdir()
    (tmp_path / "models--facebook--sam2.1-hiera-tiny" / "refs" / "main").write_text(FAKE_COMMIT)
    assert not is_cached(FAKE_HUB_ID, tmp_path)
    (snapshot / "model.safetensors").write_bytes(b"")
    assert is_cached(FAKE_HUB_ID, tmp_path)


def test_families_name_their_classes():
    assert {name: (f.image_model, f.video_model) for name, f in FAMILIES.items()} == {
        "sam2": ("Sam2Model", "Sam2VideoModel"),
        "edgetam": ("EdgeTamModel", "EdgeTamVideoModel"),
        "sam3_tracker": ("Sam3TrackerModel", "Sam3TrackerVideoModel"),
    }
    for family in FAMILIES.values():  # every class named exists in the installed transformers
        for name in (family.image_model, family.image_config, family.video_model):
            assert hasattr(transformers, name), name
        for name in (family.image_processor, family.video_processor):
            assert hasattr(transformers, name), name
        assert MODELS[family.example].family == family.name
    assert family_for_model_type("sam3_video").name == "sam3_tracker"
    assert family_for_model_type("sam2").name == "sam2"
    assert family_for_model_type("vit") is None


def test_names_resolve(tmp_path):
    assert resolve_model_name("base-plus") == "facebook/sam2.1-hiera-base-plus"
    assert resolve_model_name("facebook/sam2-hiera-large") == "facebook/sam2-hiera-large"
    assert resolve_model_name(tmp_path) == str(tmp_path)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(
        ValueError, match=r"'huge' is not a known name.*'tiny', 'small'.*list_models"
    ):
        resolve_model_name("huge")
    with pytest.raises(TypeError, match="model must be a name"):
        resolve_model_name(3)


def test_device_choice():
    assert resolve_device(None) == torch.device("cpu")  # no GPU on the CI machines
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match=r"device must be .* got 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda:1' was asked for, but CUDA is not available"):
            resolve_device("cuda:1")


def test_dtype_choice(monkeypatch):
    cpu = torch.device("cpu")
    assert resolve_dtype(None, cpu) == torch.float32
    assert resolve_dtype("bf16", cpu) == torch.bfloat16
    assert resolve_dtype("FP16", cpu) == torch.float16
    assert resolve_dtype(torch.float32, cpu) == torch.float32
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    assert resolve_dtype("auto", cuda) == torch.bfloat16
    # A T4 (7.5) only emulates bfloat16, though torch.cuda.is_bf16_supported() says yes.
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_dtype(None, cuda) == torch.float32
    with pytest.raises(ValueError, match=r"dtype must be .* got 'int8'"):
        resolve_dtype("int8", cpu)
    with pytest.raises(ValueError, match="float32, float16 or bfloat16"):
        resolve_dtype(torch.int8, cpu)


def test_plain_image_checkpoint_loads(image_checkpoint):
    loaded = load_model(image_checkpoint, device="cpu")
    assert type(loaded.model).__name__ == "Sam2Model"
    assert type(loaded.processor).__name__ == "Sam2Processor"
    assert not loaded.model.training


def test_hub_shaped_video_checkpoint_loads_without_a_model_type_warning(video_checkpoint, caplog):
    transformers.logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING):
            loaded = load_model(video_checkpoint, device="cpu")
    finally:
        transformers.logging.disable_propagation()
    assert type(loaded.model).__name__ == "Sam2Model"
    assert type(loaded.processor).__name__ == "Sam2Processor"
    assert "model of type" not in caplog.text
    video = load_model(video_checkpoint, task="video", device="cpu")
    assert type(video.model).__name__ == "Sam2VideoModel"
    assert type(video.processor).__name__ == "Sam2VideoProcessor"


def test_image_weights_equal_the_video_checkpoints_image_part(video_checkpoint):
    image = load_model(video_checkpoint, device="cpu").model.state_dict()
    video = load_model(video_checkpoint, task="video", device="cpu").model.state_dict()
    assert image.keys() <= video.keys()
    assert all(torch.equal(image[key], video[key]) for key in image)


def test_image_checkpoint_cannot_track_video(image_checkpoint):
    with pytest.raises(
        ValueError,
        match=r"'sam2' is an image-only SAM 2 / SAM 2.1 checkpoint: it cannot be used for videos"
        r".*model type 'sam2_video'.*'tiny' \(facebook/sam2.1-hiera-tiny\)",
    ):
        load_model(image_checkpoint, task="video", device="cpu")


def test_unsupported_model_type_names_the_supported_ones(tmp_path):
    transformers.ViTConfig(
        hidden_size=8, num_hidden_layers=1, num_attention_heads=1
    ).save_pretrained(tmp_path)
    with pytest.raises(
        ValueError,
        match=r"model type 'vit' is not one sam2-hf can load; supported model types: 'sam2', "
        r"'sam2_video', 'edgetam', 'edgetam_video', 'sam3_tracker', 'sam3_tracker_video', "
        r"'sam3_video'\.$",
    ):
        load_model(tmp_path, device="cpu")


def test_sam3_detector_alone_points_to_the_full_sam3_checkpoint(tmp_path):
    transformers.Sam3Config().save_pretrained(tmp_path)  # config only: the error comes first
    with pytest.raises(
        ValueError, match=r"'sam3' is the SAM 3 concept detector alone.*'facebook/sam3'"
    ):
        load_model(tmp_path, device="cpu")


def test_loaded_model_knows_its_family(predictor, video_checkpoint):
    loaded = LoadedModel(
        predictor.model, predictor.processor, predictor.device, predictor.dtype, "x"
    )
    assert loaded.family == "sam2"
    assert load_model(video_checkpoint, task="video", device="cpu").family == "sam2"
    cpu = torch.device("cpu")
    linear = LoadedModel(torch.nn.Linear(1, 1), predictor.processor, cpu, torch.float32, "x")
    assert linear.family is None


def test_edgetam_checkpoints_pick_the_edgetam_classes():
    model_cls, config = model_class_for(transformers.EdgeTamVideoConfig(), "image")
    assert model_cls is transformers.EdgeTamModel
    assert isinstance(config, transformers.EdgeTamConfig)
    model_cls, _ = model_class_for(transformers.EdgeTamVideoConfig(), "video")
    assert model_cls is transformers.EdgeTamVideoModel


def test_load_by_hub_id_from_the_cache(hub_cache):
    predictor = Sam2Predictor.from_pretrained(FAKE_HUB_ID, cache_dir=hub_cache, device="cpu")
    assert type(predictor.model).__name__ == "Sam2Model"
    # The short name resolves to the same hub id; revision passes through to the hub client.
    by_name = load_model("tiny", cache_dir=hub_cache, revision=FAKE_COMMIT, device="cpu")
    assert by_name.source == FAKE_HUB_ID


def test_unknown_revision_is_explained(hub_cache):
    with pytest.raises(ModelNotAvailableError, match=r"at revision 'v9'.*hf download"):
        load_model("tiny", cache_dir=hub_cache, revision="v9", device="cpu")


def test_uncached_hub_id_offline_explains_the_fix(tmp_path):
    with pytest.raises(ModelNotAvailableError) as caught:
        load_model("large", cache_dir=tmp_path, local_files_only=True, device="cpu")
    message = str(caught.value)
    assert "'facebook/sam2.1-hiera-large'" in message
    assert "not in the local Hugging Face cache" in message
    assert "HF_HUB_OFFLINE=1" in message and "local folder" in message
    assert isinstance(caught.value, OSError)


def test_hf_home_and_offline_mode_from_the_environment(hub_cache, image_hw, tmp_path):
    """A fresh process with HF_HOME pointing at the cache and HF_HUB_OFFLINE=1, as a user runs."""
    script = textwrap.dedent(
        """
        import json, numpy as np
        from sam2_hf import Sam2Predictor
        predictor = Sam2Predictor.from_pretrained("tiny", device="cpu")
        predictor.set_image(np.zeros((20, 30, 3), np.uint8))
        result = predictor.predict(point_coords=[(5, 5)])
        print(json.dumps({"shape": list(result.masks.shape), "source": "ok"}))
        """
    )
    env = {**os.environ, "HF_HOME": str(Path(hub_cache).parent), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    completed = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.strip().splitlines()[-1])["shape"] == [3, 20, 30]


# ---------------------------------------------------------------- the hub, offline and unreachable


@pytest.fixture
def no_backoff(monkeypatch):
    """Fail the test if anything sleeps: the hub client's retries sleep 1, 2, 4, 8, 8 s."""

    def sleep(seconds):
        raise AssertionError(f"something slept {seconds} s: the hub client is retrying")

    monkeypatch.setattr(time, "sleep", sleep)


def test_offline_with_an_empty_cache_fails_at_once_and_quietly(
    tmp_path, monkeypatch, no_backoff, capfd, caplog
):
    """HF_HUB_OFFLINE=1 (set by conftest, as a user sets it) and an empty HF_HOME."""
    from huggingface_hub import constants

    assert constants.HF_HUB_OFFLINE
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    transformers.logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(ModelNotAvailableError) as caught:
            load_model("someone/unknown-model", device="cpu")
    finally:
        transformers.logging.disable_propagation()
    assert "'someone/unknown-model'" in str(caught.value)
    assert "hf download someone/unknown-model" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caplog.records == []
    assert capfd.readouterr().err == ""


def test_an_unreachable_hub_is_tried_once_without_retries(
    tmp_path, monkeypatch, no_backoff, capfd, caplog
):
    """Online mode with no network: the endpoint is a closed port on this machine."""
    from huggingface_hub import HfApi, constants

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert HfApi().endpoint == "http://127.0.0.1:9"  # the client reads the patched endpoint
    transformers.logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(ModelNotAvailableError) as caught:
            load_model("someone/unknown-model", device="cpu")
    finally:
        transformers.logging.disable_propagation()
    assert "could not be downloaded" in str(caught.value)
    assert "Connect" in str(caught.value)  # the underlying connection error, in one line
    assert caplog.records == []
    assert capfd.readouterr().err == ""


def test_cached_model_loads_with_an_unreachable_hub(hub_cache, monkeypatch, no_backoff):
    from huggingface_hub import constants

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    loaded = load_model("tiny", cache_dir=hub_cache, device="cpu")
    assert loaded.source == FAKE_HUB_ID and type(loaded.model).__name__ == "Sam2Model"


def test_gated_and_missing_repositories_say_what_to_do(monkeypatch):
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    from sam2_hf.engine import loading

    def hub_error(cls):  # without the HTTP response their constructors want
        error = cls.__new__(cls)
        error.args = (cls.__name__,)
        return error

    for error, expected in (
        (hub_error(GatedRepoError), r"'facebook/sam3' is gated: accept its license.*hf auth login"),
        (hub_error(RepositoryNotFoundError), r"is not on the Hugging Face hub, or it is private"),
    ):

        def refuse(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr("huggingface_hub.snapshot_download", refuse)
        with pytest.raises(ModelNotAvailableError, match=expected):
            loading.load_model("sam3", device="cpu")


# ---------------------------------------------------------------- damaged checkpoints


def _truncated_copy(checkpoint: Path, folder: Path) -> Path:
    shutil.copytree(checkpoint, folder)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])  # an interrupted download
    return folder


def test_truncated_weights_in_a_folder_name_the_file_and_the_fix(video_checkpoint, tmp_path):
    folder = _truncated_copy(video_checkpoint, tmp_path / "checkpoint")
    with pytest.raises(DamagedCheckpointError) as caught:
        load_model(folder, device="cpu")
    message = str(caught.value)
    assert f"model.safetensors in {folder} cannot be read" in message
    assert "truncated or damaged" in message and "save_pretrained()" in message
    assert isinstance(caught.value, ModelNotAvailableError)  # an OSError, as before


def test_truncated_weights_in_the_hub_cache_say_how_to_download_again(video_checkpoint, tmp_path):
    folder = _truncated_copy(video_checkpoint, tmp_path / "checkpoint")
    cache = tmp_path / "hub"
    add_to_hub_cache(cache, FAKE_HUB_ID, folder)
    with pytest.raises(DamagedCheckpointError) as caught:
        load_model("tiny", cache_dir=cache, task="video", device="cpu")
    message = str(caught.value)
    snapshot = cache.resolve() / "models--facebook--sam2.1-hiera-tiny" / "snapshots" / FAKE_COMMIT
    assert f"model.safetensors in {snapshot} cannot be read" in message
    assert "hf download facebook/sam2.1-hiera-tiny --force-download" in message
    assert f"delete {snapshot.parent.parent}" in message


def test_a_folder_that_is_no_checkpoint_is_explained(tmp_path):
    with pytest.raises(ValueError, match=r"has no config.json: pass a folder saved with save_pre"):
        load_model(tmp_path, device="cpu")


def test_an_incomplete_cached_copy_is_explained(video_checkpoint, tmp_path):
    folder = tmp_path / "checkpoint"
    shutil.copytree(video_checkpoint, folder)
    (folder / "config.json").unlink()
    add_to_hub_cache(tmp_path / "hub", FAKE_HUB_ID, folder)
    expected = r"cached copy of 'facebook/sam2.1-hiera-tiny'.*is incomplete.*hf download facebook"
    with pytest.raises(ModelNotAvailableError, match=expected):
        load_model("tiny", cache_dir=tmp_path / "hub", device="cpu")


def test_a_checkpoint_missing_weights_is_refused_not_filled_with_random_ones(
    video_checkpoint, tmp_path
):
    folder = tmp_path / "checkpoint"
    shutil.copytree(video_checkpoint, folder)
    weights = load_file(folder / "model.safetensors")
    kept = {k: v for k, v in weights.items() if not k.startswith("mask_decoder.")}
    save_file(kept, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(
        ValueError, match=r"has no weights for \d+ parameter\(s\) of Sam2Model \(mask_decoder\."
    ):
        load_model(folder, device="cpu")


# ---------------------------------------------------------------- transformers versions


def test_supported_transformers_range_is_the_pinned_one():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    assert f"transformers{SUPPORTED_TRANSFORMERS}" in project["dependencies"]
    assert transformers_is_supported(transformers.__version__)  # the suite runs on a tested one
    assert transformers_is_supported("5.1.0") and transformers_is_supported("5.24.3")
    assert not transformers_is_supported("5.0.0")  # its own video model fails on every frame
    assert not transformers_is_supported("5.25.0") and not transformers_is_supported("4.57.1")
    assert transformers_support("5.30.0") == (
        "transformers 5.30.0 is installed; sam2-hf supports transformers>=5.1,<5.25 "
        "(tested with 5.24.0)"
    )
    assert transformers_support().startswith(f"transformers {transformers.__version__} is")


def test_names_and_versions_load_without_torch():
    """The CLI lists models and checks names through these modules before any model is needed."""
    script = (
        "import sys, sam2_hf.engine.registry as r, sam2_hf.engine.versions as v\n"
        "r.list_models(); r.resolve_model_name('tiny'); v.transformers_support()\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
