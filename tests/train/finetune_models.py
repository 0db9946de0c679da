"""Tiny checkpoints for the fine-tuning tests, derived from the conftest fixtures.

A random tiny model's image features are ~30x smaller than a trained model's (transformers
initialises every weight with std 0.02), and a decoder reading such features needs hundreds of
steps before the masks depend on the image at all. ``with_trained_scale`` rescales the vision
neck and the decoder's two high-resolution projections so that every feature level has a
standard deviation near 1, as in a trained model; nothing else changes. The same kind of
adjustment as conftest's object-score bias, which makes random video models "see" objects.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch


def with_trained_scale(source: Path, destination: Path) -> Path:
    """Copy the checkpoint in ``source`` to ``destination`` with unit-scale image features."""
    from transformers import AutoConfig, Sam2Model, Sam2VideoModel

    from sam2_hf.engine.loading import load_model
    from sam2_hf.train.items import pixel_values
    from sam2_hf.train.model import image_embeddings

    loaded = load_model(source, task="image", device="cpu")
    image = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    with torch.no_grad():
        levels = image_embeddings(loaded.model, pixel_values(loaded.processor, image)[None])
    neck_gain = 1.0 / float(levels[-1].std())
    video = AutoConfig.from_pretrained(source).model_type == "sam2_video"
    model = (Sam2VideoModel if video else Sam2Model).from_pretrained(source)
    with torch.no_grad():
        for conv in model.vision_encoder.neck.convs:
            conv.weight *= neck_gain
            conv.bias *= neck_gain
        for conv, level in ((model.mask_decoder.conv_s0, 0), (model.mask_decoder.conv_s1, 1)):
            conv.weight *= 1.0 / (neck_gain * float(levels[level].std()))
    shutil.copytree(source, destination)
    model.save_pretrained(destination)
    return destination
