"""Code and checkpoints written for the original ``sam2`` package, unchanged, on transformers.

Change the imports and nothing else::

    from sam2.build_sam import build_sam2              # before
    from sam2_hf.compat.build_sam import build_sam2    # after

The modules carry the original's names (``build_sam``, ``sam2_image_predictor``,
``sam2_video_predictor``, ``automatic_mask_generator``), so ``sam2.`` becomes
``sam2_hf.compat.`` in every import line. Meta's ``.pt`` checkpoints and config names work as
they are (``checkpoints``, ``configs``); ``convert_checkpoint`` writes one as a transformers
folder.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_NAMES: dict[str, str] = {
    **dict.fromkeys(
        (
            "build_sam2",
            "build_sam2_hf",
            "build_sam2_video_predictor",
            "build_sam2_video_predictor_hf",
            "HF_MODEL_ID_TO_FILENAMES",
        ),
        "sam2_hf.compat.build_sam",
    ),
    "SAM2ImagePredictor": "sam2_hf.compat.sam2_image_predictor",
    "SAM2AutomaticMaskGenerator": "sam2_hf.compat.automatic_mask_generator",
    "SAM2VideoPredictor": "sam2_hf.compat.sam2_video_predictor",
    **dict.fromkeys(
        ("convert_checkpoint", "load_checkpoint", "convert_state_dict", "read_state_dict"),
        "sam2_hf.compat.checkpoints",
    ),
    "known_config_names": "sam2_hf.compat.configs",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # the names above, for type checkers and IDEs
    from .automatic_mask_generator import SAM2AutomaticMaskGenerator  # noqa: F401
    from .build_sam import (
        HF_MODEL_ID_TO_FILENAMES,  # noqa: F401
        build_sam2,  # noqa: F401
        build_sam2_hf,  # noqa: F401
        build_sam2_video_predictor,  # noqa: F401
        build_sam2_video_predictor_hf,  # noqa: F401
    )
    from .checkpoints import (
        convert_checkpoint,  # noqa: F401
        convert_state_dict,  # noqa: F401
        load_checkpoint,  # noqa: F401
        read_state_dict,  # noqa: F401
    )
    from .configs import known_config_names  # noqa: F401
    from .sam2_image_predictor import SAM2ImagePredictor  # noqa: F401
    from .sam2_video_predictor import SAM2VideoPredictor  # noqa: F401
