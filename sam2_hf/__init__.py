"""sam2-hf: Segment Anything 2 on Hugging Face transformers, with flat prompts and numpy masks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sam2-hf")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

from .automatic import OUTPUT_MODES, MaskGenerator, masks_from_records
from .coco import (
    CocoImage,
    from_coco_rle,
    to_coco_annotations,
    to_coco_rle,
    to_uncompressed_rle,
    write_coco_json,
)
from .draw import cutout, object_color, overlay, remove_background
from .inputs import load_image
from .interactive import ClickSession
from .masks import (
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
from .models import ModelInfo, ModelNotAvailableError, list_models, load_model
from .predictor import Sam2Predictor, segment
from .results import Masks, Prediction
from .video import FrameMasks, StreamingSession, TrackingSession, VideoTracker, track_video

__all__ = [
    "FrameMasks",
    "StreamingSession",
    "TrackingSession",
    "VideoTracker",
    "track_video",
    "OUTPUT_MODES",
    "MaskGenerator",
    "masks_from_records",
    "ClickSession",
    "CocoImage",
    "Masks",
    "ModelInfo",
    "ModelNotAvailableError",
    "Polygon",
    "Prediction",
    "Sam2Predictor",
    "__version__",
    "clean_mask_logits",
    "cutout",
    "from_coco_rle",
    "invert",
    "list_models",
    "load_image",
    "load_mask",
    "load_model",
    "mask_area",
    "mask_to_box",
    "mask_to_polygons",
    "object_color",
    "overlay",
    "polygons_to_mask",
    "remove_background",
    "remove_small_regions",
    "save_mask",
    "segment",
    "to_coco_annotations",
    "to_coco_rle",
    "to_uncompressed_rle",
    "write_coco_json",
]
