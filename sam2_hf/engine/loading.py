"""Loading a checkpoint from the hub or a folder, and device / dtype placement.

``load_model`` is the one place a checkpoint becomes a model: every ``from_pretrained`` of the
package (``Sam2Predictor``, ``MaskGenerator``, ``VideoTracker``) calls it with the same
``LoadOptions``, and every class is also constructible from the ``LoadedModel`` it returns.
Model names and families live in ``registry.py`` (no torch import), the supported transformers
range in ``versions.py``; both are re-exported here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict

import torch
import transformers
from safetensors import SafetensorError, safe_open
from transformers import AutoConfig, PretrainedConfig, ProcessorMixin
from typing_extensions import Unpack

from .registry import (
    FAMILIES,
    MODELS,
    Family,
    ModelInfo,
    family_for_model_type,
    is_cached,
    list_models,
    model_family,
    resolve_model_name,
    supported_model_types,
    unsupported_type_hint,
)
from .versions import (
    SUPPORTED_TRANSFORMERS,
    TESTED_TRANSFORMERS,
    transformers_is_supported,
    transformers_support,
)

__all__ = [
    "FAMILIES",
    "MODELS",
    "SUPPORTED_TRANSFORMERS",
    "TESTED_TRANSFORMERS",
    "DamagedCheckpointError",
    "Family",
    "LoadOptions",
    "LoadedModel",
    "ModelInfo",
    "ModelNotAvailableError",
    "Task",
    "autocast",
    "is_cached",
    "list_models",
    "load_model",
    "resolve_device",
    "resolve_dtype",
    "resolve_model_name",
    "transformers_is_supported",
    "transformers_support",
]

Task = Literal["image", "video"]

# What a hub download fetches: configurations (model, processors) and the safetensors weights;
# the repos also hold the original .pt checkpoints, which transformers does not read.
_HUB_FILES = ["*.json", "model*.safetensors"]


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


class DamagedCheckpointError(ModelNotAvailableError):
    """A checkpoint file is there but cannot be read (a truncated download, a damaged copy)."""


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
        config: for an original sam2 ``.pt`` checkpoint, Meta's config name
            (``"sam2.1_hiera_s"``, ``"configs/sam2.1/sam2.1_hiera_s.yaml"``) or a YAML file;
            None picks the released config whose shapes the checkpoint has.
    """

    device: str | torch.device | None
    dtype: str | torch.dtype | None
    revision: str | None
    cache_dir: str | os.PathLike[str] | None
    local_files_only: bool
    token: str | bool | None
    config: str | os.PathLike[str] | None


@dataclass
class LoadedModel:
    """A model on its device with its processor: what the predictor, generator and tracker share.

    ``load_model`` makes one; every front end is constructible from it, so one loaded model
    can serve several of them without loading twice::

        loaded = load_model("tiny")                    # task="image"
        predictor = Sam2Predictor(loaded)
        generator = MaskGenerator(Sam2Predictor(loaded), points_per_side=16)
        tracker = VideoTracker(load_model("tiny", task="video"))

    Attributes:
        model: the transformers model in eval mode on ``device`` (weights in float32), e.g.
            ``Sam2Model`` for images or ``Sam2VideoModel`` for videos.
        processor: its processor (``Sam2Processor``, ``Sam2VideoProcessor``,
            ``Sam3TrackerProcessor`` ...).
        device: where the model runs.
        dtype: the compute dtype the front ends autocast to (see ``autocast``).
        source: the hub id or folder it was loaded from.
    """

    model: torch.nn.Module
    processor: ProcessorMixin
    device: torch.device
    dtype: torch.dtype
    source: str

    @property
    def family(self) -> str | None:
        """The model's family name (``"sam2"``, ``"edgetam"``, ``"sam3_tracker"``), read from
        its configuration; ``None`` for a model of no known family."""
        family = model_family(self.model)
        return family.name if family is not None else None


def load_model(
    model: str | os.PathLike[str] = "tiny",
    *,
    task: Task = "image",
    **options: Unpack[LoadOptions],
) -> LoadedModel:
    """Load a SAM 2 / SAM 2.1, EdgeTAM or SAM 3 tracker checkpoint and its processor for ``task``.

    The family comes from the ``model_type`` in the checkpoint's ``config.json`` (see
    ``registry.FAMILIES``); the official repositories hold video checkpoints, whose image part
    is what ``task="image"`` loads:

    - ``sam2`` (sam2, sam2_video): ``Sam2Model`` + ``Sam2Processor`` for images,
      ``Sam2VideoModel`` + ``Sam2VideoProcessor`` for videos;
    - ``edgetam`` (edgetam, edgetam_video): ``EdgeTamModel`` / ``EdgeTamVideoModel`` with
      SAM 2's processors; needs ``timm`` (``pip install 'sam2-hf[edgetam]'``);
    - ``sam3_tracker`` (sam3_tracker, sam3_tracker_video, and sam3_video: the whole SAM 3
      model, whose tracker part is loaded): ``Sam3TrackerModel`` + ``Sam3TrackerProcessor``,
      ``Sam3TrackerVideoModel`` + ``Sam3TrackerVideoProcessor``.

    Image-only types (sam2, edgetam, sam3_tracker) cannot serve ``task="video"``.

    A hub id is fetched once into the hub cache (configurations and ``model*.safetensors``
    only) and then loaded from there. Offline (``HF_HUB_OFFLINE=1`` or
    ``local_files_only=True``) only the cache is read; with no network the hub is tried once,
    without retries.

    An original sam2 checkpoint (``"sam2.1_hiera_small.pt"``, or one fine-tuned with Meta's
    training code) loads too, with ``config=`` naming its architecture when it is not one
    of the released shapes (see ``sam2_hf.compat.checkpoints.load_checkpoint``).

    Args:
        model: short name, hub id, local folder or ``.pt`` file (see ``resolve_model_name``).
        task: ``"image"`` or ``"video"``.
        **options: ``LoadOptions``: ``device`` and ``dtype`` (see ``resolve_device`` and
            ``resolve_dtype``); ``revision``, ``cache_dir``, ``local_files_only`` and
            ``token``, for the hub download.

    Raises:
        ValueError: unknown name, or a checkpoint that cannot serve ``task`` (the message
            names the family and the checkpoint to use instead).
        ModelNotAvailableError: not cached and not downloadable (offline, no network, no
            access to a gated repository).
        DamagedCheckpointError: a weights file is truncated or damaged (it names the file and
            how to fetch it again).
        ImportError: the family needs an optional package (EdgeTAM needs ``timm``).
    """
    if task not in ("image", "video"):
        raise ValueError(f"task must be 'image' or 'video', got {task!r}")
    unknown = set(options) - set(LoadOptions.__annotations__)
    if unknown:
        raise TypeError(
            f"unknown loading option(s) {sorted(unknown)}; the options are "
            f"{sorted(LoadOptions.__annotations__)}"
        )
    if isinstance(model, str | os.PathLike) and os.fspath(model).endswith((".pt", ".pth")):
        # A checkpoint of the original sam2 (Meta's releases, or its training code's output).
        from ..compat.checkpoints import load_checkpoint

        return load_checkpoint(
            model,
            options.get("config"),
            task=task,
            device=options.get("device"),
            dtype=options.get("dtype"),
        )
    if options.get("config") is not None:
        raise ValueError(
            "config= names the architecture of an original sam2 .pt checkpoint; "
            f"{os.fspath(model)!r} is not one (its config.json says what it is)"
        )
    source = resolve_model_name(model)
    torch_device = resolve_device(options.get("device"))
    torch_dtype = resolve_dtype(options.get("dtype"), torch_device)
    folder, from_hub = _checkpoint_folder(source, options)
    with _explain_unreadable(folder, source, from_hub):
        if not (folder / "config.json").is_file():
            if not from_hub:
                raise ValueError(
                    f"{folder} has no config.json: pass a folder saved with save_pretrained() "
                    "(model and processor), a hub id or a short name from list_models()"
                )
            raise FileNotFoundError(f"no config.json in {folder}")
        config = AutoConfig.from_pretrained(folder)
        family = _family_of(config)
        model_cls, config = model_class_for(config, task)
        _require_extras(family)
        # Weights stay float32: mixed precision comes from autocast at call time.
        network, info = model_cls.from_pretrained(folder, config=config, output_loading_info=True)
        _check_every_weight_loaded(info, model_cls, source)
        processor_name = family.image_processor if task == "image" else family.video_processor
        processor = getattr(transformers, processor_name).from_pretrained(folder)
    network.to(torch_device).eval()
    return LoadedModel(network, processor, torch_device, torch_dtype, source)


def model_class_for(config: PretrainedConfig, task: Task) -> tuple[Any, PretrainedConfig]:
    """The transformers class for ``task`` and the configuration to build it with.

    Video checkpoints serve images through an image configuration built from their parts, so
    transformers does not warn about a model-type mismatch on the normal path.

    Args:
        config: a checkpoint's configuration of any family (``Sam2VideoConfig``,
            ``EdgeTamConfig``, ``Sam3VideoConfig`` ...).
        task: ``"image"`` or ``"video"``.

    Returns:
        ``(model class, configuration)``, e.g. ``(EdgeTamModel, EdgeTamConfig)`` for the image
        part of an EdgeTAM video checkpoint.

    Raises:
        ValueError: an unknown model type, or an image-only checkpoint for ``"video"`` (the
            message names the family and a video checkpoint to load).
    """
    family = _family_of(config)
    model_type = config.model_type
    if task == "video" and model_type in family.image_only_types:
        example = MODELS[family.example]
        raise ValueError(
            f"checkpoint model type {model_type!r} is an image-only {family.title} checkpoint: "
            f"it cannot be used for videos (it has no memory weights). Load a {family.title} "
            f"video checkpoint instead (model type {' or '.join(map(repr, family.video_types))}), "
            f"such as {example.name!r} ({example.hub_id}), or use task='image'."
        )
    if model_type == "sam3_video":
        # The whole SAM 3 model: its tracker part is a sam3_tracker_video configuration.
        config = config.tracker_config
    if task == "video":
        return getattr(transformers, family.video_model), config
    if config.model_type not in family.image_only_types:
        config = getattr(transformers, family.image_config)(
            vision_config=config.vision_config,
            prompt_encoder_config=config.prompt_encoder_config.to_dict(),
            mask_decoder_config=config.mask_decoder_config.to_dict(),
            initializer_range=config.initializer_range,
        )
    return getattr(transformers, family.image_model), config


def _family_of(config: PretrainedConfig) -> Family:
    model_type = getattr(config, "model_type", None)
    family = family_for_model_type(model_type)
    if family is None:
        supported = ", ".join(repr(name) for name in supported_model_types())
        raise ValueError(
            f"checkpoint model type {model_type!r} is not one sam2-hf can load; supported model "
            f"types: {supported}.{unsupported_type_hint(model_type)}"
        )
    return family


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _require_extras(family: Family) -> None:
    if family.needs is None:
        return
    module, extra = family.needs
    if not _installed(module):
        raise ImportError(
            f"{family.title} checkpoints need the {module!r} package, which is not installed: "
            f"pip install 'sam2-hf[{extra}]'"
        )


def _check_every_weight_loaded(info: dict[str, Any], model_cls: type, source: str) -> None:
    """A checkpoint that leaves weights of the model out would give random masks: refuse it."""
    missing = sorted(info.get("missing_keys") or ())
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        shown = ", ".join(missing[:3]) + more
        raise ValueError(
            f"checkpoint {source!r} has no weights for {len(missing)} parameter(s) of "
            f"{model_cls.__name__} ({shown}); they would be random. The checkpoint does not "
            f"match this model class in the installed transformers ({transformers_support()})."
        )


# ---------------------------------------------------------------- the hub


def _offline_mode() -> bool:
    """``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) as set now or as huggingface_hub read it."""
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return bool(constants.HF_HUB_OFFLINE) or any(
        flag.upper() in ("1", "ON", "YES", "TRUE") for flag in flags
    )


def _checkpoint_folder(source: str, options: LoadOptions) -> tuple[Path, bool]:
    """The local folder holding ``source``, fetched into the hub cache if it is a hub id.

    One ``snapshot_download`` replaces the file-by-file lookups transformers would make for
    the config, weights and processor: offline it reads the cache only, and without a network
    it fails on its first request instead of retrying each file with backoff (about 35 s and
    ten warning lines per file).
    """
    if Path(source).is_dir():
        return Path(source), False
    from huggingface_hub import snapshot_download

    revision = options.get("revision")
    cache_dir = options.get("cache_dir")
    try:
        folder = snapshot_download(
            source,
            revision=revision,
            cache_dir=os.fspath(cache_dir) if cache_dir is not None else None,
            token=options.get("token"),
            local_files_only=bool(options.get("local_files_only", False)) or _offline_mode(),
            allow_patterns=_HUB_FILES,
        )
    except OSError as error:  # every huggingface_hub lookup error is an OSError
        raise ModelNotAvailableError(_unavailable_message(source, revision, error)) from error
    return Path(folder), True


def _unavailable_message(source: str, revision: str | None, error: OSError) -> str:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    at = f" at revision {revision!r}" if revision else ""
    if isinstance(error, GatedRepoError):
        return (
            f"model {source!r} is gated: accept its license on https://huggingface.co/{source}, "
            "then log in (`hf auth login`) or pass token=..."
        )
    if isinstance(error, RepositoryNotFoundError):
        return (
            f"model {source!r} is not on the Hugging Face hub, or it is private (log in with "
            "`hf auth login` or pass token=...). See sam2_hf.list_models() for the known names."
        )
    cause = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return (
        f"model {source!r}{at} could not be loaded: it is not in the local Hugging Face "
        "cache and could not be downloaded (offline, no network, or no access). To fix: "
        f"download it once where the hub is reachable (`hf download {source}`) and run "
        "with HF_HUB_OFFLINE=1, or pass a local folder saved with save_pretrained(). "
        f"Underlying error: {type(error).__name__}: {cause}"
    )


@contextlib.contextmanager
def _explain_unreadable(folder: Path, source: str, from_hub: bool) -> Iterator[None]:
    """Turn unreadable or missing checkpoint files into errors that name the file and the fix."""
    try:
        yield
    except SafetensorError as error:
        raise DamagedCheckpointError(_damaged_message(folder, source, from_hub, error)) from error
    except OSError as error:
        if not from_hub or isinstance(error, ModelNotAvailableError):
            raise
        # A cached snapshot that lacks a file (an earlier partial download, for instance).
        raise ModelNotAvailableError(
            f"the cached copy of {source!r} in {folder} is incomplete ({error}). Download it "
            f"again where the hub is reachable: `hf download {source}`."
        ) from error


def _damaged_message(folder: Path, source: str, from_hub: bool, error: SafetensorError) -> str:
    broken = [path.name for path in sorted(folder.glob("*.safetensors")) if not _readable(path)]
    what = ", ".join(broken) if broken else "a weights file"
    where = f"{what} in {folder} cannot be read ({error})"
    if from_hub:
        repo_cache = folder.parent.parent  # <cache>/models--owner--name/snapshots/<commit>
        return (
            f"{where}: it is truncated or damaged, typically by an interrupted download. "
            f"Download it again where the hub is reachable: `hf download {source} "
            f"--force-download`, or delete {repo_cache} and load the model again."
        )
    return (
        f"{where}: it is truncated or damaged. Copy the folder again, or save the model again "
        "with save_pretrained()."
    )


def _readable(path: Path) -> bool:
    try:
        with safe_open(os.fspath(path), framework="pt"):
            return True
    except SafetensorError:
        return False
