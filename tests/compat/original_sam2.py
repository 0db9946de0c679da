"""A tiny original sam2 model with random weights, saved as a Meta-style ``.pt``, for the
side-by-side tests of ``sam2_hf.compat`` (which need the ``sam2`` package: the ``original``
extra). Import this module after ``pytest.importorskip("sam2")``.

The tiny model is Meta's ``sam2.1_hiera_t.yaml`` with Hydra overrides (``TINY_OVERRIDES``):
128-pixel input, 12-wide Hiera, 128-wide model, two memory-attention layers, ~3M parameters.
Both packages build it from the same overrides and the same ``.pt``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
IMAGE_SIZE = 128
TINY_OVERRIDES = [
    f"++model.image_size={IMAGE_SIZE}",
    "++model.image_encoder.trunk.embed_dim=12",
    "++model.image_encoder.neck.d_model=128",
    "++model.image_encoder.neck.backbone_channel_list=[96,48,24,12]",
    "++model.image_encoder.neck.position_encoding.num_pos_feats=128",
    "++model.memory_attention.d_model=128",
    "++model.memory_attention.num_layers=2",
    "++model.memory_attention.layer.d_model=128",
    "++model.memory_attention.layer.dim_feedforward=256",
    "++model.memory_attention.layer.self_attention.embedding_dim=128",
    "++model.memory_attention.layer.cross_attention.embedding_dim=128",
    "++model.memory_encoder.in_dim=128",
    "++model.memory_encoder.mask_downsampler.embed_dim=128",
    "++model.memory_encoder.fuser.layer.dim=128",
]
# A seed whose random model gives masks of many sizes (not all empty or all full).
SEED = 3
# The original's predictor assumes the 1024 model's feature sizes; the tiny one's:
FEAT_SIZES = [(IMAGE_SIZE // 4,) * 2, (IMAGE_SIZE // 8,) * 2, (IMAGE_SIZE // 16,) * 2]


def save_tiny_checkpoint(path: Path) -> Path:
    """Build the tiny original model with random weights and save it as Meta does."""
    from sam2.build_sam import build_sam2

    torch.manual_seed(SEED)
    model = build_sam2(CONFIG, None, device="cpu", hydra_overrides_extra=TINY_OVERRIDES)
    with torch.no_grad():
        # Random weights put the object score near 0 and tracked masks would all be empty.
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias += 3.0
    torch.save({"model": model.state_dict(), "epoch": 0}, path)
    return path


@dataclass
class Originals:
    """The tiny model as the original package builds it, and its ``.pt``."""

    checkpoint: Path
    image_model: torch.nn.Module
    video_predictor: torch.nn.Module


_cache: dict[str, Originals] = {}


def originals(folder: Path) -> Originals:
    """The tiny original models, built once per test session."""
    if "tiny" not in _cache:
        from sam2.build_sam import build_sam2, build_sam2_video_predictor

        checkpoint = save_tiny_checkpoint(folder / "sam2.1_hiera_tiny_random.pt")
        image = build_sam2(CONFIG, checkpoint, device="cpu", hydra_overrides_extra=TINY_OVERRIDES)
        video = build_sam2_video_predictor(
            CONFIG, checkpoint, device="cpu", hydra_overrides_extra=TINY_OVERRIDES
        )
        _cache["tiny"] = Originals(checkpoint, image, video)
    return _cache["tiny"]


def original_image_predictor(model: torch.nn.Module, **kwargs: object) -> object:
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    predictor = SAM2ImagePredictor(model, **kwargs)
    predictor._bb_feat_sizes = FEAT_SIZES
    return predictor


def _connected_components(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """sam2's CUDA connected components (8-connected labels and each pixel's region area)
    on the CPU, so the original's hole filling runs here as it runs on a GPU."""
    planes = mask.to(torch.uint8).cpu().numpy()
    labels = np.zeros(planes.shape, np.int32)
    areas = np.zeros(planes.shape, np.int32)
    for i in range(planes.shape[0]):
        label, _ = ndimage.label(planes[i, 0], structure=np.ones((3, 3)))
        counts = np.bincount(label.ravel())
        labels[i, 0] = label
        areas[i, 0] = np.where(label > 0, counts[label], 0)
    return torch.from_numpy(labels).to(mask.device), torch.from_numpy(areas).to(mask.device)


@contextlib.contextmanager
def original_on_cpu() -> Iterator[None]:
    """Run the original on the CPU as it runs on a GPU.

    - Its hole filling needs a CUDA kernel (``sam2._C``), without which it warns and skips:
      give it a CPU version.
    - It stores memories in bfloat16 and relies on autocast (or on object pointers promoting
      the concatenated memory) to bring them back to float32 for the memory attention;
      without autocast a frame with no object pointer fails with a dtype error. Cast the
      memory to float32 first, the cast ``torch.cat`` does whenever there are pointers.
    """
    import sam2.utils.misc as misc
    from sam2.modeling.memory_attention import MemoryAttention

    forward = MemoryAttention.forward

    def float_memory(self, curr, memory, *args, **kwargs):  # type: ignore[no-untyped-def]
        return forward(self, curr, memory.float(), *args, **kwargs)

    components = misc.get_connected_components
    misc.get_connected_components = _connected_components
    MemoryAttention.forward = float_memory  # type: ignore[method-assign]
    try:
        yield
    finally:
        misc.get_connected_components = components
        MemoryAttention.forward = forward  # type: ignore[method-assign]


def test_image(seed: int = 0, height: int = 48, width: int = 64) -> np.ndarray:
    """A non-square RGB uint8 image: an orange block on dark noise."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    image[10:30, 20:50] = (200, 80, 40)
    return image


test_image.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


def write_frames(folder: Path, count: int = 5, height: int = 48, width: int = 64) -> Path:
    """A folder of JPEG frames named as the original's loader wants (``00000.jpg`` ...): a
    block drifting right over noise."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        frame = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
        frame[10 + i : 30 + i, 20 + 2 * i : 50 + 2 * i] = (200, 80, 40)
        Image.fromarray(frame).save(folder / f"{i:05d}.jpg", quality=95)
    return folder


def quiet_tqdm() -> None:
    """The original's progress bars clutter test output."""
    os.environ.setdefault("TQDM_DISABLE", "1")
