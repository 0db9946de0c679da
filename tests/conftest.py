"""Tiny random-weight SAM 2 checkpoints, built once per session and loaded the public way.

No test reaches the network: the hub is switched off before transformers is imported, and
every model is saved by these fixtures into a temporary folder or a fake hub cache.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import (  # noqa: E402
    Sam2Config,
    Sam2HieraDetConfig,
    Sam2ImageProcessor,
    Sam2Model,
    Sam2Processor,
    Sam2VideoConfig,
    Sam2VideoModel,
    Sam2VideoVideoProcessor,
    Sam2VisionConfig,
)

IMAGE_SIZE = 128  # the tiny models' input resolution (the real ones use 1024)
FAKE_HUB_ID = "facebook/sam2.1-hiera-tiny"
FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def tiny_vision_config() -> Sam2VisionConfig:
    """transformers' own Sam2ModelTester sizes: ~0.5M parameters at 128x128."""
    backbone = Sam2HieraDetConfig(
        hidden_size=12,
        num_attention_heads=1,
        image_size=[IMAGE_SIZE, IMAGE_SIZE],
        blocks_per_stage=[1, 2, 7, 2],
        embed_dim_per_stage=[12, 24, 48, 96],
        num_attention_heads_per_stage=[1, 2, 4, 8],
        window_size_per_stage=[8, 4, 14, 7],
        global_attention_blocks=[5, 7, 9],
        window_positional_embedding_background_size=[7, 7],
    )
    return Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[96, 48, 24, 12],
        backbone_feature_sizes=[[32, 32], [16, 16], [8, 8]],
        fpn_hidden_size=32,
    )


def tiny_video_config(**overrides: object) -> Sam2VideoConfig:
    """The smallest video config that tracks (~3M parameters). The FPN, prompt encoder and mask
    decoder are 128 wide because the memory encoder's 128 and the 64 memory channels are
    hard-coded inside Sam2VideoModel; with an FPN of 32 the first tracked frame fails."""
    vision = tiny_vision_config()
    vision.fpn_hidden_size = 128
    return Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config={"hidden_size": 128, "image_size": IMAGE_SIZE, "patch_size": 16},
        mask_decoder_config={"hidden_size": 128},
        image_size=IMAGE_SIZE,
        memory_attention_hidden_size=128,
        memory_attention_feed_forward_hidden_size=256,
        memory_attention_rope_feat_sizes=[IMAGE_SIZE // 16, IMAGE_SIZE // 16],
        memory_encoder_hidden_size=128,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=128,
        memory_fuser_embed_dim=128,
        memory_fuser_intermediate_dim=256,
        **overrides,
    )


def tiny_image_processor() -> Sam2ImageProcessor:
    return Sam2ImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})


def save_video_checkpoint(folder: Path, config: Sam2VideoConfig | None = None) -> None:
    """A tiny checkpoint laid out like the official hub repos (a ``sam2_video`` model).

    Random weights put the object score near 0, which would make every tracked mask empty and
    every video comparison trivial; a bias of +3 makes objects "present".
    """
    torch.manual_seed(0)
    model = Sam2VideoModel(config or tiny_video_config()).eval()
    with torch.no_grad():
        model.mask_decoder.pred_obj_score_head.proj_out.bias += 3.0
    model.save_pretrained(folder)
    tiny_image_processor().save_pretrained(folder)  # preprocessor_config.json
    Sam2VideoVideoProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}).save_pretrained(
        folder
    )  # video_preprocessor_config.json
    # The hub's processor_config.json, verbatim but for the tiny target size.
    processor_config = {
        "point_pad_value": -10,
        "processor_class": "Sam2VideoProcessor",
        "target_size": IMAGE_SIZE,
    }
    (folder / "processor_config.json").write_text(json.dumps(processor_config))


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and on a busy 2-core machine two threads spin
    against each other (a video test took 0.6 s on one thread and 37 s on two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def image_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain ``sam2`` image checkpoint saved with save_pretrained."""
    folder = tmp_path_factory.mktemp("sam2-image")
    torch.manual_seed(0)
    config = Sam2Config(
        vision_config=tiny_vision_config(),
        prompt_encoder_config={"hidden_size": 32, "image_size": IMAGE_SIZE, "patch_size": 16},
        mask_decoder_config={"hidden_size": 32},
    )
    Sam2Model(config).eval().save_pretrained(folder)
    Sam2Processor(image_processor=tiny_image_processor(), target_size=IMAGE_SIZE).save_pretrained(
        folder
    )
    return folder


@pytest.fixture(scope="session")
def video_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``sam2_video`` checkpoint laid out like facebook/sam2.1-hiera-* on the hub."""
    folder = tmp_path_factory.mktemp("sam2-video")
    save_video_checkpoint(folder)
    return folder


@pytest.fixture(scope="session")
def hub_cache(tmp_path_factory: pytest.TempPathFactory, video_checkpoint: Path) -> Path:
    """A Hugging Face cache folder (``$HF_HOME/hub``) holding the tiny checkpoint under
    ``facebook/sam2.1-hiera-tiny``, laid out as huggingface_hub lays it out."""
    cache = tmp_path_factory.mktemp("hf-home") / "hub"
    repo = cache / ("models--" + FAKE_HUB_ID.replace("/", "--"))
    snapshot = repo / "snapshots" / FAKE_COMMIT
    shutil.copytree(video_checkpoint, snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(FAKE_COMMIT)
    return cache


@pytest.fixture(scope="session")
def predictor(video_checkpoint: Path):
    """The image predictor on the hub-shaped tiny checkpoint, loaded the public way."""
    from sam2_hf import Sam2Predictor

    return Sam2Predictor.from_pretrained(video_checkpoint, device="cpu")


@pytest.fixture
def image_hw() -> np.ndarray:
    """A non-square 48x64 RGB uint8 image with some structure."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 60, size=(48, 64, 3), dtype=np.uint8)
    image[10:30, 20:50] = (200, 80, 40)
    return image
