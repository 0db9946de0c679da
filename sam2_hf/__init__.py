"""sam2-hf: Segment Anything 2 on Hugging Face transformers, flat prompts in, numpy masks out.

Images (coordinates are pixels of the original image, x before y; boxes (x0, y0, x1, y1)):

    >>> from sam2_hf import Sam2Predictor  # doctest: +SKIP
    >>> predictor = Sam2Predictor.from_pretrained("tiny")  # doctest: +SKIP
    >>> predictor.set_image("photo.jpg")  # doctest: +SKIP
    >>> masks, scores, logits = predictor.predict(point_coords=[(500, 375)])  # doctest: +SKIP

The main names (``help(sam2_hf.<name>)`` for each one's documentation):

- ``Sam2Predictor``, ``segment``: masks for clicks, boxes and mask prompts on an image;
  ``ClickSession``: click-by-click refinement.
- ``MaskGenerator``: automatic masks ("segment everything"), the original's records.
- ``VideoTracker``, ``TrackingSession``, ``StreamingSession``, ``track_video``: video tracking.
- ``Prediction``, ``Masks``, ``FrameMasks``: the results, numpy arrays, best first.
- ``load_model``, ``list_models``, ``LoadOptions``, ``ModelNotAvailableError``: models.
- Mask utilities in plain numpy (no torch): ``save_mask``, ``load_mask``, ``cutout``,
  ``overlay``, ``mask_to_box``, ``mask_to_polygons``, ``to_coco_rle``, ``write_coco_json``, ...

``dir(sam2_hf)`` lists every public name. Subpackages: ``sam2_hf.compat`` (the original sam2's
API), ``sam2_hf.jobs`` (datasets), ``sam2_hf.train`` (fine-tuning), ``sam2_hf.app`` (the
annotation app), ``sam2_hf.cli`` (the ``sam2-hf`` command). Names load on first use, so
``import sam2_hf`` imports no torch until a model is needed.
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

# No ``__all__``: pydoc documents every class ``__all__`` names in full, which made
# ``help(sam2_hf)`` some 2,000 lines. The public names are those of ``__dir__``; import them by
# name (``from sam2_hf import Sam2Predictor``).
_PUBLIC = sorted([*_NAMES, "__version__"])
_MODULE_DUNDERS = ("__doc__", "__file__", "__loader__", "__name__", "__package__", "__path__")


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
    # The public names only, not this module's own imports (``sys``, ``importlib``, ...).
    return sorted({*_PUBLIC, *_MODULE_DUNDERS, "__spec__"})


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

# The names above for type checkers and IDEs; "X as X" marks an explicit re-export.
if TYPE_CHECKING:
    from .engine.loading import DamagedCheckpointError as DamagedCheckpointError
    from .engine.loading import LoadedModel as LoadedModel
    from .engine.loading import LoadOptions as LoadOptions
    from .engine.loading import ModelInfo as ModelInfo
    from .engine.loading import ModelNotAvailableError as ModelNotAvailableError
    from .engine.loading import list_models as list_models
    from .engine.loading import load_model as load_model
    from .formats.coco import CocoImage as CocoImage
    from .formats.coco import from_coco_rle as from_coco_rle
    from .formats.coco import to_coco_annotations as to_coco_annotations
    from .formats.coco import to_coco_rle as to_coco_rle
    from .formats.coco import to_uncompressed_rle as to_uncompressed_rle
    from .formats.coco import write_coco_json as write_coco_json
    from .formats.draw import cutout as cutout
    from .formats.draw import object_color as object_color
    from .formats.draw import overlay as overlay
    from .formats.draw import remove_background as remove_background
    from .formats.masks import Polygon as Polygon
    from .formats.masks import clean_mask_logits as clean_mask_logits
    from .formats.masks import invert as invert
    from .formats.masks import load_mask as load_mask
    from .formats.masks import mask_area as mask_area
    from .formats.masks import mask_to_box as mask_to_box
    from .formats.masks import mask_to_polygons as mask_to_polygons
    from .formats.masks import polygons_to_mask as polygons_to_mask
    from .formats.masks import remove_small_regions as remove_small_regions
    from .formats.masks import save_mask as save_mask
    from .image.automatic import OUTPUT_MODES as OUTPUT_MODES
    from .image.automatic import MaskGenerator as MaskGenerator
    from .image.automatic import masks_from_records as masks_from_records
    from .image.interactive import ClickSession as ClickSession
    from .image.predictor import Sam2Predictor as Sam2Predictor
    from .image.predictor import segment as segment
    from .inputs import load_image as load_image
    from .results import FrameMasks as FrameMasks
    from .results import Masks as Masks
    from .results import Prediction as Prediction
    from .video.tracker import StreamingSession as StreamingSession
    from .video.tracker import TrackingSession as TrackingSession
    from .video.tracker import VideoTracker as VideoTracker
    from .video.tracker import track_video as track_video
