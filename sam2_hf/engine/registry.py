"""Model families and short names: what can be loaded, from where, and whether it is cached.

Nothing here imports torch or transformers, so the CLI can list models and check names
without paying for them.

A *family* is a group of checkpoints that share SAM 2's prompt interface and load into the
same transformers classes. The family of a checkpoint is read from the ``model_type`` in its
``config.json``: the official repositories hold the *video* variant (``sam2_video``,
``edgetam_video``, ``sam3_video``), whose image part is what the image task loads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Family:
    """A group of checkpoints that load into the same transformers classes.

    Attributes:
        name: ``"sam2"``, ``"edgetam"`` or ``"sam3_tracker"``.
        title: the name people use (``"SAM 2 / SAM 2.1"``).
        image_model: the transformers class for images (``"Sam2Model"``).
        image_config: its configuration class (``"Sam2Config"``).
        video_model: the transformers class for videos (``"Sam2VideoModel"``).
        image_processor: the processor class for images (``"Sam2Processor"``).
        video_processor: the processor class for videos (``"Sam2VideoProcessor"``).
        image_only_types: ``model_type`` values of checkpoints without the memory weights
            (they can segment images but not track videos).
        video_types: ``model_type`` values of checkpoints with the memory weights (both tasks).
        example: a short name of this family whose checkpoint can do both tasks.
        needs: ``(module, pip extra)`` the family needs beyond the core dependencies, if any.
    """

    name: str
    title: str
    image_model: str
    image_config: str
    video_model: str
    image_processor: str
    video_processor: str
    image_only_types: tuple[str, ...]
    video_types: tuple[str, ...]
    example: str
    needs: tuple[str, str] | None = None

    @property
    def video_session(self) -> str:
        """The inference session class of its video model (``"Sam2VideoInferenceSession"``)."""
        return self.video_model.removesuffix("Model") + "InferenceSession"

    @property
    def model_types(self) -> tuple[str, ...]:
        """Every ``model_type`` of this family, image-only first."""
        return self.image_only_types + self.video_types


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            "sam2",
            "SAM 2 / SAM 2.1",
            "Sam2Model",
            "Sam2Config",
            "Sam2VideoModel",
            "Sam2Processor",
            "Sam2VideoProcessor",
            image_only_types=("sam2",),
            video_types=("sam2_video",),
            example="tiny",
        ),
        # EdgeTAM reuses SAM 2's processors (transformers has no EdgeTam*Processor); its RepViT
        # image encoder is built through timm.
        Family(
            "edgetam",
            "EdgeTAM",
            "EdgeTamModel",
            "EdgeTamConfig",
            "EdgeTamVideoModel",
            "Sam2Processor",
            "Sam2VideoProcessor",
            image_only_types=("edgetam",),
            video_types=("edgetam_video",),
            example="edgetam",
            needs=("timm", "edgetam"),
        ),
        # The point/box tracker of SAM 3. Its official checkpoint is the whole SAM 3 model
        # (model type "sam3_video": concept detector + tracker sharing one vision encoder);
        # transformers' Sam3Tracker* classes load the tracker part of it.
        Family(
            "sam3_tracker",
            "SAM 3 (tracker)",
            "Sam3TrackerModel",
            "Sam3TrackerConfig",
            "Sam3TrackerVideoModel",
            "Sam3TrackerProcessor",
            "Sam3TrackerVideoProcessor",
            image_only_types=("sam3_tracker",),
            video_types=("sam3_tracker_video", "sam3_video"),
            example="sam3",
        ),
    )
}

# model_type -> family, for every type any family accepts.
_FAMILY_OF_TYPE: dict[str, Family] = {
    model_type: family for family in FAMILIES.values() for model_type in family.model_types
}

# Checkpoint types of the SAM family that hold no promptable tracker: a hint for the error.
_NOT_PROMPTABLE = {
    "sam3": "the SAM 3 concept detector alone (text prompts, Sam3Model), without the tracker",
    "sam3_lite_text": "a SAM 3 concept detector (text prompts), without the tracker",
}


def family_for_model_type(model_type: str | None) -> Family | None:
    """The family a checkpoint's ``config.json`` ``model_type`` belongs to, or ``None``.

    Example:
        >>> family_for_model_type("edgetam_video").name
        'edgetam'
    """
    return _FAMILY_OF_TYPE.get(model_type or "")


def model_family(model: object) -> Family | None:
    """The family of a loaded transformers model, from its ``config.model_type`` (None: not
    a model of a known family)."""
    return family_for_model_type(getattr(getattr(model, "config", None), "model_type", None))


def supported_model_types() -> tuple[str, ...]:
    """Every ``model_type`` ``load_model`` accepts, family by family."""
    return tuple(_FAMILY_OF_TYPE)


def unsupported_type_hint(model_type: str | None) -> str:
    """Why a SAM-like checkpoint type is not accepted, and what to load instead ("" if unknown)."""
    what = _NOT_PROMPTABLE.get(model_type or "")
    if what is None:
        return ""
    return (
        f" Model type {model_type!r} is {what}; the point/box tracker is in the full SAM 3 "
        f"checkpoint ({MODELS['sam3'].hub_id!r}, model type 'sam3_video')."
    )


@dataclass(frozen=True)
class ModelInfo:
    """A known checkpoint, reachable by its short name.

    Attributes:
        name: the short name accepted everywhere a model is named (``"tiny"``).
        hub_id: the Hugging Face hub repository it stands for.
        family: the ``Family.name`` (``"sam2"``, ``"edgetam"``, ``"sam3_tracker"``).
        params_millions: parameter count in millions as its authors publish it, or ``None``
            where they publish none.
        fps: frames per second tracking a video on an A100 with ``torch.compile``, as its
            authors publish it, or ``None`` where no comparable figure is published.
        gated: the hub repository asks you to accept a license first (log in with a token).
        cached: whether its configuration and weights are in the local hub cache; filled in
            by ``list_models`` (``False`` in the static table ``MODELS``).
    """

    name: str
    hub_id: str
    family: str
    params_millions: float | None
    fps: float | None
    gated: bool = False
    cached: bool = False


MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        # SAM 2.1: sizes and speeds from the "SAM 2.1 checkpoints" table of the
        # facebookresearch/sam2 README (A100, torch 2.5.1, compiled).
        ModelInfo("tiny", "facebook/sam2.1-hiera-tiny", "sam2", 38.9, 91.2),
        ModelInfo("small", "facebook/sam2.1-hiera-small", "sam2", 46.0, 84.8),
        ModelInfo("base-plus", "facebook/sam2.1-hiera-base-plus", "sam2", 80.8, 64.1),
        ModelInfo("large", "facebook/sam2.1-hiera-large", "sam2", 224.4, 39.5),
        # EdgeTAM: the hub id transformers' own EdgeTAM integration tests and config docstrings
        # load (tests/models/edgetam_video, configuration_edgetam.py). 150.9 fps: the A100
        # column ("obtained with torch compile") of the VOS table in the facebookresearch/EdgeTAM
        # README (arXiv:2501.07256), measured like SAM 2.1's figures; the same table gives
        # 15.7 fps on an iPhone 15 Pro Max. Its parameter count is not published there.
        ModelInfo("edgetam", "yonigozlan/EdgeTAM-hf", "edgetam", None, 150.9),
        # SAM 3: the hub id of transformers' Sam3Tracker / Sam3TrackerVideo docs
        # (docs/source/en/model_doc/sam3_tracker*.md). 848M parameters is the whole SAM 3 model
        # (concept detector + tracker sharing one vision encoder) as Meta published it with the
        # release (arXiv:2511.16719); the tracker alone uses part of it. Meta publishes detection
        # latency (30 ms per image on an H200), not a comparable tracking frame rate.
        ModelInfo("sam3", "facebook/sam3", "sam3_tracker", 848.0, None, gated=True),
    )
}


def list_models(cache_dir: str | os.PathLike[str] | None = None) -> list[ModelInfo]:
    """The known short names: SAM 2.1 by size, then EdgeTAM and SAM 3, each with ``cached`` set.

    Args:
        cache_dir: the hub cache to look in (default: ``$HF_HUB_CACHE``, ``$HF_HOME/hub``).
            Only the folder is read: no network.

    Example:
        >>> [(m.name, m.family) for m in list_models()][-2:]
        [('edgetam', 'edgetam'), ('sam3', 'sam3_tracker')]
    """
    return [replace(info, cached=is_cached(info.hub_id, cache_dir)) for info in MODELS.values()]


def is_cached(
    hub_id: str,
    cache_dir: str | os.PathLike[str] | None = None,
    revision: str | None = None,
) -> bool:
    """Whether a hub repository's ``config.json`` and weights are in the local hub cache.

    Reads the cache folder only (no network), as ``huggingface_hub.try_to_load_from_cache``.

    Args:
        hub_id: ``"owner/name"``.
        cache_dir: the hub cache (default: ``$HF_HUB_CACHE``).
        revision: a branch, tag or commit (default: ``"main"``).
    """
    from huggingface_hub import try_to_load_from_cache

    folder = os.fspath(cache_dir) if cache_dir is not None else None

    def cached(filename: str) -> bool:
        found = try_to_load_from_cache(hub_id, filename, cache_dir=folder, revision=revision)
        return isinstance(found, str)  # None or a "known missing" marker otherwise

    return cached("config.json") and (
        cached("model.safetensors") or cached("model.safetensors.index.json")
    )


def resolve_model_name(model: str | os.PathLike[str]) -> str:
    """Turn a short name, hub id or local folder into what ``from_pretrained`` takes.

    Args:
        model: a short name from ``list_models()`` (``"tiny"``, ``"large"``, ``"edgetam"``,
            ``"sam3"`` ...), a hub id such as ``"facebook/sam2-hiera-large"``, or a local folder.

    Raises:
        TypeError: ``model`` is not a string or path.
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
