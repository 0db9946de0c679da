"""The image engine's embeddings per family, and the canary for transformers' SAM 3 tracker.

``engine.image.image_embeddings`` is what every front end encodes with. For SAM 2 and EdgeTAM it
is ``get_image_embeddings`` bit for bit; for SAM 3's tracker it is what
``Sam3TrackerVideoModel`` reads on a frame without memory, which transformers' image model
(5.24) gets wrong. The canary fails once transformers fixes that, so the workaround's note can
go.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2_hf import load_model
from sam2_hf.engine.image import ImageEngine, image_embeddings


def pixels(engine: ImageEngine) -> torch.Tensor:
    image = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    return engine.preprocess([image])[0]


@pytest.mark.parametrize("fixture", ["video_checkpoint", "edgetam_checkpoint"])
def test_same_as_get_image_embeddings_for_sam2_and_edgetam(request, fixture):
    engine = ImageEngine(load_model(request.getfixturevalue(fixture), device="cpu"))
    values = pixels(engine)
    with torch.no_grad():
        ours = image_embeddings(engine.model, values)
        theirs = engine.model.get_image_embeddings(values)
    assert len(ours) == len(theirs) == 3
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_sam3_levels_are_the_video_models_on_a_frame_without_memory(sam3_checkpoint):
    """The three levels the decoder reads, the no-memory embedding on the last one, exactly as
    transformers' Sam3TrackerVideoModel prepares a frame (its ``get_image_features``)."""
    engine = ImageEngine(load_model(sam3_checkpoint, device="cpu"))
    video = load_model(sam3_checkpoint, task="video", device="cpu").model
    values = pixels(engine)
    with torch.no_grad():
        ours = engine.encode_pixels(values, [(48, 64)]).features
        levels = video.get_image_features(values).fpn_hidden_states
    assert len(levels) == 3  # the video model drops SAM 3's extra 0.5-scale level
    levels = list(levels)
    levels[-1] = levels[-1] + video.no_memory_embedding
    sizes = video.backbone_feature_sizes
    expected = [
        level.permute(1, 2, 0).reshape(1, -1, *size)
        for level, size in zip(levels, sizes, strict=True)
    ]
    assert all(torch.equal(a, b) for a, b in zip(ours, expected, strict=True))


def test_canary_transformers_sam3_tracker_image_model_misplaces_no_memory_embedding(
    sam3_checkpoint,
):
    """transformers 5.24's Sam3TrackerModel adds the no-memory embedding to SAM 3's extra FPN
    level, then drops that level: its embeddings lack the embedding where the decoder reads it.
    If this fails, transformers fixed it: drop the note in ``engine.image.image_embeddings``
    (the slicing there stays harmless) and this test."""
    engine = ImageEngine(load_model(sam3_checkpoint, device="cpu"))
    model = engine.model
    assert model.no_memory_embedding.abs().sum() > 0  # else the comparison proves nothing
    values = pixels(engine)
    with torch.no_grad():
        ours = image_embeddings(model, values)
        theirs = model.get_image_embeddings(values)
    assert torch.equal(ours[0], theirs[0]) and torch.equal(ours[1], theirs[1])
    difference = ours[2] - theirs[2]
    assert not torch.equal(ours[2], theirs[2]), (
        "transformers fixed Sam3TrackerModel.get_image_embeddings: remove the workaround note"
    )
    expected = model.no_memory_embedding.reshape(1, -1, 1, 1).expand_as(difference)
    torch.testing.assert_close(difference, expected, rtol=0, atol=1e-5)
