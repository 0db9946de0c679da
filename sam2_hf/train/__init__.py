"""Fine-tune SAM 2 on your own masks (``pip install "sam2-hf[train]"``).

Example:
    >>> from sam2_hf.train import finetune
    >>> result = finetune("data/annotations.json", "out/", model="tiny")  # doctest: +SKIP
    >>> result.after  # doctest: +SKIP
    EvalScores(box=0.91, one_click=0.78, corrected=0.93, corrections=3, objects=412)

The result folder loads wherever a model name goes: ``Sam2Predictor.from_pretrained("out/")``,
``MaskGenerator.from_pretrained("out/")``, ``VideoTracker.from_pretrained("out/")``.
"""

from .data import DataError, SegmentationData, Subset, open_data, split
from .evaluate import EvalScores, evaluate
from .losses import LossWeights
from .prompts import PromptSettings
from .readers import CocoData, HFData, MaskFolder
from .trainer import FinetuneConfig, FinetuneResult, finetune

__all__ = [
    "CocoData",
    "DataError",
    "EvalScores",
    "FinetuneConfig",
    "FinetuneResult",
    "HFData",
    "LossWeights",
    "MaskFolder",
    "PromptSettings",
    "SegmentationData",
    "Subset",
    "evaluate",
    "finetune",
    "open_data",
    "split",
]
