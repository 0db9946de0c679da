"""Meta's config names, YAML files and Hydra overrides -> transformers configs."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

from sam2_hf.compat.configs import (
    BUILTIN_CONFIGS,
    VIDEO_POSTPROCESSING,
    apply_overrides,
    known_config_names,
    load_meta_config,
    resolve_config_name,
    to_transformers,
)


@pytest.mark.parametrize(
    ("spelling", "path"),
    [
        ("configs/sam2.1/sam2.1_hiera_t.yaml", "configs/sam2.1/sam2.1_hiera_t.yaml"),
        ("sam2.1/sam2.1_hiera_s.yaml", "configs/sam2.1/sam2.1_hiera_s.yaml"),
        ("sam2.1_hiera_b+", "configs/sam2.1/sam2.1_hiera_b+.yaml"),
        ("sam2.1_hiera_base_plus", "configs/sam2.1/sam2.1_hiera_b+.yaml"),
        ("sam2.1_hiera_large.pt", "configs/sam2.1/sam2.1_hiera_l.yaml"),
        ("sam2_hiera_tiny", "configs/sam2/sam2_hiera_t.yaml"),
        ("sam2_hiera_l.yaml", "configs/sam2/sam2_hiera_l.yaml"),  # the package-root alias
        ("small", "configs/sam2.1/sam2.1_hiera_s.yaml"),
    ],
)
def test_config_spellings(spelling: str, path: str) -> None:
    assert resolve_config_name(spelling) == path
    assert load_meta_config(spelling)[0] == path


def test_unknown_config_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="not a known SAM 2 config") as caught:
        load_meta_config("sam2.1_hiera_xl")
    for name in known_config_names():
        assert repr(name) in str(caught.value)
    assert len(known_config_names()) == 8


@pytest.mark.parametrize("name", list(BUILTIN_CONFIGS))
def test_released_configs_build_transformers_configs(name: str) -> None:
    config = to_transformers(apply_overrides(BUILTIN_CONFIGS[name], VIDEO_POSTPROCESSING))
    backbone = config.vision_config.backbone_config
    expected = {  # transformers' own converter (convert_sam2_video_to_hf.get_config)
        "t": ([1, 2, 7, 2], [5, 7, 9], [7, 7], [8, 4, 14, 7], 96),
        "s": ([1, 2, 11, 2], [7, 10, 13], [7, 7], [8, 4, 14, 7], 96),
        "b+": ([2, 3, 16, 3], [12, 16, 20], [14, 14], [8, 4, 14, 7], 112),
        "l": ([2, 6, 36, 4], [23, 33, 43], [7, 7], [8, 4, 16, 8], 144),
    }[name.rsplit("_", 1)[1].removesuffix(".yaml")]
    assert list(backbone.blocks_per_stage) == expected[0]
    assert list(backbone.global_attention_blocks) == expected[1]
    assert list(backbone.window_positional_embedding_background_size) == expected[2]
    assert list(backbone.window_size_per_stage) == expected[3]
    assert backbone.hidden_size == expected[4]
    assert config.vision_config.backbone_channel_list == [expected[4] * 8 // 2**i for i in range(4)]
    sam21 = "sam2.1" in name
    assert config.enable_temporal_pos_encoding_for_object_pointers is sam21
    assert config.enable_occlusion_spatial_embedding is sam21
    assert config.mask_decoder_config.dynamic_multimask_via_stability is True
    assert config.image_size == 1024 and config.num_maskmem == 7


def test_overrides() -> None:
    base = BUILTIN_CONFIGS["configs/sam2.1/sam2.1_hiera_t.yaml"]
    changed = apply_overrides(
        base,
        [
            "++model.fill_hole_area=0",
            "model.memory_attention.num_layers=2",
            "+model.image_encoder.trunk.window_spec=[8, 4, 14, 7]",
            "++model.memory_encoder.fuser.layer.layer_scale_init_value=1e-5",
            "~model.max_obj_ptrs_in_encoder",
        ],
    )
    assert changed["fill_hole_area"] == 0
    assert changed["memory_attention.num_layers"] == 2
    assert changed["image_encoder.trunk.window_spec"] == [8, 4, 14, 7]
    assert changed["memory_encoder.fuser.layer.layer_scale_init_value"] == 1e-5
    assert changed["max_obj_ptrs_in_encoder"] == 16  # the constructor's default
    assert base["fill_hole_area"] == 0 and base["memory_attention.num_layers"] == 4  # unchanged
    with pytest.raises(ValueError, match="outside 'model'"):
        apply_overrides(base, ["++trainer.max_epochs=3"])
    with pytest.raises(ValueError, match="must have the form"):
        apply_overrides(base, ["++model.fill_hole_area"])
    with pytest.raises(TypeError, match="list of strings"):
        apply_overrides(base, "++model.fill_hole_area=0")  # type: ignore[arg-type]


def test_settings_transformers_cannot_reproduce_are_named() -> None:
    base = BUILTIN_CONFIGS["configs/sam2.1/sam2.1_hiera_t.yaml"]
    bad = apply_overrides(base, ["++model.use_high_res_features_in_sam=false"])
    with pytest.raises(ValueError, match=r"use_high_res_features_in_sam=False is not supported"):
        to_transformers(bad)
    # binarize_mask_from_pts_for_mem_enc matters to videos only.
    to_transformers(base, video=False)
    with pytest.raises(ValueError, match="apply_postprocessing=True"):
        to_transformers(base, video=True)
    typo = apply_overrides(base, ["++model.fill_hole_aera=0"])
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['fill_hole_aera'\]"):
        to_transformers(typo, video=False)
    narrow = apply_overrides(base, ["++model.memory_attention.d_model=128"])
    with pytest.raises(ValueError, match="must equal image_encoder.neck.d_model"):
        to_transformers(narrow, video=False)


def test_settings_without_effect_warn_once() -> None:
    base = BUILTIN_CONFIGS["configs/sam2.1/sam2.1_hiera_s.yaml"]
    compiled = apply_overrides(base, ["++model.compile_image_encoder=true"])
    with pytest.warns(UserWarning, match="compile_image_encoder"):
        to_transformers(compiled, video=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        to_transformers(compiled, video=False)


def test_yaml_file_in_meta_training_format(tmp_path: Path) -> None:
    """A training config: the model under trainer.model, ${scratch.resolution} references,
    training-only settings (ignored with a warning)."""
    model = {
        "_target_": "training.model.sam2.SAM2Train",
        "image_encoder": {
            "_target_": "sam2.modeling.backbones.image_encoder.ImageEncoder",
            "scalp": 1,
            "trunk": {"embed_dim": 112, "num_heads": 2, "drop_path_rate": 0.1},
            "neck": {
                "position_encoding": {"num_pos_feats": 256, "normalize": True, "scale": None,
                                      "temperature": 10000},
                "d_model": 256,
                "backbone_channel_list": [896, 448, 224, 112],
                "fpn_top_down_levels": [2, 3],
                "fpn_interp_model": "nearest",
            },
        },
        "image_size": "${scratch.resolution}",
        "prob_to_use_pt_input_for_train": 0.5,
    }  # fmt: skip
    released = BUILTIN_CONFIGS["configs/sam2.1/sam2.1_hiera_b+.yaml"]
    for key in ("memory_attention", "memory_encoder"):
        model[key] = _unflatten({k: v for k, v in released.items() if k.startswith(key + ".")})[key]
    for key, value in released.items():
        if "." not in key and key not in model:
            model[key] = value
    path = tmp_path / "finetune.yaml"
    path.write_text(yaml.safe_dump({"scratch": {"resolution": 1024}, "trainer": {"model": model}}))
    name, settings = load_meta_config(path)
    assert name == str(path)
    assert settings["image_size"] == 1024
    with pytest.warns(UserWarning, match="prob_to_use_pt_input_for_train"):
        from_yaml = to_transformers(apply_overrides(settings, VIDEO_POSTPROCESSING), name=name)
    from_name = to_transformers(apply_overrides(released, VIDEO_POSTPROCESSING))
    assert from_yaml.to_dict() == from_name.to_dict()


def test_unresolvable_reference(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  image_size: ${nowhere.size}\n")
    with pytest.raises(ValueError, match=r"cannot resolve '\$\{nowhere.size\}'"):
        load_meta_config(path)


def _unflatten(flat: dict) -> dict:
    tree: dict = {}
    for key, value in flat.items():
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def test_released_configs_equal_meta_yaml_files() -> None:
    """Each built-in config holds exactly what Hydra composes from Meta's YAML file."""
    pytest.importorskip("sam2")
    import sam2  # noqa: F401  (registers Meta's config module with Hydra)
    from hydra import compose
    from omegaconf import OmegaConf

    for name, ours in BUILTIN_CONFIGS.items():
        composed = OmegaConf.to_container(compose(config_name=name).model, resolve=True)
        flat = {
            key: value for key, value in _flatten(composed).items() if not key.endswith("_target_")
        }
        mismatched = {
            key: (value, ours.get(key)) for key, value in flat.items() if ours.get(key) != value
        }
        assert not mismatched, (name, mismatched)


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
