"""EdgeTAM and SAM 3 tracker checkpoints: loaded by folder and by hub id, for images and videos.

The checkpoints are tiny random ones laid out like their official hub repositories (see the
fixtures at the end of conftest.py). What is checked here is loading: the classes, the
processors, that every weight comes from the checkpoint, and the errors; the package's masks on
these models are checked by the image and video tests.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import transformers
from conftest import EDGETAM_HUB_ID, FAKE_HUB_ID, SAM3_HUB_ID, SAM3_IMAGE_SIZE
from safetensors.torch import load_file

from sam2_hf import list_models, load_model
from sam2_hf.engine import loading

FAMILY_CLASSES = {
    "edgetam": ("EdgeTamModel", "Sam2Processor", "EdgeTamVideoModel", "Sam2VideoProcessor"),
    "sam3": (
        "Sam3TrackerModel",
        "Sam3TrackerProcessor",
        "Sam3TrackerVideoModel",
        "Sam3TrackerVideoProcessor",
    ),
}


@pytest.fixture(params=["edgetam", "sam3"])
def family_checkpoint(request):
    """(short name, checkpoint folder) for each of the two families."""
    fixture = {"edgetam": "edgetam_checkpoint", "sam3": "sam3_checkpoint"}[request.param]
    return request.param, request.getfixturevalue(fixture)


def _load_quietly(source, caplog, **options):
    """Load with transformers' warnings captured: none is expected on the normal path."""
    transformers.logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING):
            loaded = load_model(source, device="cpu", **options)
    finally:
        transformers.logging.disable_propagation()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    return loaded


def test_folder_loads_for_images_and_videos(family_checkpoint, caplog):
    name, folder = family_checkpoint
    image_model, image_processor, video_model, video_processor = FAMILY_CLASSES[name]
    image = _load_quietly(folder, caplog, task="image")
    video = _load_quietly(folder, caplog, task="video")
    assert (type(image.model).__name__, type(image.processor).__name__) == (
        image_model,
        image_processor,
    )
    assert (type(video.model).__name__, type(video.processor).__name__) == (
        video_model,
        video_processor,
    )
    family = loading.MODELS[name].family
    assert image.family == video.family == family
    assert not image.model.training and not video.model.training


def test_image_weights_equal_the_video_checkpoints_image_part(family_checkpoint):
    _, folder = family_checkpoint
    image = load_model(folder, device="cpu").model.state_dict()
    video = load_model(folder, task="video", device="cpu").model.state_dict()
    assert image.keys() <= video.keys()
    assert all(torch.equal(image[key], video[key]) for key in image)


def _hub_key_to_tracker_key(key: str) -> str | None:
    """facebook/sam3's names (Sam3VideoModel's modules) -> Sam3TrackerVideoModel's, as
    transformers' sam3_tracker conversion mapping renames them; None for detector-only weights."""
    if key.startswith("detector_model.vision_encoder.backbone."):
        return key.removeprefix("detector_model.")
    if key.startswith("tracker_neck."):
        return "vision_encoder.neck." + key.removeprefix("tracker_neck.")
    if key.startswith("tracker_model."):
        return key.removeprefix("tracker_model.")
    return None


def test_every_tracker_weight_comes_from_the_checkpoint(edgetam_checkpoint, sam3_checkpoint):
    """Not random: each parameter of the loaded video models equals the checkpoint's tensor."""
    for folder, rename in (
        (edgetam_checkpoint, lambda key: key),
        (sam3_checkpoint, _hub_key_to_tracker_key),
    ):
        stored = {
            rename(key): value
            for key, value in load_file(folder / "model.safetensors").items()
            if rename(key) is not None
        }
        model = load_model(folder, task="video", device="cpu").model
        for key, value in model.state_dict().items():
            assert key in stored, key
            assert torch.equal(value, stored[key]), key


def test_hub_ids_load_through_the_cache(families_hub_cache, caplog):
    for name, hub_id in (("edgetam", EDGETAM_HUB_ID), ("sam3", SAM3_HUB_ID)):
        assert loading.MODELS[name].hub_id == hub_id
        image_model, _, video_model, _ = FAMILY_CLASSES[name]
        by_name = _load_quietly(name, caplog, cache_dir=families_hub_cache)
        by_id = _load_quietly(hub_id, caplog, cache_dir=families_hub_cache, task="video")
        assert by_name.source == by_id.source == hub_id
        assert type(by_name.model).__name__ == image_model
        assert type(by_id.model).__name__ == video_model


def test_list_models_shows_each_familys_cached_checkpoint(families_hub_cache):
    models = {m.name: (m.family, m.cached) for m in list_models(cache_dir=families_hub_cache)}
    assert models == {
        "tiny": ("sam2", True),
        "small": ("sam2", False),
        "base-plus": ("sam2", False),
        "large": ("sam2", False),
        "edgetam": ("edgetam", True),
        "sam3": ("sam3_tracker", True),
    }
    assert loading.is_cached(FAKE_HUB_ID, families_hub_cache)


def test_loaded_image_models_run_with_their_processors(family_checkpoint):
    """The processor each family is given prepares inputs its model accepts, at its size."""
    name, folder = family_checkpoint
    loaded = load_model(folder, device="cpu")
    size = SAM3_IMAGE_SIZE if name == "sam3" else 128
    assert loaded.processor.target_size == size
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    inputs = loaded.processor(
        images=image, input_points=[[[[10.0, 20.0]]]], input_labels=[[[1]]], return_tensors="pt"
    )
    assert tuple(inputs["pixel_values"].shape) == (1, 3, size, size)
    with torch.no_grad():
        outputs = loaded.model(**inputs)
    # Low-res masks are 4x the embedding grid: 256 for SAM 2's 1024 / 16, 288 for SAM 3's
    # 1008 / 14 (so not a quarter of the input there).
    low_res = 4 * (size // 14) if name == "sam3" else size // 4
    assert tuple(outputs.pred_masks.shape) == (1, 1, 3, low_res, low_res)
    masks = loaded.processor.post_process_masks(outputs.pred_masks, inputs["original_sizes"])
    assert tuple(masks[0].shape) == (1, 3, 48, 64)


def test_image_only_checkpoints_cannot_track_and_say_what_to_load(family_checkpoint, tmp_path):
    name, folder = family_checkpoint
    image = load_model(folder, device="cpu")
    image.model.save_pretrained(tmp_path)  # an image-only checkpoint of the family
    image.processor.save_pretrained(tmp_path)
    assert type(load_model(tmp_path, device="cpu").model) is type(image.model)  # images: fine
    expected = {
        "edgetam": ("EdgeTAM", "edgetam", "'edgetam_video'", EDGETAM_HUB_ID),
        "sam3": ("SAM 3 (tracker)", "sam3_tracker", "'sam3_tracker_video' or 'sam3_video'",
                 SAM3_HUB_ID),
    }  # fmt: skip
    title, model_type, video_types, hub_id = expected[name]
    with pytest.raises(ValueError) as caught:
        load_model(tmp_path, task="video", device="cpu")
    assert str(caught.value) == (
        f"checkpoint model type {model_type!r} is an image-only {title} checkpoint: it cannot be "
        f"used for videos (it has no memory weights). Load a {title} video checkpoint instead "
        f"(model type {video_types}), such as {name!r} ({hub_id}), or use task='image'."
    )


def test_edgetam_without_timm_says_which_extra_to_install(edgetam_checkpoint, monkeypatch):
    monkeypatch.setattr(loading, "_installed", lambda module: module != "timm")
    with pytest.raises(ImportError, match=r"EdgeTAM checkpoints need the 'timm' package.*"
                       r"pip install 'sam2-hf\[edgetam\]'"):  # fmt: skip
        load_model(edgetam_checkpoint, device="cpu")
