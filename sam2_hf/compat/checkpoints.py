"""Meta's ``.pt`` checkpoints on transformers: key mapping, loading and conversion to a folder.

A checkpoint of the original sam2 (``sam2.1_hiera_tiny.pt``, or one written by Meta's training
code or a fine-tuning script) holds ``{"model": state_dict}`` with the original module names.
``convert_state_dict`` renames every tensor to its ``Sam2VideoModel`` name (the table is
``_RULES``; every original tensor has exactly one counterpart, and transformers' one extra
tensor, ``shared_image_embedding.positional_embedding``, is a copy of the prompt encoder's
random Fourier matrix). ``load_checkpoint`` gives a ``LoadedModel`` that ``Sam2Predictor``,
``MaskGenerator`` and ``VideoTracker`` take; ``convert_checkpoint`` writes a
``save_pretrained`` folder that loads by path or after ``push_to_hub``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import (
    Sam2Config,
    Sam2ImageProcessor,
    Sam2Model,
    Sam2Processor,
    Sam2VideoConfig,
    Sam2VideoModel,
    Sam2VideoProcessor,
    Sam2VideoVideoProcessor,
)
from transformers.processing_utils import ProcessorMixin

from ..engine.loading import LoadedModel, resolve_device, resolve_dtype
from .configs import (
    IMAGE_POSTPROCESSING,
    VIDEO_POSTPROCESSING,
    MetaConfig,
    apply_overrides,
    configs_with_signature,
    load_meta_config,
    signature,
    to_transformers,
)

Task = Literal["image", "video"]
StateDict = dict[str, torch.Tensor]

# ----------------------------------------------------------------------------- key mapping


def _mlp(prefix: str) -> Callable[[re.Match[str], Mapping[str, int]], str]:
    """An MLP's ``layers.i``: the first is ``proj_in``, the last ``proj_out``, the ones between
    ``layers.(i - 1)`` (transformers' ``Sam2FeedForward``)."""

    def rename(match: re.Match[str], depths: Mapping[str, int]) -> str:
        target = match.expand(prefix)
        index, kind = int(match.group("i")), match.group("kind")
        depth = depths[match.group(0).rsplit(".layers.", 1)[0]]
        if index == 0:
            return f"{target}.proj_in.{kind}"
        if index == depth - 1:
            return f"{target}.proj_out.{kind}"
        return f"{target}.layers.{index - 1}.{kind}"

    return rename


def _mask_downsampler(match: re.Match[str], depths: Mapping[str, int]) -> str:
    """``encoder`` is (conv, norm, GELU) x n then a 1x1 conv: ``layers.k.conv`` /
    ``layers.k.layer_norm`` / ``final_conv``."""
    index, kind = int(match.group("i")), match.group("kind")
    prefix = "memory_encoder.mask_downsampler"
    if index == depths["memory_encoder.mask_downsampler.encoder"] - 1:
        return f"{prefix}.final_conv.{kind}"
    part = ("conv", "layer_norm")[index % 3]
    return f"{prefix}.layers.{index // 3}.{part}.{kind}"


_WB = r"(?P<kind>weight|bias)"
_ATTN = r"(?P<proj>q_proj|k_proj|v_proj|out_proj)"
Rename = str | Callable[[re.Match[str], Mapping[str, int]], str]

# (original name, transformers name): a template for re.Match.expand, or a function.
_RULES: tuple[tuple[str, Rename], ...] = (
    (r"no_mem_embed", "no_memory_embedding"),
    (r"no_mem_pos_enc", "no_memory_positional_encoding"),
    (r"maskmem_tpos_enc", "memory_temporal_positional_encoding"),
    (r"no_obj_ptr", "no_object_pointer"),
    (r"no_obj_embed_spatial", "occlusion_spatial_embedding_parameter"),
    (rf"mask_downsample\.{_WB}", r"mask_downsample.\g<kind>"),
    (rf"obj_ptr_tpos_proj\.{_WB}", r"temporal_positional_encoding_projection_layer.\g<kind>"),
    (rf"obj_ptr_proj\.layers\.(?P<i>\d+)\.{_WB}", _mlp("object_pointer_proj")),
    # image encoder: Hiera trunk and FPN neck
    (r"image_encoder\.trunk\.(?P<p>pos_embed|pos_embed_window)", r"vision_encoder.backbone.\g<p>"),
    (
        rf"image_encoder\.trunk\.patch_embed\.proj\.{_WB}",
        r"vision_encoder.backbone.patch_embed.projection.\g<kind>",
    ),
    (
        rf"image_encoder\.trunk\.blocks\.(?P<b>\d+)\.norm(?P<n>[12])\.{_WB}",
        r"vision_encoder.backbone.blocks.\g<b>.layer_norm\g<n>.\g<kind>",
    ),
    (
        rf"image_encoder\.trunk\.blocks\.(?P<b>\d+)\.(?P<p>attn\.qkv|attn\.proj|proj)\.{_WB}",
        r"vision_encoder.backbone.blocks.\g<b>.\g<p>.\g<kind>",
    ),
    (
        rf"image_encoder\.trunk\.blocks\.(?P<b>\d+)\.mlp\.layers\.(?P<i>\d+)\.{_WB}",
        _mlp(r"vision_encoder.backbone.blocks.\g<b>.mlp"),
    ),
    (
        rf"image_encoder\.neck\.convs\.(?P<c>\d+)\.conv\.{_WB}",
        r"vision_encoder.neck.convs.\g<c>.\g<kind>",
    ),
    # prompt encoder (point_embeddings.0-3 are stacked, see convert_state_dict)
    (
        r"sam_prompt_encoder\.pe_layer\.positional_encoding_gaussian_matrix",
        "prompt_encoder.shared_embedding.positional_embedding",
    ),
    (
        r"sam_prompt_encoder\.(?P<p>not_a_point_embed|no_mask_embed)\.weight",
        r"prompt_encoder.\g<p>.weight",
    ),
    (
        rf"sam_prompt_encoder\.mask_downscaling\.(?P<i>[0-6])\.{_WB}",
        lambda m, _: (
            "prompt_encoder.mask_embed."
            + {"0": "conv1", "1": "layer_norm1", "3": "conv2", "4": "layer_norm2", "6": "conv3"}[
                m.group("i")
            ]
            + f".{m.group('kind')}"
        ),
    ),
    # mask decoder
    (
        r"sam_mask_decoder\.(?P<p>iou_token|mask_tokens|obj_score_token)\.weight",
        r"mask_decoder.\g<p>.weight",
    ),
    (rf"sam_mask_decoder\.(?P<p>conv_s0|conv_s1)\.{_WB}", r"mask_decoder.\g<p>.\g<kind>"),
    (
        rf"sam_mask_decoder\.output_upscaling\.(?P<i>[013])\.{_WB}",
        lambda m, _: (
            "mask_decoder."
            + {"0": "upscale_conv1", "1": "upscale_layer_norm", "3": "upscale_conv2"}[m.group("i")]
            + f".{m.group('kind')}"
        ),
    ),
    (
        r"sam_mask_decoder\.(?P<p>output_hypernetworks_mlps\.\d+|iou_prediction_head|"
        rf"pred_obj_score_head)\.layers\.(?P<i>\d+)\.{_WB}",
        _mlp(r"mask_decoder.\g<p>"),
    ),
    (
        r"sam_mask_decoder\.transformer\.layers\.(?P<l>\d+)\.(?P<a>self_attn|"
        rf"cross_attn_token_to_image|cross_attn_image_to_token)\.{_ATTN}\.{_WB}",
        lambda m, _: (
            f"mask_decoder.transformer.layers.{m.group('l')}.{m.group('a')}."
            f"{_attn_proj(m)}.{m.group('kind')}"
        ),
    ),
    (
        rf"sam_mask_decoder\.transformer\.layers\.(?P<l>\d+)\.norm(?P<n>[1-4])\.{_WB}",
        r"mask_decoder.transformer.layers.\g<l>.layer_norm\g<n>.\g<kind>",
    ),
    (
        rf"sam_mask_decoder\.transformer\.layers\.(?P<l>\d+)\.mlp\.layers\.(?P<i>\d+)\.{_WB}",
        _mlp(r"mask_decoder.transformer.layers.\g<l>.mlp"),
    ),
    (
        rf"sam_mask_decoder\.transformer\.final_attn_token_to_image\.{_ATTN}\.{_WB}",
        lambda m, _: (
            f"mask_decoder.transformer.final_attn_token_to_image.{_attn_proj(m)}.{m.group('kind')}"
        ),
    ),
    (
        rf"sam_mask_decoder\.transformer\.norm_final_attn\.{_WB}",
        r"mask_decoder.transformer.layer_norm_final_attn.\g<kind>",
    ),
    # memory attention
    (rf"memory_attention\.norm\.{_WB}", r"memory_attention.layer_norm.\g<kind>"),
    (
        rf"memory_attention\.layers\.(?P<l>\d+)\.(?P<a>self_attn|cross_attn_image)\.{_ATTN}\.{_WB}",
        lambda m, _: (
            f"memory_attention.layers.{m.group('l')}.{m.group('a')}."
            f"{_attn_proj(m)}.{m.group('kind')}"
        ),
    ),
    (
        rf"memory_attention\.layers\.(?P<l>\d+)\.(?P<p>linear1|linear2)\.{_WB}",
        r"memory_attention.layers.\g<l>.\g<p>.\g<kind>",
    ),
    (
        rf"memory_attention\.layers\.(?P<l>\d+)\.norm(?P<n>[1-3])\.{_WB}",
        r"memory_attention.layers.\g<l>.layer_norm\g<n>.\g<kind>",
    ),
    # memory encoder
    (rf"memory_encoder\.mask_downsampler\.encoder\.(?P<i>\d+)\.{_WB}", _mask_downsampler),
    (rf"memory_encoder\.pix_feat_proj\.{_WB}", r"memory_encoder.feature_projection.\g<kind>"),
    (
        r"memory_encoder\.fuser\.layers\.(?P<l>\d+)\.gamma",
        r"memory_encoder.memory_fuser.layers.\g<l>.scale",
    ),
    (
        rf"memory_encoder\.fuser\.layers\.(?P<l>\d+)\.(?P<p>dwconv|norm|pwconv1|pwconv2)\.{_WB}",
        lambda m, _: (
            f"memory_encoder.memory_fuser.layers.{m.group('l')}."
            + {
                "dwconv": "depthwise_conv",
                "norm": "layer_norm",
                "pwconv1": "pointwise_conv1",
                "pwconv2": "pointwise_conv2",
            }[m.group("p")]
            + f".{m.group('kind')}"
        ),
    ),
    (rf"memory_encoder\.out_proj\.{_WB}", r"memory_encoder.projection.\g<kind>"),
)
_COMPILED = tuple((re.compile(pattern), rename) for pattern, rename in _RULES)
_POINT_EMBEDDING = re.compile(r"sam_prompt_encoder\.point_embeddings\.(?P<i>\d+)\.weight")
# Tensors of modules made of numbered layers, whose depth the renaming needs.
_LAYERED = (
    re.compile(r"(?P<module>.+)\.layers\.(?P<i>\d+)\.(?:weight|bias)"),
    re.compile(
        r"(?P<module>memory_encoder\.mask_downsampler\.encoder)\.(?P<i>\d+)\.(?:weight|bias)"
    ),
)


def _attn_proj(match: re.Match[str]) -> str:
    return "o_proj" if match.group("proj") == "out_proj" else match.group("proj")


def convert_state_dict(state_dict: Mapping[str, torch.Tensor]) -> StateDict:
    """Rename the original sam2's tensors to ``Sam2VideoModel``'s.

    Args:
        state_dict: the original model's ``state_dict()`` (the ``"model"`` entry of a ``.pt``).

    Returns:
        A new dict of the same tensors (not copied) under transformers' names, plus
        ``shared_image_embedding.positional_embedding`` (a copy of the prompt encoder's
        Fourier matrix, which transformers stores twice) and ``prompt_encoder.point_embed``
        stacked from the four ``point_embeddings``.

    Raises:
        ValueError: tensors that are not part of the original SAM 2 model (listed).
    """
    depths: dict[str, int] = {}
    for key in state_dict:
        for layered in _LAYERED:
            match = layered.fullmatch(key)
            if match is not None:
                module = match.group("module")
                depths[module] = max(depths.get(module, 0), int(match.group("i")) + 1)
    converted: StateDict = {}
    point_embeddings: dict[int, torch.Tensor] = {}
    unknown: list[str] = []
    for key, tensor in state_dict.items():
        point = _POINT_EMBEDDING.fullmatch(key)
        if point is not None:
            point_embeddings[int(point.group("i"))] = tensor
            continue
        for pattern, rename in _COMPILED:
            match = pattern.fullmatch(key)
            if match is not None:
                name = rename(match, depths) if callable(rename) else match.expand(rename)
                converted[name] = tensor
                break
        else:
            unknown.append(key)
    if unknown:
        more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
        shown = ", ".join(unknown[:8]) + more
        raise ValueError(
            f"{len(unknown)} tensor(s) are not part of the original SAM 2 model: {shown}"
        )
    if point_embeddings:
        if sorted(point_embeddings) != list(range(len(point_embeddings))):
            raise ValueError(
                f"point_embeddings must be numbered 0..n-1, got {sorted(point_embeddings)}"
            )
        converted["prompt_encoder.point_embed.weight"] = torch.cat(
            [point_embeddings[i] for i in range(len(point_embeddings))]
        )
    fourier = converted.get("prompt_encoder.shared_embedding.positional_embedding")
    if fourier is not None:
        converted["shared_image_embedding.positional_embedding"] = fourier
    return converted


# -------------------------------------------------------------------------- reading files


def read_state_dict(path: str | os.PathLike[str]) -> StateDict:
    """The original model's tensors from a ``.pt`` file.

    Accepts Meta's layout (``{"model": state_dict, ...}``, also what its training code
    writes) and a bare ``state_dict`` (``torch.save(model.state_dict(), path)``), with or
    without DistributedDataParallel's ``module.`` prefix. Only tensors are unpickled
    (``weights_only=True``).

    Raises:
        FileNotFoundError: no such file. ValueError: a file that is not a readable
            checkpoint, or one that holds no SAM 2 state dict; the message names the file.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"checkpoint file {str(file)!r} does not exist")
    try:
        loaded = torch.load(file, map_location="cpu", weights_only=True, mmap=_is_zip(file))
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(
            f"checkpoint file {str(file)!r} cannot be read (truncated or not a PyTorch "
            f"checkpoint): {reason}"
        ) from None
    state = loaded.get("model", loaded) if isinstance(loaded, Mapping) else None
    if not isinstance(state, Mapping) or not state:
        raise ValueError(
            f"checkpoint file {str(file)!r} holds no state dict: expected "
            "{'model': state_dict} (Meta's layout) or a state_dict"
        )
    tensors = {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}
    if len(tensors) != len(state):
        raise ValueError(
            f"checkpoint file {str(file)!r}: the state dict holds things other than tensors"
        )
    if all(key.startswith("module.") for key in tensors):
        tensors = {key.removeprefix("module."): value for key, value in tensors.items()}
    if not any(key.startswith("image_encoder.trunk.") for key in tensors):
        sample = ", ".join(list(tensors)[:3])
        raise ValueError(
            f"checkpoint file {str(file)!r} is not an original SAM 2 checkpoint: it has no "
            f"image_encoder.trunk tensors (its first keys: {sample})"
        )
    return tensors


def _is_zip(file: Path) -> bool:
    # mmap needs the zip format of torch.save (the default since torch 1.6).
    return zipfile.is_zipfile(file)


def checkpoint_signature(state_dict: Mapping[str, torch.Tensor]) -> tuple[int, int, int, bool]:
    """(Hiera width, Hiera blocks, model width, SAM 2.1) of an original state dict."""
    try:
        width = int(state_dict["image_encoder.trunk.patch_embed.proj.weight"].shape[0])
        d_model = int(state_dict["image_encoder.neck.convs.0.conv.weight"].shape[0])
    except KeyError as error:
        raise ValueError(f"not an original SAM 2 state dict: it has no {error.args[0]}") from None
    prefix = "image_encoder.trunk.blocks."
    blocks = 1 + max(int(key.split(".")[3]) for key in state_dict if key.startswith(prefix))
    return width, blocks, d_model, "no_obj_embed_spatial" in state_dict


def guess_config(state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """The built-in config (Meta's path) whose model has this state dict's shapes, if any."""
    matches = configs_with_signature(checkpoint_signature(state_dict))
    return matches[0] if matches else None


def _describe(sig: tuple[int, int, int, bool]) -> str:
    width, blocks, d_model, v21 = sig
    version = "SAM 2.1" if v21 else "SAM 2.0"
    return f"{version}, a Hiera of {blocks} blocks {width} wide, model width {d_model}"


# --------------------------------------------------------------------------- models


def build_model(
    settings: MetaConfig,
    *,
    name: str,
    task: Task,
    state_dict: Mapping[str, torch.Tensor] | None = None,
    source: str = "",
) -> torch.nn.Module:
    """A transformers model for a Meta config, with the original checkpoint's weights.

    Args:
        settings: from ``load_meta_config`` with overrides applied.
        name: the config's name for messages.
        task: ``"image"`` (``Sam2Model``) or ``"video"`` (``Sam2VideoModel``).
        state_dict: the original model's tensors; None keeps the random initialisation.
        source: the checkpoint's file name for messages.

    Returns:
        The model on the CPU in eval mode, float32.

    Raises:
        ValueError: the checkpoint does not fit the config (the message says which built-in
            config it looks like), or the config is not supported.
    """
    video_config = to_transformers(settings, name=name, video=task == "video")
    if state_dict is not None:
        sig = checkpoint_signature(state_dict)
        expected = signature(settings)
        if sig != expected:
            like = configs_with_signature(sig)
            hint = (
                f"it looks like {' or '.join(repr(c) for c in like)}; pass that config"
                if like
                else "it matches none of the released configs; pass the YAML config it was "
                "trained with"
            )
            raise ValueError(
                f"checkpoint {source or 'given'} does not match config {name!r}: the "
                f"checkpoint is {_describe(sig)}, the config describes {_describe(expected)}; "
                f"{hint}"
            )
    model: torch.nn.Module
    # Every weight is about to be replaced: skip the random initialisation (6 s for large).
    skip = _no_init_weights() if state_dict is not None else contextlib.nullcontext()
    with skip:
        if task == "video":
            model = Sam2VideoModel(video_config)
        else:
            model = Sam2Model(image_config(video_config))
    if state_dict is not None:
        converted = convert_state_dict(state_dict)
        wanted = model.state_dict()
        if task == "image":  # the memory modules stay behind
            converted = {key: value for key, value in converted.items() if key in wanted}
        _check_shapes(converted, wanted, source, name)
        model.load_state_dict(
            {key: value.to(torch.float32) for key, value in converted.items()}, strict=True
        )
    return model.eval()


def _no_init_weights() -> contextlib.AbstractContextManager[Any]:
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # moved in another transformers release: initialise, then overwrite
        return contextlib.nullcontext()
    return no_init_weights()


def _check_shapes(
    converted: Mapping[str, torch.Tensor],
    wanted: Mapping[str, torch.Tensor],
    source: str,
    name: str,
) -> None:
    missing = sorted(set(wanted) - set(converted))
    extra = sorted(set(converted) - set(wanted))
    wrong = [
        f"{key} {tuple(converted[key].shape)} vs {tuple(wanted[key].shape)}"
        for key in wanted
        if key in converted and converted[key].shape != wanted[key].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if extra:
        problems.append(f"not in the model {extra[:5]}{' ...' if len(extra) > 5 else ''}")
    if wrong:
        problems.append(f"shapes differ: {wrong[:5]}{' ...' if len(wrong) > 5 else ''}")
    if problems:
        raise ValueError(
            f"checkpoint {source or 'given'} does not fit config {name!r}: " + "; ".join(problems)
        )


def image_config(video_config: Sam2VideoConfig) -> Sam2Config:
    """The image model's part of a video config."""
    source: Any = video_config  # sub-configs are typed loosely in transformers
    return Sam2Config(
        vision_config=source.vision_config,
        prompt_encoder_config=source.prompt_encoder_config.to_dict(),
        mask_decoder_config=source.mask_decoder_config.to_dict(),
        initializer_range=video_config.initializer_range,
    )


def make_processor(image_size: int, task: Task) -> ProcessorMixin:
    """The processor the official checkpoints ship, for a model of input size ``image_size``."""
    size = {"height": image_size, "width": image_size}
    mask_size = {"height": image_size // 4, "width": image_size // 4}
    image_processor = Sam2ImageProcessor(size=size, mask_size=mask_size)
    if task == "image":
        return Sam2Processor(image_processor=image_processor, target_size=image_size)
    return Sam2VideoProcessor(
        image_processor=image_processor,
        video_processor=Sam2VideoVideoProcessor(size=size),
        target_size=image_size,
        point_pad_value=-10,
    )


def load_checkpoint(
    path: str | os.PathLike[str],
    config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    task: Task = "image",
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
) -> LoadedModel:
    """Load an original sam2 ``.pt`` checkpoint for ``Sam2Predictor``, ``MaskGenerator`` or
    ``VideoTracker`` (their constructors take the result).

    Args:
        path: the ``.pt`` file.
        config: Meta's config name (``"sam2.1_hiera_s"``, ``"configs/sam2.1/sam2.1_hiera_s.yaml"``)
            or YAML file; None picks the released config with the checkpoint's shapes.
        task: ``"image"`` or ``"video"``.
        device: as ``sam2_hf.load_model``'s (None: cuda, then mps, then cpu).
        dtype: as ``sam2_hf.load_model``'s (None: bf16 on Ampere-or-newer GPUs, else fp32).

    The model is built as the original's ``build_sam2`` / ``build_sam2_video_predictor``
    build it by default (``apply_postprocessing=True``).

    Raises:
        FileNotFoundError, ValueError: see ``read_state_dict`` and ``build_model``.

    Example:
        >>> loaded = load_checkpoint("my_finetuned.pt", "sam2.1_hiera_s")  # doctest: +SKIP
        >>> predictor = sam2_hf.Sam2Predictor(loaded)  # doctest: +SKIP
    """
    if task not in ("image", "video"):
        raise ValueError(f"task must be 'image' or 'video', got {task!r}")
    state_dict = read_state_dict(path)
    name, settings = _config_for(state_dict, config, path)
    overrides = VIDEO_POSTPROCESSING if task == "video" else IMAGE_POSTPROCESSING
    settings = apply_overrides(settings, overrides)
    model = build_model(
        settings, name=name, task=task, state_dict=state_dict, source=repr(os.fspath(path))
    )
    torch_device = resolve_device(device)
    model.to(torch_device)
    image_size = int(settings["image_size"])
    return LoadedModel(
        model=model,
        processor=make_processor(image_size, task),
        device=torch_device,
        dtype=resolve_dtype(dtype, torch_device),
        source=os.fspath(path),
    )


def _config_for(
    state_dict: Mapping[str, torch.Tensor],
    config: str | os.PathLike[str] | Mapping[str, Any] | None,
    path: str | os.PathLike[str],
) -> tuple[str, MetaConfig]:
    if config is not None:
        return load_meta_config(config)
    guessed = guess_config(state_dict)
    if guessed is None:
        raise ValueError(
            f"checkpoint {os.fspath(path)!r} is {_describe(checkpoint_signature(state_dict))}, "
            "which matches none of the released configs: pass config= (the YAML file it was "
            "trained with)"
        )
    return load_meta_config(guessed)


def convert_checkpoint(
    ckpt_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write an original ``.pt`` checkpoint as a transformers folder (``save_pretrained``).

    The folder is laid out as the official ``facebook/sam2.1-hiera-*`` repositories: a
    ``sam2_video`` model (``config.json``, ``model.safetensors``) with its processor
    (``preprocessor_config.json``, ``video_preprocessor_config.json`` and
    ``processor_config.json``); ``sam2_hf`` loads it for images and videos, by path or after
    ``push_to_hub``. It is written to a temporary folder beside ``out_dir`` and renamed into
    place, so an interrupted conversion leaves no half-written folder.

    Args:
        ckpt_path: the ``.pt`` file.
        out_dir: the folder to create.
        config: as for ``load_checkpoint``; None picks the released config by shape.
        overwrite: replace an existing non-empty ``out_dir``.

    Returns:
        ``out_dir`` as a ``Path``.

    Raises:
        FileExistsError: ``out_dir`` exists, is not empty, and ``overwrite`` is False.
        FileNotFoundError, ValueError: see ``load_checkpoint``.
    """
    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"out_dir {str(target)!r} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise FileExistsError(
            f"out_dir {str(target)!r} exists and is not empty; pass overwrite=True to replace it"
        )
    state_dict = read_state_dict(ckpt_path)
    name, settings = _config_for(state_dict, config, ckpt_path)
    settings = apply_overrides(settings, VIDEO_POSTPROCESSING)
    model: Any = build_model(
        settings, name=name, task="video", state_dict=state_dict, source=repr(os.fspath(ckpt_path))
    )
    image_size = int(settings["image_size"])
    processor: Any = make_processor(image_size, "video")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(staging)
        processor.image_processor.save_pretrained(staging)
        processor.video_processor.save_pretrained(staging)
        # The official repositories' processor_config.json, which every transformers
        # release that has SAM 2 reads.
        (staging / "processor_config.json").write_text(
            json.dumps(
                {
                    "point_pad_value": -10,
                    "processor_class": "Sam2VideoProcessor",
                    "target_size": image_size,
                },
                indent=2,
            )
            + "\n"
        )
        _publish(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _publish(staging: Path, target: Path) -> None:
    """Move the finished folder into place; mkdtemp's 0700 becomes a normal folder's mode."""
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    for file in staging.iterdir():
        file.chmod(0o666 & ~umask)
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)
