"""Model names, loading from the hub or a folder, and device / dtype placement."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypedDict

import torch
import transformers
from transformers import AutoConfig, PretrainedConfig, ProcessorMixin
from typing_extensions import Unpack


@dataclass(frozen=True)
class ModelInfo:
    """A known SAM 2.1 checkpoint.

    Attributes:
        name: the short name accepted everywhere a model is named (``"tiny"``).
        hub_id: the Hugging Face hub repository it stands for.
        params_millions: parameter count, in millions, as published by Meta.
        fps: frames per second on an A100 (torch 2.5.1, compiled), as published by Meta.
    """

    name: str
    hub_id: str
    params_millions: float
    fps: float


# Sizes and speeds from the SAM 2.1 model card (facebookresearch/sam2 README).
MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo("tiny", "facebook/sam2.1-hiera-tiny", 38.9, 91.2),
        ModelInfo("small", "facebook/sam2.1-hiera-small", 46.0, 84.8),
        ModelInfo("base-plus", "facebook/sam2.1-hiera-base-plus", 80.8, 64.1),
        ModelInfo("large", "facebook/sam2.1-hiera-large", 224.4, 39.5),
    )
}

Task = Literal["image", "video"]

# model_type in config.json -> (transformers model class, image config class) per task.
# The official hub repos hold video checkpoints; the image task reads the image part of them.
_IMAGE_MODELS = {
    "sam2": ("Sam2Model", "Sam2Config"),
    "sam2_video": ("Sam2Model", "Sam2Config"),
    "edgetam": ("EdgeTamModel", "EdgeTamConfig"),
    "edgetam_video": ("EdgeTamModel", "EdgeTamConfig"),
}
_VIDEO_MODELS = {
    "sam2_video": ("Sam2VideoModel", None),
    "edgetam_video": ("EdgeTamVideoModel", None),
}
_PROCESSORS = {"image": "Sam2Processor", "video": "Sam2VideoProcessor"}


def list_models() -> list[ModelInfo]:
    """The known short names, in order of size.

    Example:
        >>> [m.name for m in list_models()]
        ['tiny', 'small', 'base-plus', 'large']
    """
    return list(MODELS.values())


def resolve_model_name(model: str | os.PathLike[str]) -> str:
    """Turn a short name, hub id or local folder into what ``from_pretrained`` takes.

    Args:
        model: ``"tiny"``, ``"small"``, ``"base-plus"``, ``"large"``, a hub id such as
            ``"facebook/sam2-hiera-large"``, or a local folder.

    Raises:
        ValueError: an unknown name that is neither a hub id nor an existing folder.

    Example:
        >>> resolve_model_name("large")
        'facebook/sam2.1-hiera-large'
    """
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    if not isinstance(model, str):
        raise TypeError(f"model must be a name, hub id or folder path, got {type(model).__name__}")
    if model in MODELS:
        return MODELS[model].hub_id
    if Path(model).is_dir():
        return model
    # A hub id is "owner/name"; anything else that is not a folder is a typo.
    if model.count("/") == 1 and not model.startswith(("/", ".")):
        return model
    known = ", ".join(repr(name) for name in MODELS)
    raise ValueError(
        f"model {model!r} is not a known name, a hub id (owner/name) or an existing folder. "
        f"Known names: {known}; see sam2_hf.list_models()."
    )


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Pick the device: ``None`` or ``"auto"`` means cuda, then mps, then cpu.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a string or torch.device, got {type(device).__name__}")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}"
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but CUDA is not available here")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} was asked for, but MPS is not available here")
    return resolved


_DTYPE_NAMES = {
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "fp32": torch.float32,
    "float32": torch.float32,
    "float": torch.float32,
}


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """Pick the compute dtype: ``None`` or ``"auto"`` means bfloat16 on CUDA devices of compute
    capability 8.0 or more (Ampere and newer), float32 everywhere else.

    ``torch.cuda.is_bf16_supported()`` is not used: it says yes on a T4, which only emulates
    bfloat16 and runs slower than float32.

    Example:
        >>> resolve_dtype("fp16", torch.device("cpu"))
        torch.float16
    """
    if dtype is None or dtype == "auto":
        if device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8:
            return torch.bfloat16
        return torch.float32
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.float16, torch.bfloat16):
            raise ValueError(f"dtype must be float32, float16 or bfloat16, got {dtype}")
        return dtype
    if isinstance(dtype, str) and dtype.lower() in _DTYPE_NAMES:
        return _DTYPE_NAMES[dtype.lower()]
    raise ValueError(
        f"dtype must be 'auto', 'bf16', 'fp16', 'fp32' or a torch dtype, got {dtype!r}"
    )


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager[None]:
    """Mixed precision as the original sam2 runs it: weights stay float32, matmuls run in ``dtype``.

    ``benchmarks/dtype.py`` measures this against casting the whole model (transformers#46493);
    autocast stays closer to float32.
    """
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


class ModelNotAvailableError(OSError):
    """The weights could not be found locally and could not be downloaded."""


class LoadOptions(TypedDict, total=False):
    """Where and how to load a model: the keywords every ``from_pretrained`` accepts.

    Attributes:
        device: ``None`` / ``"auto"`` (cuda, then mps, then cpu), ``"cpu"``, ``"cuda:1"``,
            ``"mps"`` or a ``torch.device``; see ``resolve_device``.
        dtype: ``None`` / ``"auto"``, ``"bf16"``, ``"fp16"``, ``"fp32"`` or a torch dtype;
            see ``resolve_dtype``.
        revision: a hub branch, tag or commit.
        cache_dir: the hub cache folder (default: ``$HF_HOME/hub``).
        local_files_only: never download; read the local cache only.
        token: a hub token for gated or private repositories.
    """

    device: str | torch.device | None
    dtype: str | torch.dtype | None
    revision: str | None
    cache_dir: str | os.PathLike[str] | None
    local_files_only: bool
    token: str | bool | None


@dataclass
class LoadedModel:
    """A model on its device with its processor; what the predictor, generator and tracker share."""

    model: torch.nn.Module
    processor: ProcessorMixin
    device: torch.device
    dtype: torch.dtype
    source: str


def load_model(
    model: str | os.PathLike[str] = "tiny",
    *,
    task: Task = "image",
    **options: Unpack[LoadOptions],
) -> LoadedModel:
    """Load a SAM 2 / SAM 2.1 / EdgeTAM checkpoint and its processor for ``task``.

    The model class comes from the checkpoint's ``config.json``: the official repos hold
    ``sam2_video`` checkpoints, whose image part loads into ``Sam2Model`` for images.

    Args:
        model: short name, hub id or local folder (see ``resolve_model_name``).
        task: ``"image"`` (``Sam2Model`` + ``Sam2Processor``) or ``"video"``
            (``Sam2VideoModel`` + ``Sam2VideoProcessor``).
        **options: ``LoadOptions``: ``device`` and ``dtype`` (see ``resolve_device`` and
            ``resolve_dtype``); ``revision``, ``cache_dir``, ``local_files_only`` and
            ``token``, passed to the hub download. With ``HF_HUB_OFFLINE=1`` in the
            environment only the local cache is read.

    Raises:
        ValueError: unknown name, or a checkpoint type that cannot serve ``task``.
        ModelNotAvailableError: not cached and not downloadable (offline, no network, no access).
    """
    if task not in _PROCESSORS:
        raise ValueError(f"task must be 'image' or 'video', got {task!r}")
    unknown = set(options) - set(LoadOptions.__annotations__)
    if unknown:
        raise TypeError(
            f"unknown loading option(s) {sorted(unknown)}; the options are "
            f"{sorted(LoadOptions.__annotations__)}"
        )
    source = resolve_model_name(model)
    torch_device = resolve_device(options.get("device"))
    torch_dtype = resolve_dtype(options.get("dtype"), torch_device)
    revision = options.get("revision")
    cache_dir = options.get("cache_dir")
    hub_kwargs = {
        "revision": revision,
        "cache_dir": os.fspath(cache_dir) if cache_dir is not None else None,
        "local_files_only": bool(options.get("local_files_only", False)),
        "token": options.get("token"),
    }
    with _explain_missing_weights(source, revision):
        config = AutoConfig.from_pretrained(source, **hub_kwargs)
        model_cls, config = _model_class_for(config, task)
        # Weights stay float32: mixed precision comes from autocast at call time.
        network = model_cls.from_pretrained(source, config=config, **hub_kwargs)
        processor = getattr(transformers, _PROCESSORS[task]).from_pretrained(source, **hub_kwargs)
    network.to(torch_device).eval()
    return LoadedModel(network, processor, torch_device, torch_dtype, source)


def _model_class_for(
    config: PretrainedConfig, task: Task
) -> tuple[type[torch.nn.Module], PretrainedConfig]:
    table = _IMAGE_MODELS if task == "image" else _VIDEO_MODELS
    model_type = getattr(config, "model_type", None)
    if model_type not in table:
        supported = ", ".join(repr(name) for name in table)
        hint = ""
        if task == "video" and model_type in _IMAGE_MODELS:
            hint = " An image-only checkpoint has no memory weights; use a video checkpoint."
        raise ValueError(
            f"checkpoint model type {model_type!r} cannot be used for {task}s; supported model "
            f"types: {supported}.{hint}"
        )
    class_name, image_config_name = table[model_type]
    if image_config_name is not None and config.model_type.endswith("_video"):
        # Build the image config from the video one so transformers does not warn about a
        # model-type mismatch on the normal path (the official repos are video checkpoints).
        config = getattr(transformers, image_config_name)(
            vision_config=config.vision_config,
            prompt_encoder_config=config.prompt_encoder_config.to_dict(),
            mask_decoder_config=config.mask_decoder_config.to_dict(),
            initializer_range=config.initializer_range,
        )
    return getattr(transformers, class_name), config


@contextlib.contextmanager
def _explain_missing_weights(source: str, revision: str | None) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        if Path(source).is_dir():
            raise
        at = f" at revision {revision!r}" if revision else ""
        raise ModelNotAvailableError(
            f"model {source!r}{at} could not be loaded: it is not in the local Hugging Face "
            "cache and could not be downloaded (offline, no network, or no access). To fix: "
            f"download it once where the hub is reachable (`hf download {source}`) and run "
            "with HF_HUB_OFFLINE=1, or pass a local folder saved with save_pretrained(). "
            f"Underlying error: {error}"
        ) from error
