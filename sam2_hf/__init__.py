"""sam2-hf: Segment Anything 2 on Hugging Face transformers, with flat prompts and numpy masks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sam2-hf")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

from .inputs import load_image
from .models import ModelInfo, ModelNotAvailableError, list_models, load_model
from .predictor import Sam2Predictor, segment
from .results import Masks, Prediction

__all__ = [
    "Masks",
    "ModelInfo",
    "ModelNotAvailableError",
    "Prediction",
    "Sam2Predictor",
    "__version__",
    "list_models",
    "load_image",
    "load_model",
    "segment",
]
