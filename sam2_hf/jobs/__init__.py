"""Dataset-scale jobs: folders or 🤗 datasets in, one merged COCO file out, on accelerate.

- ``sources``: folders (with ``boxes.json``, YOLO labels or COCO detections) and datasets.
- ``detect``: box prompts from a hub detector (DETR, RT-DETR; Grounding DINO, OWLv2 with a
  text query), and ``segment_text`` for one image.
- ``runner``: ``run_job``, resumable and shared between processes.
"""

from .detect import Detections, Detector, LabeledMasks, parse_text_query, segment_text
from .runner import JobLockedError, JobSummary, decode_masks, results_dataset, run_job
from .sources import JobItem, JobSource, dataset_source, folder_source

__all__ = [
    "Detections",
    "Detector",
    "JobItem",
    "JobLockedError",
    "JobSource",
    "JobSummary",
    "LabeledMasks",
    "dataset_source",
    "decode_masks",
    "folder_source",
    "parse_text_query",
    "results_dataset",
    "run_job",
    "segment_text",
]
