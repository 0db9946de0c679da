"""``build_sam2`` and friends: the original ``sam2.build_sam`` on transformers.

``build_sam2`` returns a transformers ``Sam2Model`` built from Meta's config and ``.pt``
checkpoint; ``build_sam2_video_predictor`` returns a ``SAM2VideoPredictor``. Both accept the
original's arguments: Hydra overrides that transformers' model can reproduce are applied,
the others raise a ``ValueError`` naming them; keywords that only change speed are ignored
with one warning.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from ..engine.loading import ModelNotAvailableError, load_model, resolve_device
from .checkpoints import build_model, read_state_dict
from .configs import (
    IMAGE_POSTPROCESSING,
    VIDEO_POSTPROCESSING,
    apply_overrides,
    load_meta_config,
    video_options,
)

if TYPE_CHECKING:
    from .sam2_video_predictor import SAM2VideoPredictor

# Meta's hub repositories and the config and checkpoint file in each (as the original's).
HF_MODEL_ID_TO_FILENAMES: dict[str, tuple[str, str]] = {
    "facebook/sam2-hiera-tiny": ("configs/sam2/sam2_hiera_t.yaml", "sam2_hiera_tiny.pt"),
    "facebook/sam2-hiera-small": ("configs/sam2/sam2_hiera_s.yaml", "sam2_hiera_small.pt"),
    "facebook/sam2-hiera-base-plus": (
        "configs/sam2/sam2_hiera_b+.yaml",
        "sam2_hiera_base_plus.pt",
    ),
    "facebook/sam2-hiera-large": ("configs/sam2/sam2_hiera_l.yaml", "sam2_hiera_large.pt"),
    "facebook/sam2.1-hiera-tiny": ("configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt"),
    "facebook/sam2.1-hiera-small": (
        "configs/sam2.1/sam2.1_hiera_s.yaml",
        "sam2.1_hiera_small.pt",
    ),
    "facebook/sam2.1-hiera-base-plus": (
        "configs/sam2.1/sam2.1_hiera_b+.yaml",
        "sam2.1_hiera_base_plus.pt",
    ),
    "facebook/sam2.1-hiera-large": (
        "configs/sam2.1/sam2.1_hiera_l.yaml",
        "sam2.1_hiera_large.pt",
    ),
}

# Keywords the original's from_pretrained passes on to build_sam2 along with the model's (its
# **kwargs go to both the builder and the predictor): accepted here without a word.
_PREDICTOR_KEYWORDS = frozenset(
    {
        "mask_threshold", "max_hole_area", "max_sprinkle_area", "points_per_side",
        "points_per_batch", "pred_iou_thresh", "stability_score_thresh",
        "stability_score_offset", "box_nms_thresh", "crop_n_layers", "crop_nms_thresh",
        "crop_overlap_ratio", "crop_n_points_downscale_factor", "point_grids",
        "min_mask_region_area", "output_mode", "use_m2m", "multimask_output",
        # the hub download's (this package's addition to build_sam2_hf)
        "cache_dir", "revision", "token", "local_files_only",
    }
)  # fmt: skip
_HUB_KEYWORDS = ("cache_dir", "revision", "token", "local_files_only")
_warned: set[str] = set()


def build_sam2(
    config_file: str | os.PathLike[str],
    ckpt_path: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cuda",
    mode: str = "eval",
    hydra_overrides_extra: Sequence[str] = (),
    apply_postprocessing: bool = True,
    **kwargs: Any,
) -> torch.nn.Module:
    """Build the image model, as the original ``sam2.build_sam.build_sam2``.

    Args:
        config_file: Meta's config (``"configs/sam2.1/sam2.1_hiera_l.yaml"``, also
            ``"sam2.1_hiera_l"``), or the path of a YAML file in its format.
        ckpt_path: the original ``.pt`` checkpoint. None builds random weights and warns, as
            the original builds them (silently).
        device: where to put the model (the original's default ``"cuda"``).
        mode: ``"eval"`` (the default) or anything else for train mode, as the original.
        hydra_overrides_extra: Hydra overrides of model settings, e.g.
            ``["++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=false"]``.
        apply_postprocessing: fall back to the best multimask output when a single mask is
            unstable (the original's default).
        **kwargs: accepted as the original accepts them; ignored (with a warning unless they
            are predictor settings passed on by ``from_pretrained``).

    Returns:
        A transformers ``Sam2Model`` for ``SAM2ImagePredictor`` and
        ``SAM2AutomaticMaskGenerator``.

    Raises:
        ValueError: an unknown config, a checkpoint that does not fit it, a setting
            transformers cannot reproduce, a corrupt checkpoint (each message says which).
    """
    _warn_ignored(kwargs)
    name, settings = _settings(config_file, hydra_overrides_extra, apply_postprocessing, False)
    model = _build(settings, name, ckpt_path, "image")
    return _place(model, device, mode)


def build_sam2_video_predictor(
    config_file: str | os.PathLike[str],
    ckpt_path: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cuda",
    mode: str = "eval",
    hydra_overrides_extra: Sequence[str] = (),
    apply_postprocessing: bool = True,
    vos_optimized: bool = False,
    **kwargs: Any,
) -> SAM2VideoPredictor:
    """Build the video predictor, as the original ``build_sam2_video_predictor``.

    Arguments as ``build_sam2``'s. ``apply_postprocessing=True`` (the default, and the only
    setting transformers reproduces) also binarises the memories of clicked frames and fills
    holes of up to 8 low-res pixels in the output masks; as in the original, those overrides
    come after ``hydra_overrides_extra``, and ``predictor.fill_hole_area = 0`` turns hole
    filling off. ``vos_optimized`` (``torch.compile``) changes speed only and is ignored.

    Returns:
        A ``SAM2VideoPredictor``.
    """
    from .sam2_video_predictor import SAM2VideoPredictor

    if vos_optimized:
        _warn_once("vos_optimized", "vos_optimized=True (torch.compile) is ignored here")
    _warn_ignored(kwargs)
    name, settings = _settings(config_file, hydra_overrides_extra, apply_postprocessing, True)
    options = video_options(settings)
    model = _place(_build(settings, name, ckpt_path, "video"), device, mode)
    return SAM2VideoPredictor(
        model,
        fill_hole_area=options.fill_hole_area,
        add_all_frames_to_correct_as_cond=options.add_all_frames_to_correct_as_cond,
    )


def build_sam2_hf(model_id: str, **kwargs: Any) -> torch.nn.Module:
    """``build_sam2`` with the checkpoint of one of Meta's hub repositories.

    ``model_id`` is one of ``HF_MODEL_ID_TO_FILENAMES`` (``"facebook/sam2.1-hiera-large"``):
    its ``.pt`` file is downloaded (or read from the Hugging Face cache) and built as the
    original builds it. ``cache_dir``, ``revision``, ``token`` and ``local_files_only`` go to
    the download. Any other hub id or local folder of a transformers SAM 2 checkpoint
    is loaded directly (then ``hydra_overrides_extra`` cannot apply).
    """
    config_name, ckpt_path = _hf_checkpoint(model_id, kwargs)
    if config_name is None:
        return _transformers_model(model_id, "image", kwargs)
    return build_sam2(config_file=config_name, ckpt_path=ckpt_path, **kwargs)


def build_sam2_video_predictor_hf(model_id: str, **kwargs: Any) -> SAM2VideoPredictor:
    """``build_sam2_video_predictor`` with a hub checkpoint (see ``build_sam2_hf``)."""
    from .sam2_video_predictor import SAM2VideoPredictor

    config_name, ckpt_path = _hf_checkpoint(model_id, kwargs)
    if config_name is None:
        fill = 8 if kwargs.get("apply_postprocessing", True) else 0
        return SAM2VideoPredictor(
            _transformers_model(model_id, "video", kwargs), fill_hole_area=fill
        )
    return build_sam2_video_predictor(config_file=config_name, ckpt_path=ckpt_path, **kwargs)


# ----------------------------------------------------------------------------- internals


def _settings(
    config_file: str | os.PathLike[str],
    overrides: Sequence[str],
    apply_postprocessing: bool,
    video: bool,
) -> tuple[str, dict[str, Any]]:
    name, settings = load_meta_config(config_file)
    overrides = list(overrides)
    if apply_postprocessing:  # after the caller's, as the original appends them
        overrides += VIDEO_POSTPROCESSING if video else IMAGE_POSTPROCESSING
    return name, apply_overrides(settings, overrides)


def _build(
    settings: dict[str, Any],
    name: str,
    ckpt_path: str | os.PathLike[str] | None,
    task: str,
) -> torch.nn.Module:
    if ckpt_path is None:
        warnings.warn(
            f"no checkpoint given: the model of {name!r} has random weights (as the original "
            "builds it with ckpt_path=None); pass the .pt file for trained weights",
            UserWarning,
            stacklevel=3,
        )
        return build_model(settings, name=name, task=task)  # type: ignore[arg-type]
    state_dict = read_state_dict(ckpt_path)
    source = repr(os.fspath(ckpt_path))
    return build_model(settings, name=name, task=task, state_dict=state_dict, source=source)  # type: ignore[arg-type]


def _place(model: torch.nn.Module, device: str | torch.device, mode: str) -> torch.nn.Module:
    model.to(resolve_device(device))
    if mode == "eval":
        model.eval()
    else:
        model.train()
    return model


def _hf_checkpoint(model_id: str, kwargs: dict[str, Any]) -> tuple[str | None, str | None]:
    if model_id not in HF_MODEL_ID_TO_FILENAMES:
        return None, None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    config_name, filename = HF_MODEL_ID_TO_FILENAMES[model_id]
    hub = {key: kwargs[key] for key in _HUB_KEYWORDS if kwargs.get(key) is not None}
    try:
        return config_name, hf_hub_download(repo_id=model_id, filename=filename, **hub)
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as error:
        raise ModelNotAvailableError(
            f"{filename} of {model_id!r} could not be loaded: it is not in the local Hugging "
            "Face cache and could not be downloaded (offline, no network, or no access). "
            f"Download it once where the hub is reachable (`hf download {model_id} "
            f"{filename}`), or pass the file to build_sam2(config, ckpt_path). "
            f"Underlying error: {error}"
        ) from error


def _transformers_model(model_id: str, task: str, kwargs: dict[str, Any]) -> torch.nn.Module:
    """A transformers SAM 2 checkpoint (hub id or folder), with the builder's keywords."""
    if kwargs.get("hydra_overrides_extra"):
        raise ValueError(
            "hydra_overrides_extra applies to Meta's checkpoints "
            f"({', '.join(HF_MODEL_ID_TO_FILENAMES)}), not to the transformers checkpoint "
            f"{model_id!r}"
        )
    hub = {key: kwargs[key] for key in _HUB_KEYWORDS if kwargs.get(key) is not None}
    device = kwargs.get("device", "cuda")
    loaded = load_model(model_id, task=task, device=device, dtype="fp32", **hub)  # type: ignore[arg-type]
    model: Any = loaded.model
    if not kwargs.get("apply_postprocessing", True):
        model.mask_decoder.dynamic_multimask_via_stability = False
        model.config.mask_decoder_config.dynamic_multimask_via_stability = False
    return _place(model, loaded.device, kwargs.get("mode", "eval"))


def _warn_ignored(kwargs: dict[str, Any]) -> None:
    ignored = sorted(set(kwargs) - _PREDICTOR_KEYWORDS)
    if ignored:
        _warn_once(
            ",".join(ignored),
            f"keyword argument(s) {ignored} are ignored (the original ignores them too)",
        )


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=4)
