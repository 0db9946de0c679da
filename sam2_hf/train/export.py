"""Writing the result: weights any sam2-hf class loads, placed atomically, JSON beside them.

The official hub checkpoints are ``sam2_video`` models, and ``Sam2Model``'s weights are a
subset of ``Sam2VideoModel``'s under the same names (image encoder, prompt encoder, mask
decoder). So the fine-tuned image weights are written into the base video checkpoint: the
result is again a video checkpoint, which ``Sam2Predictor`` and ``MaskGenerator`` read for
images and ``VideoTracker`` for video, tracking with the new weights.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from transformers import AutoConfig

from ..engine.loading import LoadedModel, load_model


def write_json(path: str | os.PathLike[str], content: Any) -> Path:
    """Write ``content`` as indented JSON through a temporary file renamed into place."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(content, indent=2) + "\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def base_model_type(source: str, **hub: Any) -> str:
    """The ``model_type`` of a checkpoint's config.json (``"sam2_video"`` for the hub repos)."""
    return str(AutoConfig.from_pretrained(source, **hub).model_type)


def export_model(image_model: Any, base: LoadedModel, folder: Path, **hub: Any) -> str:
    """Save ``image_model`` (a trained ``Sam2Model``) and its processor into ``folder``.

    Args:
        image_model: the trained image model, LoRA already merged.
        base: the image model and processor the training started from.
        folder: an existing, empty folder.
        **hub: ``revision``, ``cache_dir``, ``local_files_only``, ``token`` for the base.

    Returns:
        The saved model type: the base's video type when the base is a video checkpoint
        (``sam3_tracker_video`` for a whole SAM 3 ``sam3_video`` base: the detector's weights
        are not part of the tracker and are left out).

    Raises:
        RuntimeError: an image weight has no counterpart in the video model (a transformers
            change, or a base that is not a SAM 2 checkpoint).
    """
    model_type = base_model_type(base.source, **hub)
    if not model_type.endswith("_video"):
        image_model.save_pretrained(folder)
        base.processor.save_pretrained(folder)
        return model_type
    video = load_model(base.source, task="video", device="cpu", **hub)
    trained = image_model.state_dict()
    video_keys = set(video.model.state_dict())
    unmatched = sorted(set(trained) - video_keys)
    if unmatched:
        raise RuntimeError(
            f"{len(unmatched)} image weights have no counterpart in {type(video.model).__name__} "
            f"(first: {unmatched[:3]}); the fine-tuned weights cannot go into the video checkpoint"
        )
    video_model: Any = video.model
    video_model.load_state_dict({k: v.detach().cpu() for k, v in trained.items()}, strict=False)
    video_model.save_pretrained(folder)
    video.processor.save_pretrained(folder)
    # SAM 3's base is the whole model (sam3_video); what is saved is its tracker part.
    return str(video_model.config.model_type)


def publish(staging: Path, output: Path, overwrite: bool) -> None:
    """Move a finished ``staging`` folder to ``output``; an old ``output`` goes only once the new
    one is in place (with ``overwrite``)."""
    if output.exists() and output.is_dir() and not any(output.iterdir()):
        output.rmdir()
    if not output.exists():
        os.replace(staging, output)
        return
    if not overwrite:
        raise FileExistsError(f"output_dir {str(output)!r} exists; pass overwrite=True")
    retired = output.with_name(f".{output.name}.old-{os.getpid()}")
    os.replace(output, retired)
    os.replace(staging, output)
    shutil.rmtree(retired, ignore_errors=True)
