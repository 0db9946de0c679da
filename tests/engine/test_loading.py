"""Model names, loading from folders and a hub-shaped cache, device and dtype choice."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import transformers
from conftest import FAKE_COMMIT, FAKE_HUB_ID

from sam2_hf import ModelNotAvailableError, Sam2Predictor, list_models, load_model
from sam2_hf.engine.loading import (
    _model_class_for,
    resolve_device,
    resolve_dtype,
    resolve_model_name,
)


def test_known_names_and_published_numbers():
    table = {m.name: (m.hub_id, m.params_millions, m.fps) for m in list_models()}
    assert table == {
        "tiny": ("facebook/sam2.1-hiera-tiny", 38.9, 91.2),
        "small": ("facebook/sam2.1-hiera-small", 46.0, 84.8),
        "base-plus": ("facebook/sam2.1-hiera-base-plus", 80.8, 64.1),
        "large": ("facebook/sam2.1-hiera-large", 224.4, 39.5),
    }


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
    with pytest.raises(ValueError, match="'sam2' cannot be used for videos.*'sam2_video'"):
        load_model(image_checkpoint, task="video", device="cpu")


def test_unsupported_model_type_names_the_supported_ones(tmp_path):
    transformers.ViTConfig(
        hidden_size=8, num_hidden_layers=1, num_attention_heads=1
    ).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"model type 'vit'.*'sam2', 'sam2_video', 'edgetam'"):
        load_model(tmp_path, device="cpu")


def test_edgetam_checkpoints_pick_the_edgetam_classes():
    model_cls, config = _model_class_for(transformers.EdgeTamVideoConfig(), "image")
    assert model_cls is transformers.EdgeTamModel
    assert isinstance(config, transformers.EdgeTamConfig)
    model_cls, _ = _model_class_for(transformers.EdgeTamVideoConfig(), "video")
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
