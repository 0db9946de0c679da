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


FRAME_HW = (48, 64)  # the video tests' frame size: non-square, as image_hw


def make_frames(count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` (48, 64, 3) uint8 frames: a bright square drifting right over noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        frame = rng.integers(0, 60, size=(*FRAME_HW, 3), dtype=np.uint8)
        frame[10:30, 10 + 2 * i : 30 + 2 * i] = (220, 90, 40)
        frames.append(frame)
    return frames


@pytest.fixture
def image_hw() -> np.ndarray:
    """A non-square 48x64 RGB uint8 image with some structure."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 60, size=(48, 64, 3), dtype=np.uint8)
    image[10:30, 20:50] = (200, 80, 40)
    return image


# ---------------------------------------------------------------- EdgeTAM and SAM 3 (issue 14)
#
# Tiny random checkpoints of the other families, saved in the layout of their official hub
# repositories, and a hub cache holding one checkpoint of each family under its hub id.

EDGETAM_HUB_ID = "yonigozlan/EdgeTAM-hf"
SAM3_HUB_ID = "facebook/sam3"
SAM3_IMAGE_SIZE = 112  # a multiple of SAM 3's 14-pixel patches (the real model uses 1008)


def tiny_edgetam_video_config():
    """An ``edgetam_video`` config (~2.7M parameters at 128x128) on a 4-stage RepViT of widths
    8-64 built through timm.

    transformers' ``EdgeTamVisionConfig`` default asks timm for ``"archirecture": "repvit_m1"``
    (a typo for ``architecture``), so the default builds timm's ``resnet50`` instead of RepViT;
    the backbone config is therefore always given here, spelled correctly.
    """
    from transformers import EdgeTamVideoConfig, EdgeTamVisionConfig, TimmWrapperConfig

    backbone = TimmWrapperConfig(
        architecture="repvit_m1",
        model_args={
            "in_chans": 3,
            "features_only": True,
            "out_indices": [0, 1, 2, 3],
            "embed_dim": (8, 16, 32, 64),  # timm's RepViT constructor arguments
            "depth": (1, 1, 1, 1),
        },
    )
    vision = EdgeTamVisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[64, 32, 16, 8],
        backbone_feature_sizes=[[32, 32], [16, 16], [8, 8]],
        fpn_hidden_size=128,
    )
    return EdgeTamVideoConfig(
        vision_config=vision,
        prompt_encoder_config={"hidden_size": 128, "image_size": IMAGE_SIZE, "patch_size": 16},
        mask_decoder_config={"hidden_size": 128},
        image_size=IMAGE_SIZE,
        memory_attention_hidden_size=128,
        memory_attention_mlp_hidden_size=256,
        memory_attention_rope_feat_sizes=[IMAGE_SIZE // 16, IMAGE_SIZE // 16],
        memory_attention_rope_k_sizes=[IMAGE_SIZE // 32, IMAGE_SIZE // 32],
        memory_encoder_hidden_size=128,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=128,
        memory_fuser_embed_dim=128,
        memory_fuser_intermediate_dim=256,
        perceiver_resampler_num_latents=16,
        perceiver_resampler_num_latents_2d=16,
        perceiver_resampler_hidden_size=64,
        perceiver_resampler_mlp_intermediate_size=128,
    )


def save_edgetam_checkpoint(folder: Path) -> None:
    """A tiny ``edgetam_video`` checkpoint laid out like the SAM 2 repos, which the EdgeTAM port
    follows (its processor_config.json names Sam2VideoProcessor). Object scores get +3 as in
    ``save_video_checkpoint``."""
    from transformers import EdgeTamVideoModel

    torch.manual_seed(0)
    model = EdgeTamVideoModel(tiny_edgetam_video_config()).eval()
    with torch.no_grad():
        model.mask_decoder.pred_obj_score_head.proj_out.bias += 3.0
        model.no_memory_embedding.normal_(std=0.5)  # zeros by default: make it count
    model.save_pretrained(folder)
    tiny_image_processor().save_pretrained(folder)
    Sam2VideoVideoProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}).save_pretrained(
        folder
    )
    processor_config = {
        "point_pad_value": -10,
        "processor_class": "Sam2VideoProcessor",
        "target_size": IMAGE_SIZE,
    }
    (folder / "processor_config.json").write_text(json.dumps(processor_config))


def tiny_sam3_video_config():
    """A ``sam3_video`` config: the whole SAM 3 model (text-prompted concept detector and the
    point/box tracker sharing one ViT), ~5.7M parameters at 112x112."""
    from transformers import Sam3Config, Sam3TrackerVideoConfig, Sam3VideoConfig

    size = SAM3_IMAGE_SIZE
    grid = size // 14
    vision = {
        "model_type": "sam3_vision_model",
        "backbone_config": {
            "model_type": "sam3_vit_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": size,
            "patch_size": 14,
            "window_size": 4,
            "global_attn_indexes": [1],
            "pretrain_image_size": size,
        },
        "fpn_hidden_size": 128,
        "backbone_feature_sizes": [[grid * 4] * 2, [grid * 2] * 2, [grid] * 2],
    }
    small = {"hidden_size": 128, "num_layers": 1, "num_attention_heads": 2}
    small["intermediate_size"] = 128
    detector = Sam3Config(
        vision_config=vision,
        text_config={
            "model_type": "clip_text_model",
            "vocab_size": 1000,
            "hidden_size": 32,
            "intermediate_size": 64,
            "projection_dim": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 32,
            "bos_token_id": 998,
            "eos_token_id": 999,
        },
        geometry_encoder_config={**small, "roi_size": 2},
        detr_encoder_config=small,
        detr_decoder_config={**small, "num_queries": 8},
        mask_decoder_config={"hidden_size": 128, "num_attention_heads": 2},
    )
    tracker = Sam3TrackerVideoConfig(
        vision_config=vision,
        prompt_encoder_config={"hidden_size": 128, "image_size": size, "patch_size": 14},
        mask_decoder_config={"hidden_size": 128, "mlp_dim": 256},
        image_size=size,
        memory_attention_hidden_size=128,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=256,
        memory_attention_rope_feat_sizes=[grid, grid],
        memory_encoder_hidden_size=128,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=128,
        memory_fuser_embed_dim=128,
        memory_fuser_intermediate_dim=256,
    )
    return Sam3VideoConfig(detector_config=detector, tracker_config=tracker)


def save_sam3_checkpoint(folder: Path) -> None:
    """A tiny checkpoint laid out like ``facebook/sam3``: a ``sam3_video`` config.json, one
    model.safetensors keyed by ``Sam3VideoModel``'s module names (``detector_model.*``,
    ``tracker_model.*``, ``tracker_neck.*``), and a processor_config.json holding the image and
    video processors. The hub repo's tokenizer files (for text prompts) are left out: the
    tracker never reads them.

    The weights are written with safetensors directly: ``Sam3VideoModel.save_pretrained`` in
    transformers 5.24 writes ``tracker_model.tracker_model.*`` (its save-time key mapping adds
    the prefix a second time), which no loader reads back.
    """
    from safetensors.torch import save_file
    from transformers import Sam3ImageProcessor, Sam3TrackerVideoProcessor, Sam3VideoModel

    torch.manual_seed(0)
    config = tiny_sam3_video_config()
    model = Sam3VideoModel(config).eval()
    with torch.no_grad():
        model.tracker_model.mask_decoder.pred_obj_score_head.proj_out.bias += 3.0
        # transformers initialises it to zeros, which would hide where it is added.
        model.tracker_model.no_memory_embedding.normal_(std=0.5)
    config.architectures = ["Sam3VideoModel"]
    config.save_pretrained(folder)
    # Cloned: save_file refuses tensors that share storage.
    weights = {
        name: value.detach().clone().contiguous() for name, value in model.state_dict().items()
    }
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    size = {"height": SAM3_IMAGE_SIZE, "width": SAM3_IMAGE_SIZE}
    half = [0.5, 0.5, 0.5]  # SAM 3 normalizes with mean 0.5 / std 0.5 (SAM 2: ImageNet's)
    Sam3TrackerVideoProcessor(
        image_processor=Sam3ImageProcessor(size=size),
        video_processor=Sam2VideoVideoProcessor(size=size, image_mean=half, image_std=half),
        target_size=SAM3_IMAGE_SIZE,
    ).save_pretrained(folder)
    processor_config = json.loads((folder / "processor_config.json").read_text())
    processor_config["processor_class"] = "Sam3VideoProcessor"
    processor_config.pop("point_pad_value", None)
    (folder / "processor_config.json").write_text(json.dumps(processor_config, indent=2))


def add_to_hub_cache(cache: Path, hub_id: str, folder: Path, commit: str = FAKE_COMMIT) -> None:
    """Copy ``folder`` into the hub cache ``cache`` as ``hub_id`` at ``commit`` (refs/main)."""
    repo = cache / ("models--" + hub_id.replace("/", "--"))
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)


@pytest.fixture(scope="session")
def edgetam_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ``edgetam_video`` checkpoint laid out like the EdgeTAM hub repo (needs timm)."""
    pytest.importorskip("timm", reason="EdgeTAM's image encoder is built through timm")
    folder = tmp_path_factory.mktemp("edgetam-video")
    save_edgetam_checkpoint(folder)
    return folder


@pytest.fixture(scope="session")
def sam3_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``sam3_video`` checkpoint laid out like facebook/sam3."""
    folder = tmp_path_factory.mktemp("sam3-video")
    save_sam3_checkpoint(folder)
    return folder


@pytest.fixture(scope="session")
def families_hub_cache(
    tmp_path_factory: pytest.TempPathFactory,
    video_checkpoint: Path,
    edgetam_checkpoint: Path,
    sam3_checkpoint: Path,
) -> Path:
    """A hub cache (``$HF_HOME/hub``) holding one tiny checkpoint of each family under the hub
    id of its short name: ``tiny``, ``edgetam`` and ``sam3``."""
    cache = tmp_path_factory.mktemp("hf-home-families") / "hub"
    add_to_hub_cache(cache, FAKE_HUB_ID, video_checkpoint)
    add_to_hub_cache(cache, EDGETAM_HUB_ID, edgetam_checkpoint)
    add_to_hub_cache(cache, SAM3_HUB_ID, sam3_checkpoint)
    return cache


# ---------------------------------------------------------------- hub detectors
#
# Tiny random detectors, loaded by folder as a hub id would be: the dataset jobs' tests
# (tests/jobs) and the detector notebook (tests/test_notebooks.py) prompt SAM 2 with their boxes.


@pytest.fixture(scope="session")
def detr_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed-set DETR (~7k parameters) with two classes, loaded by folder like a hub id."""
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessor, ResNetConfig

    folder = tmp_path_factory.mktemp("detr")
    torch.manual_seed(0)
    backbone = ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], out_features=["stage2"]
    )
    config = DetrConfig(
        use_timm_backbone=False,
        use_pretrained_backbone=False,
        backbone_config=backbone,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=16,
        decoder_ffn_dim=16,
        num_queries=6,
        id2label={0: "cat", 1: "dog"},
        label2id={"cat": 0, "dog": 1},
    )
    DetrForObjectDetection(config).eval().save_pretrained(folder)
    DetrImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def owlv2_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zero-shot OWLv2 with a letter-level CLIP tokenizer, prompted with text."""
    from transformers import (
        CLIPTokenizer,
        Owlv2Config,
        Owlv2ForObjectDetection,
        Owlv2ImageProcessor,
        Owlv2Processor,
    )

    folder = tmp_path_factory.mktemp("owlv2")
    torch.manual_seed(0)
    # OWLv2 treats a query whose first token id is 0 as padding: keep id 0 for a spare token.
    vocab = {"!": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}
    for letter in "abcdefghijklmnopqrstuvwxyz.":
        vocab[letter] = len(vocab)
        vocab[letter + "</w>"] = len(vocab)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    config = Owlv2Config(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 16,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "pad_token_id": 2,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 64,
            "patch_size": 16,
        },
        projection_dim=16,
    )
    Owlv2ForObjectDetection(config).eval().save_pretrained(folder)
    processor = Owlv2Processor(
        image_processor=Owlv2ImageProcessor(size={"height": 64, "width": 64}), tokenizer=tokenizer
    )
    processor.save_pretrained(folder)
    return folder
