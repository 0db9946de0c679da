"""Meta's model configs (``configs/sam2.1/sam2.1_hiera_l.yaml`` ...) as transformers configs.

The original sam2 builds its model with Hydra from a YAML file. Here the eight released
configs are held as data (the YAML values over the original constructors' defaults), Hydra
overrides such as ``"++model.fill_hole_area=0"`` are applied to them, and the result is turned
into a ``Sam2VideoConfig``. A YAML file of one's own (a fine-tuned model's) is read the same
way. Settings transformers' model cannot express raise a ``ValueError`` that names them.

A config is a flat dict of dotted keys below ``model`` (``"image_encoder.trunk.embed_dim"``),
so that overrides, YAML files and the built-in configs share one form.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from transformers import Sam2HieraDetConfig, Sam2VideoConfig, Sam2VisionConfig

MetaConfig = dict[str, Any]

# The original constructors' defaults for every setting read here (SAM2Base, Hiera, FpnNeck,
# MemoryEncoder, MaskDownSampler, CXBlock, RoPEAttention, MaskDecoder, SAM2VideoPredictor):
# a YAML file that leaves a setting out gets this value, as Hydra would give it.
_CONSTRUCTOR_DEFAULTS: MetaConfig = {
    "image_size": 512,
    "backbone_stride": 16,
    "num_maskmem": 7,
    "sigmoid_scale_for_mem_enc": 1.0,
    "sigmoid_bias_for_mem_enc": 0.0,
    "binarize_mask_from_pts_for_mem_enc": False,
    "use_mask_input_as_output_without_sam": False,
    "max_cond_frames_in_attn": -1,
    "directly_add_no_mem_embed": False,
    "use_high_res_features_in_sam": False,
    "multimask_output_in_sam": False,
    "multimask_min_pt_num": 1,
    "multimask_max_pt_num": 1,
    "multimask_output_for_tracking": False,
    "use_multimask_token_for_obj_ptr": False,
    "iou_prediction_use_sigmoid": False,
    "memory_temporal_stride_for_eval": 1,
    "non_overlap_masks_for_mem_enc": False,
    "use_obj_ptrs_in_encoder": False,
    "max_obj_ptrs_in_encoder": 16,
    "add_tpos_enc_to_obj_ptrs": True,
    "proj_tpos_enc_in_obj_ptrs": False,
    "use_signed_tpos_enc_to_obj_ptrs": False,
    "only_obj_ptrs_in_the_past_for_eval": False,
    "pred_obj_scores": False,
    "pred_obj_scores_mlp": False,
    "fixed_no_obj_ptr": False,
    "soft_no_obj_ptr": False,
    "use_mlp_for_obj_ptr_proj": False,
    "no_obj_embed_spatial": False,
    "compile_image_encoder": False,
    "sam_mask_decoder_extra_args.dynamic_multimask_via_stability": False,
    "sam_mask_decoder_extra_args.dynamic_multimask_stability_delta": 0.05,
    "sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh": 0.98,
    # SAM2VideoPredictor
    "fill_hole_area": 0,
    "non_overlap_masks": False,
    "clear_non_cond_mem_around_input": False,
    "add_all_frames_to_correct_as_cond": False,
    # image encoder
    "image_encoder.scalp": 0,
    "image_encoder.trunk.embed_dim": 96,
    "image_encoder.trunk.num_heads": 1,
    "image_encoder.trunk.drop_path_rate": 0.0,
    "image_encoder.trunk.q_pool": 3,
    "image_encoder.trunk.q_stride": [2, 2],
    "image_encoder.trunk.stages": [2, 3, 16, 3],
    "image_encoder.trunk.dim_mul": 2.0,
    "image_encoder.trunk.head_mul": 2.0,
    "image_encoder.trunk.window_pos_embed_bkg_spatial_size": [14, 14],
    "image_encoder.trunk.window_spec": [8, 4, 14, 7],
    "image_encoder.trunk.global_att_blocks": [12, 16, 20],
    "image_encoder.trunk.weights_path": None,
    "image_encoder.trunk.return_interm_layers": True,
    "image_encoder.neck.kernel_size": 1,
    "image_encoder.neck.stride": 1,
    "image_encoder.neck.padding": 0,
    "image_encoder.neck.fpn_interp_model": "bilinear",
    "image_encoder.neck.fuse_type": "sum",
    "image_encoder.neck.fpn_top_down_levels": None,
    "image_encoder.neck.position_encoding.temperature": 10000,
    "image_encoder.neck.position_encoding.normalize": True,
    "image_encoder.neck.position_encoding.scale": None,
    # memory attention
    "memory_attention.layer.self_attention.rope_theta": 10000.0,
    "memory_attention.layer.self_attention.rope_k_repeat": False,
    "memory_attention.layer.self_attention.feat_sizes": [64, 64],
    "memory_attention.layer.self_attention.downsample_rate": 1,
    "memory_attention.layer.self_attention.dropout": 0.0,
    "memory_attention.layer.self_attention.kv_in_dim": None,
    "memory_attention.layer.cross_attention.rope_theta": 10000.0,
    "memory_attention.layer.cross_attention.rope_k_repeat": False,
    "memory_attention.layer.cross_attention.feat_sizes": [64, 64],
    "memory_attention.layer.cross_attention.downsample_rate": 1,
    "memory_attention.layer.cross_attention.dropout": 0.0,
    "memory_attention.layer.cross_attention.kv_in_dim": None,
    # memory encoder
    "memory_encoder.in_dim": 256,
    "memory_encoder.position_encoding.temperature": 10000,
    "memory_encoder.position_encoding.normalize": True,
    "memory_encoder.position_encoding.scale": None,
    "memory_encoder.mask_downsampler.embed_dim": 256,
    "memory_encoder.mask_downsampler.kernel_size": 4,
    "memory_encoder.mask_downsampler.stride": 4,
    "memory_encoder.mask_downsampler.padding": 0,
    "memory_encoder.mask_downsampler.total_stride": 16,
    "memory_encoder.fuser.dim": None,
    "memory_encoder.fuser.input_projection": False,
    "memory_encoder.fuser.layer.kernel_size": 7,
    "memory_encoder.fuser.layer.padding": 3,
    "memory_encoder.fuser.layer.drop_path": 0.0,
    "memory_encoder.fuser.layer.layer_scale_init_value": 1e-6,
    "memory_encoder.fuser.layer.use_dwconv": True,
}

# What configs/sam2.1/sam2.1_hiera_t.yaml sets; the other seven differ as below.
_SAM21_TINY_YAML: MetaConfig = {
    "image_encoder.scalp": 1,
    "image_encoder.trunk.embed_dim": 96,
    "image_encoder.trunk.num_heads": 1,
    "image_encoder.trunk.stages": [1, 2, 7, 2],
    "image_encoder.trunk.global_att_blocks": [5, 7, 9],
    "image_encoder.trunk.window_pos_embed_bkg_spatial_size": [7, 7],
    "image_encoder.neck.position_encoding.num_pos_feats": 256,
    "image_encoder.neck.position_encoding.normalize": True,
    "image_encoder.neck.position_encoding.scale": None,
    "image_encoder.neck.position_encoding.temperature": 10000,
    "image_encoder.neck.d_model": 256,
    "image_encoder.neck.backbone_channel_list": [768, 384, 192, 96],
    "image_encoder.neck.fpn_top_down_levels": [2, 3],
    "image_encoder.neck.fpn_interp_model": "nearest",
    "memory_attention.d_model": 256,
    "memory_attention.pos_enc_at_input": True,
    "memory_attention.layer.activation": "relu",
    "memory_attention.layer.dim_feedforward": 2048,
    "memory_attention.layer.dropout": 0.1,
    "memory_attention.layer.pos_enc_at_attn": False,
    "memory_attention.layer.self_attention.rope_theta": 10000.0,
    "memory_attention.layer.self_attention.feat_sizes": [64, 64],
    "memory_attention.layer.self_attention.embedding_dim": 256,
    "memory_attention.layer.self_attention.num_heads": 1,
    "memory_attention.layer.self_attention.downsample_rate": 1,
    "memory_attention.layer.self_attention.dropout": 0.1,
    "memory_attention.layer.d_model": 256,
    "memory_attention.layer.pos_enc_at_cross_attn_keys": True,
    "memory_attention.layer.pos_enc_at_cross_attn_queries": False,
    "memory_attention.layer.cross_attention.rope_theta": 10000.0,
    "memory_attention.layer.cross_attention.feat_sizes": [64, 64],
    "memory_attention.layer.cross_attention.rope_k_repeat": True,
    "memory_attention.layer.cross_attention.embedding_dim": 256,
    "memory_attention.layer.cross_attention.num_heads": 1,
    "memory_attention.layer.cross_attention.downsample_rate": 1,
    "memory_attention.layer.cross_attention.dropout": 0.1,
    "memory_attention.layer.cross_attention.kv_in_dim": 64,
    "memory_attention.num_layers": 4,
    "memory_encoder.out_dim": 64,
    "memory_encoder.position_encoding.num_pos_feats": 64,
    "memory_encoder.position_encoding.normalize": True,
    "memory_encoder.position_encoding.scale": None,
    "memory_encoder.position_encoding.temperature": 10000,
    "memory_encoder.mask_downsampler.kernel_size": 3,
    "memory_encoder.mask_downsampler.stride": 2,
    "memory_encoder.mask_downsampler.padding": 1,
    "memory_encoder.fuser.layer.dim": 256,
    "memory_encoder.fuser.layer.kernel_size": 7,
    "memory_encoder.fuser.layer.padding": 3,
    "memory_encoder.fuser.layer.layer_scale_init_value": 1e-6,
    "memory_encoder.fuser.layer.use_dwconv": True,
    "memory_encoder.fuser.num_layers": 2,
    "num_maskmem": 7,
    "image_size": 1024,
    "sigmoid_scale_for_mem_enc": 20.0,
    "sigmoid_bias_for_mem_enc": -10.0,
    "use_mask_input_as_output_without_sam": True,
    "directly_add_no_mem_embed": True,
    "no_obj_embed_spatial": True,
    "use_high_res_features_in_sam": True,
    "multimask_output_in_sam": True,
    "iou_prediction_use_sigmoid": True,
    "use_obj_ptrs_in_encoder": True,
    "add_tpos_enc_to_obj_ptrs": True,
    "proj_tpos_enc_in_obj_ptrs": True,
    "use_signed_tpos_enc_to_obj_ptrs": True,
    "only_obj_ptrs_in_the_past_for_eval": True,
    "pred_obj_scores": True,
    "pred_obj_scores_mlp": True,
    "fixed_no_obj_ptr": True,
    "multimask_output_for_tracking": True,
    "use_multimask_token_for_obj_ptr": True,
    "multimask_min_pt_num": 0,
    "multimask_max_pt_num": 1,
    "use_mlp_for_obj_ptr_proj": True,
    "compile_image_encoder": False,
}

_TRUNK = "image_encoder.trunk."
_SIZES: dict[str, MetaConfig] = {
    "t": {},
    "s": {_TRUNK + "stages": [1, 2, 11, 2], _TRUNK + "global_att_blocks": [7, 10, 13]},
    # hiera_b+.yaml leaves stages, global_att_blocks and the window background to the defaults
    "b+": {
        _TRUNK + "embed_dim": 112,
        _TRUNK + "num_heads": 2,
        _TRUNK + "stages": [2, 3, 16, 3],
        _TRUNK + "global_att_blocks": [12, 16, 20],
        _TRUNK + "window_pos_embed_bkg_spatial_size": [14, 14],
        "image_encoder.neck.backbone_channel_list": [896, 448, 224, 112],
    },
    "l": {
        _TRUNK + "embed_dim": 144,
        _TRUNK + "num_heads": 2,
        _TRUNK + "stages": [2, 6, 36, 4],
        _TRUNK + "global_att_blocks": [23, 33, 43],
        _TRUNK + "window_spec": [8, 4, 16, 8],
        "image_encoder.neck.backbone_channel_list": [1152, 576, 288, 144],
    },
}
# SAM 2.0 has no occlusion embedding and no temporal encoding of object pointers.
_SAM20: MetaConfig = {
    "no_obj_embed_spatial": False,
    "add_tpos_enc_to_obj_ptrs": False,
    "proj_tpos_enc_in_obj_ptrs": False,
    "use_signed_tpos_enc_to_obj_ptrs": False,
}
_SIZE_WORDS = {"t": "tiny", "s": "small", "b+": "base_plus", "l": "large"}


def _builtin(version: str, size: str) -> MetaConfig:
    config = {**_CONSTRUCTOR_DEFAULTS, **_SAM21_TINY_YAML, **_SIZES[size]}
    if version == "sam2":
        config.update(_SAM20)
    return config


# Meta's config path -> its settings.
BUILTIN_CONFIGS: dict[str, MetaConfig] = {
    f"configs/{version}/{version}_hiera_{size}.yaml": _builtin(version, size)
    for version in ("sam2.1", "sam2")
    for size in _SIZES
}

# Other spellings of the same configs: "sam2.1_hiera_t", "sam2.1_hiera_tiny.pt"'s stem
# "sam2.1_hiera_tiny", "sam2.1_hiera_base_plus", and this package's short names.
_ALIASES: dict[str, str] = {}
for _path in BUILTIN_CONFIGS:
    _stem = Path(_path).stem  # sam2.1_hiera_t
    _version, _size = _stem.split("_hiera_")
    for _word in (_size, _SIZE_WORDS[_size], _SIZE_WORDS[_size].replace("_", "-")):
        _ALIASES[f"{_version}_hiera_{_word}"] = _path
# This package's short names, accepted as they are (not as file names).
_SHORT_NAMES = {
    short: f"configs/sam2.1/sam2.1_hiera_{size}.yaml"
    for short, size in (("tiny", "t"), ("small", "s"), ("base-plus", "b+"), ("large", "l"))
}


def known_config_names() -> list[str]:
    """Meta's config paths accepted everywhere a config is named (short forms work too)."""
    return list(BUILTIN_CONFIGS)


def resolve_config_name(name: str) -> str | None:
    """Meta's config path for a built-in config's name in any accepted spelling, else None.

    Example:
        >>> resolve_config_name("sam2.1_hiera_s")
        'configs/sam2.1/sam2.1_hiera_s.yaml'
    """
    if name.strip() in _SHORT_NAMES:
        return _SHORT_NAMES[name.strip()]
    key = name.strip().replace("\\", "/").split("/")[-1]
    key = key.removesuffix(".yaml").removesuffix(".pt")
    return _ALIASES.get(key)


def load_meta_config(config: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[str, MetaConfig]:
    """A config's display name and settings, from a built-in name, a YAML file or a dict.

    Args:
        config: a built-in name (``"configs/sam2.1/sam2.1_hiera_l.yaml"``,
            ``"sam2.1_hiera_l"``, ``"sam2.1_hiera_large"``, ``"large"``), the path of a YAML
            file in Meta's format (its ``model`` section, or ``trainer.model`` for training
            configs), or a mapping of such settings.

    Raises:
        ValueError: an unknown name (the message lists the known ones) or an unreadable file.
    """
    if isinstance(config, Mapping):
        return "the given config", {**_CONSTRUCTOR_DEFAULTS, **flatten(config)}
    if not isinstance(config, (str, os.PathLike)):
        raise TypeError(
            f"config must be a config name, a YAML path or a dict, got {type(config).__name__}"
        )
    text = os.fspath(config)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") and path.is_file():  # a file wins over a name
        return str(path), {**_CONSTRUCTOR_DEFAULTS, **_read_yaml_model(path)}
    builtin = resolve_config_name(text) if isinstance(text, str) else None
    if builtin is not None:
        return builtin, dict(BUILTIN_CONFIGS[builtin])
    known = ", ".join(repr(name) for name in BUILTIN_CONFIGS)
    raise ValueError(
        f"config {text!r} is not a known SAM 2 config and not an existing YAML file. Known "
        f"configs: {known} (also written 'sam2.1_hiera_t', 'sam2.1_hiera_tiny', 'tiny' ...)."
    )


def flatten(tree: Mapping[str, Any], prefix: str = "") -> MetaConfig:
    """Nested settings -> dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``)."""
    flat: MetaConfig = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _read_yaml_model(path: Path) -> MetaConfig:
    try:
        root = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"config file {str(path)!r} cannot be read as YAML: {error}") from None
    if not isinstance(root, dict):
        raise ValueError(f"config file {str(path)!r} does not hold a YAML mapping")
    model = root.get("model")
    if model is None and isinstance(root.get("trainer"), dict):
        model = root["trainer"].get("model")  # Meta's training configs
    if not isinstance(model, dict):
        raise ValueError(
            f"config file {str(path)!r} has no 'model' section (nor 'trainer.model') as Meta's "
            "SAM 2 configs have"
        )
    flat = flatten(model)
    root_flat = flatten(root)
    for key, value in flat.items():
        flat[key] = _interpolate(value, root_flat, path)
    return flat


_REFERENCE = re.compile(r"^\$\{([\w.]+)\}$")


def _interpolate(value: Any, root: MetaConfig, path: Path) -> Any:
    """Resolve OmegaConf's ``${a.b}`` references, as Hydra does when composing the config."""
    if isinstance(value, str) and "${" in value:
        match = _REFERENCE.match(value)
        if match is None or match.group(1) not in root:
            raise ValueError(
                f"config file {str(path)!r}: cannot resolve {value!r} (only plain ${{a.b}} "
                "references to values of the same file are supported)"
            )
        return _interpolate(root[match.group(1)], root, path)
    return value


# ------------------------------------------------------------------------------ overrides

# What the original build_sam2 / build_sam2_video_predictor add with apply_postprocessing=True.
IMAGE_POSTPROCESSING: tuple[str, ...] = (
    # fall back to the best of the multimask outputs when the single mask is unstable
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
)
VIDEO_POSTPROCESSING: tuple[str, ...] = (
    *IMAGE_POSTPROCESSING,
    # clicked frames' masks enter the memory binarised, as the user sees them
    "++model.binarize_mask_from_pts_for_mem_enc=true",
    # fill holes of up to 8 low-res pixels in the output masks
    "++model.fill_hole_area=8",
)

# Settings with no effect on inference results, accepted and ignored with a warning when an
# override or a YAML file changes them from the released configs' values.
_NO_EFFECT_PREFIXES = (
    "prob_to_", "num_frames_to_correct_", "rand_frames_to_correct_", "num_init_cond_frames_",
    "rand_init_cond_frames_", "num_correction_pt_per_frame", "use_act_ckpt_",
    "forward_backbone_per_frame_for_eval", "freeze_image_encoder",
)  # fmt: skip
_NO_EFFECT_KEYS = {
    "compile_image_encoder",  # torch.compile: speed only
    "image_encoder.trunk.drop_path_rate",  # stochastic depth: training only
    "image_encoder.trunk.weights_path",  # pretrained trunk weights: replaced by the checkpoint
    "memory_encoder.fuser.layer.drop_path",
    "memory_encoder.fuser.layer.layer_scale_init_value",  # initial value: replaced by weights
    "memory_attention.layer.self_attention.feat_sizes",  # RoPE sizes follow image_size
    "memory_attention.layer.cross_attention.feat_sizes",
}


def apply_overrides(config: MetaConfig, overrides: Sequence[str]) -> MetaConfig:
    """Apply Hydra override strings (``"++model.fill_hole_area=0"``) to a config.

    Accepted forms: ``key=value``, ``+key=value`` and ``++key=value`` with ``key`` starting
    with ``model.``; ``~key`` (delete) resets a setting to its constructor default. Values are
    read as YAML (``true``, ``[8, 8]``, ``null``, ``1e-6``).

    Raises:
        ValueError: a malformed override or one outside ``model``.
    """
    if isinstance(overrides, str) or not isinstance(overrides, Sequence):
        raise TypeError(
            "hydra_overrides_extra must be a list of strings such as "
            f"['++model.fill_hole_area=0'], got {type(overrides).__name__}"
        )
    result = dict(config)
    for override in overrides:
        if not isinstance(override, str):
            raise TypeError(f"hydra overrides must be strings, got {override!r}")
        text = override.strip()
        if text.startswith("~"):
            key = _model_key(text[1:].split("=")[0], override)
            result.pop(key, None)
            if key in _CONSTRUCTOR_DEFAULTS:
                result[key] = _CONSTRUCTOR_DEFAULTS[key]
            continue
        key_text, sep, value_text = text.lstrip("+").partition("=")
        if not sep:
            raise ValueError(f"hydra override {override!r} must have the form ++model.key=value")
        result[_model_key(key_text, override)] = _parse_value(value_text)
    return result


def _model_key(key: str, override: str) -> str:
    key = key.strip()
    if not key.startswith("model."):
        raise ValueError(
            f"hydra override {override!r} is outside 'model'; only model settings "
            "(++model.<key>=<value>) change what is built"
        )
    return key.removeprefix("model.")


def _parse_value(text: str) -> Any:
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text
    if isinstance(value, str):  # YAML 1.1 reads 1e-6 as a string; Hydra reads a float
        try:
            return float(value)
        except ValueError:
            return value
    return value


# ------------------------------------------------------------------------- to transformers

# (setting, the only value transformers' Sam2VideoModel implements, what it means)
_FIXED: tuple[tuple[str, Any, str], ...] = (
    ("backbone_stride", 16, "the image encoder's output stride"),
    ("image_encoder.scalp", 1, "three feature levels"),
    ("image_encoder.neck.fpn_interp_model", "nearest", "the FPN's top-down upsampling"),
    ("image_encoder.neck.fuse_type", "sum", "the FPN's fusion"),
    ("image_encoder.neck.position_encoding.temperature", 10000, "the sine position encoding"),
    ("image_encoder.neck.position_encoding.normalize", True, "the sine position encoding"),
    ("image_encoder.neck.position_encoding.scale", None, "the sine position encoding"),
    ("use_high_res_features_in_sam", True, "high-resolution features in the mask decoder"),
    ("directly_add_no_mem_embed", True, "the no-memory embedding on single images"),
    ("iou_prediction_use_sigmoid", True, "the IoU head's sigmoid"),
    ("pred_obj_scores", True, "object score prediction"),
    ("pred_obj_scores_mlp", True, "the object score MLP"),
    ("use_mlp_for_obj_ptr_proj", True, "the object pointer MLP"),
    ("memory_encoder.fuser.layer.use_dwconv", True, "depth-wise convolutions in the fuser"),
    ("memory_encoder.fuser.input_projection", False, "the fuser's input projection"),
    ("memory_encoder.out_dim", 64, "64 memory channels"),
    ("memory_attention.layer.cross_attention.kv_in_dim", 64, "64 memory channels"),
    ("memory_attention.pos_enc_at_input", True, "the memory attention's position encoding"),
    ("memory_attention.layer.pos_enc_at_attn", False, "the memory attention's position encoding"),
    ("memory_attention.layer.pos_enc_at_cross_attn_keys", True, "keys' position encoding"),
    ("memory_attention.layer.pos_enc_at_cross_attn_queries", False, "queries' position encoding"),
    ("memory_attention.layer.self_attention.rope_k_repeat", False, "RoPE in self-attention"),
    ("memory_attention.layer.cross_attention.rope_k_repeat", True, "RoPE in cross-attention"),
)
_FIXED_FOR_VIDEO: tuple[tuple[str, Any, str], ...] = (
    ("use_mask_input_as_output_without_sam", True, "mask prompts used as the output"),
    ("use_multimask_token_for_obj_ptr", True, "object pointers from the best mask token"),
    ("memory_temporal_stride_for_eval", 1, "memories of consecutive frames"),
    ("non_overlap_masks_for_mem_enc", False, "overlapping masks in memory"),
    ("use_obj_ptrs_in_encoder", True, "object pointers in the memory attention"),
    ("only_obj_ptrs_in_the_past_for_eval", True, "object pointers of past frames only"),
    ("fixed_no_obj_ptr", True, "a learned no-object pointer"),
    ("soft_no_obj_ptr", False, "hard object presence"),
    ("clear_non_cond_mem_around_input", False, "keeping memories around corrected frames"),
    ("non_overlap_masks", False, "overlapping output masks"),
    (
        "binarize_mask_from_pts_for_mem_enc",
        True,
        "binarised memories of clicked frames (build_sam2_video_predictor's "
        "apply_postprocessing=True)",
    ),
)
_SAME_AS_D_MODEL = (
    "memory_attention.d_model",
    "memory_attention.layer.d_model",
    "memory_attention.layer.self_attention.embedding_dim",
    "memory_attention.layer.cross_attention.embedding_dim",
    "memory_encoder.in_dim",
    "memory_encoder.mask_downsampler.embed_dim",
    "memory_encoder.fuser.layer.dim",
    "image_encoder.neck.position_encoding.num_pos_feats",
)


@dataclass(frozen=True)
class VideoOptions:
    """The original ``SAM2VideoPredictor``'s own settings, from its config."""

    fill_hole_area: int
    add_all_frames_to_correct_as_cond: bool


def to_transformers(
    config: MetaConfig, *, name: str = "the config", video: bool = True
) -> Sam2VideoConfig:
    """A ``Sam2VideoConfig`` that builds the model ``config`` describes.

    Args:
        config: settings from ``load_meta_config`` (with overrides applied).
        name: the config's name for error messages.
        video: also check the settings only video tracking uses.

    Raises:
        ValueError: a setting that transformers' SAM 2 cannot reproduce, named with its value.
    """
    unknown = sorted(key for key in config if not _is_known(key))
    if unknown:
        raise ValueError(
            f"{name}: unknown setting(s) {unknown}; they are not SAM 2 model settings (check "
            "the spelling of hydra overrides)"
        )
    checks = _FIXED + (_FIXED_FOR_VIDEO if video else ())
    for key, expected, meaning in checks:
        if not _same(config.get(key), expected):
            raise ValueError(
                f"{name}: {key}={config.get(key)!r} is not supported: transformers' SAM 2 "
                f"implements only {key}={expected!r} ({meaning})"
            )
    d_model = config["image_encoder.neck.d_model"]
    for key in _SAME_AS_D_MODEL:
        if config.get(key) != d_model:
            raise ValueError(
                f"{name}: {key}={config.get(key)!r} must equal image_encoder.neck.d_model="
                f"{d_model!r} in transformers' SAM 2"
            )
    if config["add_tpos_enc_to_obj_ptrs"] and not (
        config["proj_tpos_enc_in_obj_ptrs"] and config["use_signed_tpos_enc_to_obj_ptrs"]
    ):
        raise ValueError(
            f"{name}: add_tpos_enc_to_obj_ptrs=true needs proj_tpos_enc_in_obj_ptrs=true and "
            "use_signed_tpos_enc_to_obj_ptrs=true in transformers' SAM 2 (SAM 2.1's setting)"
        )
    self_attn = "memory_attention.layer.self_attention."
    cross_attn = "memory_attention.layer.cross_attention."
    for setting in ("num_heads", "downsample_rate", "dropout", "rope_theta"):
        if config.get(self_attn + setting) != config.get(cross_attn + setting):
            raise ValueError(
                f"{name}: the memory self- and cross-attention must share {setting} in "
                f"transformers' SAM 2, got {config.get(self_attn + setting)!r} and "
                f"{config.get(cross_attn + setting)!r}"
            )
    _warn_no_effect(config, name)

    size = int(config["image_size"])
    trunk = {k.removeprefix(_TRUNK): v for k, v in config.items() if k.startswith(_TRUNK)}
    stages = list(trunk["stages"])
    if len(stages) != 4:
        raise ValueError(f"{name}: transformers' SAM 2 needs 4 Hiera stages, got {stages}")
    embed, heads = int(trunk["embed_dim"]), int(trunk["num_heads"])
    backbone = Sam2HieraDetConfig(
        hidden_size=embed,
        num_attention_heads=heads,
        image_size=[size, size],
        query_stride=list(trunk["q_stride"]),
        num_query_pool_stages=int(trunk["q_pool"]),
        blocks_per_stage=stages,
        embed_dim_per_stage=[int(embed * trunk["dim_mul"] ** i) for i in range(4)],
        num_attention_heads_per_stage=[int(heads * trunk["head_mul"] ** i) for i in range(4)],
        window_size_per_stage=list(trunk["window_spec"]),
        global_attention_blocks=list(trunk["global_att_blocks"]),
        window_positional_embedding_background_size=list(
            trunk["window_pos_embed_bkg_spatial_size"]
        ),
    )
    neck = "image_encoder.neck."
    vision = Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=list(config[neck + "backbone_channel_list"]),
        backbone_feature_sizes=[[size // 4] * 2, [size // 8] * 2, [size // 16] * 2],
        fpn_hidden_size=d_model,
        fpn_kernel_size=config[neck + "kernel_size"],
        fpn_stride=config[neck + "stride"],
        fpn_padding=config[neck + "padding"],
        fpn_top_down_levels=list(config[neck + "fpn_top_down_levels"] or []),
    )
    decoder = "sam_mask_decoder_extra_args."
    downsampler = "memory_encoder.mask_downsampler."
    fuser = "memory_encoder.fuser."
    return Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config={
            "hidden_size": d_model,
            "image_size": size,
            "patch_size": 16,
            "mask_input_channels": 16,
        },
        mask_decoder_config={
            "hidden_size": d_model,
            "dynamic_multimask_via_stability": bool(
                config[decoder + "dynamic_multimask_via_stability"]
            ),
            "dynamic_multimask_stability_delta": float(
                config[decoder + "dynamic_multimask_stability_delta"]
            ),
            "dynamic_multimask_stability_thresh": float(
                config[decoder + "dynamic_multimask_stability_thresh"]
            ),
        },
        image_size=size,
        num_maskmem=int(config["num_maskmem"]),
        sigmoid_scale_for_mem_enc=float(config["sigmoid_scale_for_mem_enc"]),
        sigmoid_bias_for_mem_enc=float(config["sigmoid_bias_for_mem_enc"]),
        enable_occlusion_spatial_embedding=bool(config["no_obj_embed_spatial"]),
        multimask_output_in_sam=bool(config["multimask_output_in_sam"]),
        multimask_min_pt_num=int(config["multimask_min_pt_num"]),
        multimask_max_pt_num=int(config["multimask_max_pt_num"]),
        multimask_output_for_tracking=bool(config["multimask_output_for_tracking"]),
        max_object_pointers_in_encoder=int(config["max_obj_ptrs_in_encoder"]),
        max_cond_frame_num=int(config["max_cond_frames_in_attn"]),
        enable_temporal_pos_encoding_for_object_pointers=bool(config["add_tpos_enc_to_obj_ptrs"]),
        memory_attention_hidden_size=d_model,
        memory_attention_num_layers=int(config["memory_attention.num_layers"]),
        memory_attention_num_attention_heads=int(config[self_attn + "num_heads"]),
        memory_attention_downsample_rate=int(config[self_attn + "downsample_rate"]),
        memory_attention_feed_forward_hidden_size=int(
            config["memory_attention.layer.dim_feedforward"]
        ),
        memory_attention_feed_forward_hidden_act=config["memory_attention.layer.activation"],
        memory_attention_dropout=float(config["memory_attention.layer.dropout"]),
        memory_attention_rope_dropout=float(config[self_attn + "dropout"]),
        memory_attention_rope_feat_sizes=[size // 16, size // 16],
        rope_parameters={"rope_theta": float(config[self_attn + "rope_theta"])},
        memory_encoder_hidden_size=d_model,
        memory_encoder_output_channels=int(config["memory_encoder.out_dim"]),
        mask_downsampler_embed_dim=int(config[downsampler + "embed_dim"]),
        mask_downsampler_kernel_size=int(config[downsampler + "kernel_size"]),
        mask_downsampler_stride=int(config[downsampler + "stride"]),
        mask_downsampler_padding=int(config[downsampler + "padding"]),
        mask_downsampler_total_stride=int(config[downsampler + "total_stride"]),
        memory_fuser_num_layers=int(config[fuser + "num_layers"]),
        memory_fuser_embed_dim=int(config[fuser + "layer.dim"]),
        memory_fuser_intermediate_dim=4 * int(config[fuser + "layer.dim"]),
        memory_fuser_kernel_size=int(config[fuser + "layer.kernel_size"]),
        memory_fuser_padding=int(config[fuser + "layer.padding"]),
        memory_fuser_layer_scale_init_value=float(config[fuser + "layer.layer_scale_init_value"]),
    )


def video_options(config: MetaConfig) -> VideoOptions:
    """The video predictor's settings in ``config`` (see ``VideoOptions``)."""
    area = config["fill_hole_area"]
    if isinstance(area, bool) or not isinstance(area, (int, float)) or area < 0:
        raise ValueError(f"fill_hole_area must be a number >= 0, got {area!r}")
    return VideoOptions(
        fill_hole_area=int(area),  # areas are whole pixels: area <= 8.5 is area <= 8
        add_all_frames_to_correct_as_cond=bool(config["add_all_frames_to_correct_as_cond"]),
    )


def _is_known(key: str) -> bool:
    if key in _CONSTRUCTOR_DEFAULTS or key in _SAM21_TINY_YAML:
        return True
    leaf = key.split(".")[-1]
    return leaf == "_target_" or key.startswith(_NO_EFFECT_PREFIXES) or key in _NO_EFFECT_KEYS


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or expected is None:
        return value is expected or (expected is not None and value == expected)
    return bool(value == expected)


_WARNED: set[str] = set()


def _warn_no_effect(config: MetaConfig, name: str) -> None:
    released = BUILTIN_CONFIGS["configs/sam2.1/sam2.1_hiera_t.yaml"]
    changed = sorted(
        key
        for key, value in config.items()
        if (key in _NO_EFFECT_KEYS or key.startswith(_NO_EFFECT_PREFIXES))
        and not key.endswith(".feat_sizes")  # follow image_size; nothing to warn about
        and (key not in released or value != released[key])
    )
    fresh = [key for key in changed if key not in _WARNED]
    if fresh:
        _WARNED.update(fresh)
        warnings.warn(
            f"{name}: setting(s) {fresh} do not change inference results here and are ignored",
            UserWarning,
            stacklevel=3,
        )


def signature(config: MetaConfig) -> tuple[int, int, int, bool]:
    """What a checkpoint's shapes reveal of its config: (Hiera width, Hiera blocks, model
    width, SAM 2.1 or later)."""
    return (
        int(config[_TRUNK + "embed_dim"]),
        int(sum(config[_TRUNK + "stages"])),
        int(config["image_encoder.neck.d_model"]),
        bool(config["no_obj_embed_spatial"]),
    )


def configs_with_signature(sig: tuple[int, int, int, bool]) -> list[str]:
    """The built-in configs whose checkpoints have the shapes ``sig`` describes."""
    return [name for name, config in BUILTIN_CONFIGS.items() if signature(config) == sig]
