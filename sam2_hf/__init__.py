"""sam2-hf: Segment Anything 2 on Hugging Face transformers, with flat prompts and numpy masks.

The package is laid out by responsibility (see the README's *Development* section):

- ``sam2_hf.engine``: loading models, the image engine and every contact with transformers'
  internals;
- ``sam2_hf.image``: the image tasks (``Sam2Predictor``, ``MaskGenerator``, click sessions,
  folder jobs);
- ``sam2_hf.video``: video tracking, frames in and files out;
- ``sam2_hf.formats``: masks, COCO and drawing in plain numpy and PIL (no torch);
- ``sam2_hf.results`` and ``sam2_hf.inputs``: what goes in and what comes out;
- ``sam2_hf.cli``: the ``sam2-hf`` command.

Names are resolved on first use, so ``import sam2_hf`` (and ``sam2_hf.formats``) costs no
torch import until a model is needed.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("sam2-hf")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

# Public name -> the module that defines it.
_NAMES: dict[str, str] = {
    **dict.fromkeys(
        (
            "DamagedCheckpointError",
            "LoadOptions",
            "LoadedModel",
            "ModelInfo",
            "ModelNotAvailableError",
            "list_models",
            "load_model",
        ),
        "sam2_hf.engine.loading",
    ),
    **dict.fromkeys(("Sam2Predictor", "segment"), "sam2_hf.image.predictor"),
    **dict.fromkeys(
        ("OUTPUT_MODES", "MaskGenerator", "masks_from_records"), "sam2_hf.image.automatic"
    ),
    "ClickSession": "sam2_hf.image.interactive",
    **dict.fromkeys(
        ("StreamingSession", "TrackingSession", "VideoTracker", "track_video"),
        "sam2_hf.video.tracker",
    ),
    **dict.fromkeys(("FrameMasks", "Masks", "Prediction"), "sam2_hf.results"),
    "load_image": "sam2_hf.inputs",
    **dict.fromkeys(
        (
            "CocoImage",
            "from_coco_rle",
            "to_coco_annotations",
            "to_coco_rle",
            "to_uncompressed_rle",
            "write_coco_json",
        ),
        "sam2_hf.formats.coco",
    ),
    **dict.fromkeys(
        ("cutout", "object_color", "overlay", "remove_background"), "sam2_hf.formats.draw"
    ),
    **dict.fromkeys(
        (
            "Polygon",
            "clean_mask_logits",
            "invert",
            "load_mask",
            "mask_area",
            "mask_to_box",
            "mask_to_polygons",
            "polygons_to_mask",
            "remove_small_regions",
            "save_mask",
        ),
        "sam2_hf.formats.masks",
    ),
}

# Module paths of the first release, kept working: ``import sam2_hf.masks`` gives
# ``sam2_hf.formats.masks`` itself (the same module object, not a copy).
_MOVED_MODULES: dict[str, str] = {
    "sam2_hf.models": "sam2_hf.engine.loading",
    "sam2_hf.fast_decode": "sam2_hf.engine.fast_decode",
    "sam2_hf.predictor": "sam2_hf.image.predictor",
    "sam2_hf.automatic": "sam2_hf.image.automatic",
    "sam2_hf.amg_grid": "sam2_hf.image.grid",
    "sam2_hf.interactive": "sam2_hf.image.interactive",
    "sam2_hf.batch": "sam2_hf.image.batch",
    "sam2_hf.video_io": "sam2_hf.video.io",
    "sam2_hf.masks": "sam2_hf.formats.masks",
    "sam2_hf.coco": "sam2_hf.formats.coco",
    "sam2_hf.draw": "sam2_hf.formats.draw",
}

__all__ = sorted([*_NAMES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value  # resolve once
        return value
    moved = _MOVED_MODULES.get(f"{__name__}.{name}")
    if moved is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers imports of the old module paths with the modules that now hold the code."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _MOVED_MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: Any) -> ModuleType:
        return importlib.import_module(_MOVED_MODULES[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        sys.modules[module.__spec__.name] = module  # type: ignore[union-attr]


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())

if TYPE_CHECKING:  # the names above, for type checkers and IDEs
    from .engine.loading import (
        DamagedCheckpointError,
        LoadedModel,
        LoadOptions,
        ModelInfo,
        ModelNotAvailableError,
        list_models,
        load_model,
    )
    from .formats.coco import (
        CocoImage,
        from_coco_rle,
        to_coco_annotations,
        to_coco_rle,
        to_uncompressed_rle,
        write_coco_json,
    )
    from .formats.draw import cutout, object_color, overlay, remove_background
    from .formats.masks import (
        Polygon,
        clean_mask_logits,
        invert,
        load_mask,
        mask_area,
        mask_to_box,
        mask_to_polygons,
        polygons_to_mask,
        remove_small_regions,
        save_mask,
    )
    from .image.automatic import OUTPUT_MODES, MaskGenerator, masks_from_records
    from .image.interactive import ClickSession
    from .image.predictor import Sam2Predictor, segment
    from .inputs import load_image
    from .results import FrameMasks, Masks, Prediction
    from .video.tracker import StreamingSession, TrackingSession, VideoTracker, track_video
