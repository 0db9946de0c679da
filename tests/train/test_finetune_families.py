"""Fine-tuning EdgeTAM and SAM 3 tracker checkpoints: a short run on each saves a folder that
the predictor, the generator and the tracker load, with only the mask decoder changed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from finetune_shapes import make_shapes, write_mask_folder

from sam2_hf import MaskGenerator, Sam2Predictor, VideoTracker, load_model
from sam2_hf.train import finetune

FIXTURES = {"edgetam": "edgetam_checkpoint", "sam3": "sam3_checkpoint"}
VIDEO_TYPES = {"edgetam": "edgetam_video", "sam3": "sam3_tracker_video"}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shapes") / "data"
    return write_mask_folder(folder, make_shapes(8, seed=0, max_objects=1))


@pytest.mark.parametrize("name", list(FIXTURES))
def test_short_run_saves_a_checkpoint_every_class_loads(request, tmp_path, shapes, name):
    base = request.getfixturevalue(FIXTURES[name])
    output = tmp_path / "out"
    result = finetune(
        shapes, output, model=base, epochs=1, batch_size=4, learning_rate=1e-3,
        val_fraction=0.25, seed=0, cpu=True, progress=False,
    )  # fmt: skip
    assert result.steps == 2 and result.after.objects == result.before.objects > 0
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["model_type"] == VIDEO_TYPES[name]

    before = load_model(base, device="cpu").model.state_dict()
    after = load_model(output, device="cpu").model.state_dict()
    assert before.keys() == after.keys()
    changed = {key for key in before if not torch.equal(before[key], after[key])}
    assert changed and all(key.startswith("mask_decoder.") for key in changed)

    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    predictor = Sam2Predictor.from_pretrained(output, device="cpu")
    predictor.set_image(image)
    assert predictor.predict(box=(5, 5, 40, 40)).masks.shape == (1, 48, 64)
    generator = MaskGenerator(predictor, points_per_side=2)
    assert isinstance(generator.generate(image), list)
    tracker = VideoTracker.from_pretrained(output, device="cpu", progress=False)
    assert tracker.model.config.model_type == VIDEO_TYPES[name]
    session = tracker.open([image, image])
    session.add(frame_idx=0, obj_id=1, box=(5, 5, 40, 40))
    assert len(list(session.propagate())) == 2


def test_lora_on_sam3s_vit_and_a_clear_error_for_edgetams_repvit(
    tmp_path, shapes, sam3_checkpoint, edgetam_checkpoint
):
    base = load_model(sam3_checkpoint, device="cpu").model.state_dict()
    finetune(
        shapes, tmp_path / "sam3", model=sam3_checkpoint, epochs=1, batch_size=4,
        image_encoder="lora", lora_rank=2, val_fraction=0.25, seed=0, cpu=True, progress=False,
    )  # fmt: skip
    tuned = load_model(tmp_path / "sam3", device="cpu").model.state_dict()
    changed = {key for key in base if not torch.equal(base[key], tuned[key])}
    assert any(".attention." in key for key in changed)  # the merged adapters
    with pytest.raises(ValueError, match=r"EdgeTAM's image encoder has none .*image_encoder="):
        finetune(
            shapes, tmp_path / "edgetam", model=edgetam_checkpoint, epochs=1,
            image_encoder="lora", cpu=True, progress=False,
        )  # fmt: skip
