"""Run SAM 2 over a whole dataset: several processes, resumable, one merged COCO file.

``run_job`` is the ``sam2-hf batch`` command. The work is shared out by 🤗 accelerate:
``accelerate launch --multi_gpu --num_processes N -m sam2_hf.cli batch ...`` on N GPUs,
``torchrun --nproc_per_node N -m sam2_hf.cli batch ... --device cpu`` on CPUs (accelerate's own
CPU launcher needs MPI), or plain ``sam2-hf batch`` for one process. Each process takes its
share of the images with ``split_between_processes``, decodes and pre-processes them in a
``DataLoader`` (``num_workers`` processes) while the model runs, and encodes ``batch_size``
images per forward.

Each finished image is committed on its own, atomically, as ``OUT/parts/<hash>.json``; a
re-run of the same command skips what is committed and does the rest, so a killed run loses
at most the batch in flight. An unreadable image is recorded with its reason in
``OUT/report.json`` (and retried by the next run) instead of stopping the job. At the end the
main process merges the parts, in source order, into ``OUT/annotations.json`` (COCO,
compressed-RLE masks). ``OUT/.sam2-hf.lock`` keeps two runs from writing to the same folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from tqdm.auto import tqdm

from ..formats.coco import CocoImage, from_coco_rle, to_coco_annotations, write_coco_json
from ..formats.masks import save_mask
from ..inputs import check_int
from .detect import Detector
from .sources import JobItem, JobSource

PARTS_DIR = "parts"
COCO_FILE = "annotations.json"
REPORT_FILE = "report.json"
LOCK_FILE = ".sam2-hf.lock"


class JobLockedError(RuntimeError):
    """Another run is writing to the same output folder."""


@dataclass(frozen=True)
class JobSummary:
    """What a run did, counted over all processes.

    Attributes:
        images: images in the job.
        segmented: images segmented by this run.
        skipped: images an earlier run had already committed.
        failed: images that could not be read or segmented (reasons in ``report.json``).
        masks: masks this run produced.
        seconds: wall time of the run.
        output_dir: the output folder; the COCO file is ``output_dir / "annotations.json"``.
    """

    images: int
    segmented: int
    skipped: int
    failed: int
    masks: int
    seconds: float
    output_dir: Path

    @property
    def images_per_s(self) -> float:
        """Images segmented per second of wall time."""
        return self.segmented / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        return (
            f"{self.images} images: {self.segmented} segmented, {self.skipped} already done, "
            f"{self.failed} failed; {self.masks} masks in {self.seconds:.1f} s "
            f"({self.images_per_s:.2f} images/s)"
        )


def run_job(
    source: JobSource,
    output_dir: str | os.PathLike[str],
    *,
    predictor: Any,
    detector: Detector | None = None,
    batch_size: int = 4,
    num_workers: int = 0,
    mask_pngs: bool = False,
    progress: bool | None = None,
) -> JobSummary:
    """Segment every image of ``source``, committing each as it is done; merge at the end.

    Call it in every process of an ``accelerate launch`` (or in one plain process): each
    process segments its share, the main process merges and prints.

    Args:
        source: the images and their boxes (``folder_source`` / ``dataset_source``).
        output_dir: the output folder (created); re-running with the same folder resumes.
        predictor: a ``Sam2Predictor`` on this process's device.
        detector: finds the boxes when the source has none (required then).
        batch_size: images per encoder forward, >= 1.
        num_workers: ``DataLoader`` processes decoding images ahead of the model (0: in
            this process). 0 by default because worker processes are spawned, not forked, on
            macOS and Windows, where a script without an ``if __name__ == "__main__":`` guard
            would start itself again; ``sam2-hf batch`` (an entry point) uses 2.
        mask_pngs: also write ``OUT/masks/<image>_<i>.png`` (0/255) per mask.
        progress: a progress bar on the main process; None: when there are more than a few
            images.

    Returns:
        ``JobSummary`` (every process gets the totals).

    Raises:
        JobLockedError: another run holds the folder's lock.
        ValueError: items without boxes and no detector.
    """
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list, gather_object

    batch_size = check_int("batch_size", batch_size, minimum=1)
    num_workers = check_int("num_workers", num_workers, minimum=0)
    if detector is None and any(item.boxes is None for item in source.items):
        raise ValueError(
            "the source has images without boxes: pass a detector (e.g. --detector "
            "facebook/detr-resnet-50) or a boxes file"
        )
    # On CPUs accelerate needs to be told, or a torchrun-launched process would not join the
    # gloo group and each would do the whole job.
    state = PartialState(cpu=getattr(predictor, "device", None) == torch.device("cpu"))
    started = time.perf_counter()
    out = Path(output_dir)
    parts = out / PARTS_DIR
    verdict: list[str | None] = [None]
    if state.is_main_process:
        try:
            parts.mkdir(parents=True, exist_ok=True)
            _take_lock(out)
        except (OSError, JobLockedError) as error:
            verdict = [f"{type(error).__name__}: {error}"]
    verdict = broadcast_object_list(verdict)
    if verdict[0] is not None:
        raise JobLockedError(verdict[0])
    try:
        pending = [item for item in source.items if not _part_path(parts, item.key).exists()]
        with state.split_between_processes(pending) as mine:
            counts = _segment(
                source, list(mine), parts, out, predictor, detector, batch_size, num_workers,
                mask_pngs, show=_show(progress, len(pending)) and state.is_main_process,
            )  # fmt: skip
        state.wait_for_everyone()
        totals = gather_object([counts])
        segmented, masks = sum(c[0] for c in totals), sum(c[1] for c in totals)
        failed = 0
        if state.is_main_process:
            failed = _merge(source, parts, out, detector)
        failed = broadcast_object_list([failed])[0]
    finally:
        state.wait_for_everyone()
        if state.is_main_process:
            (out / LOCK_FILE).unlink(missing_ok=True)
    summary = JobSummary(
        images=len(source.items),
        segmented=segmented,
        skipped=len(source.items) - len(pending),
        failed=failed,
        masks=masks,
        seconds=time.perf_counter() - started,
        output_dir=out,
    )
    return summary


def _show(progress: bool | None, count: int) -> bool:
    return count > 8 if progress is None else bool(progress)


class _Images:  # a torch map-style dataset, duck-typed to keep torch.utils.data off import
    """A map-style dataset of (item, image or error): the DataLoader's workers read ahead."""

    def __init__(self, source: JobSource, items: Sequence[JobItem]) -> None:
        self.source, self.items = source, items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[JobItem, NDArray[Any] | str]:
        item = self.items[index]
        try:
            return item, self.source.load(item)
        except (OSError, ValueError, TypeError) as error:
            return item, f"{type(error).__name__}: {error}"


def _segment(
    source: JobSource,
    items: list[JobItem],
    parts: Path,
    out: Path,
    predictor: Any,
    detector: Detector | None,
    batch_size: int,
    num_workers: int,
    mask_pngs: bool,
    show: bool,
) -> tuple[int, int]:
    """Segment this process's items; returns (images segmented, masks)."""
    from torch.utils.data import DataLoader

    loader: DataLoader[tuple[JobItem, NDArray[Any] | str]] = DataLoader(
        _Images(source, items),  # type: ignore[arg-type]
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=list,
        # A worker that dies mid-run should not take the committed work with it.
        persistent_workers=False,
    )
    segmented = masks_made = 0
    with tqdm(total=len(items), desc="segment", unit="image", disable=not show) as bar:
        for batch in loader:
            readable = [(item, image) for item, image in batch if not isinstance(image, str)]
            for item, error in batch:
                if isinstance(error, str):
                    _write_json({"key": item.key, "error": error}, _error_path(parts, item.key))
            if readable:
                made = _segment_batch(readable, parts, out, predictor, detector, mask_pngs)
                segmented += len(readable)
                masks_made += made
            bar.update(len(batch))
    return segmented, masks_made


def _segment_batch(
    batch: list[tuple[JobItem, NDArray[Any]]],
    parts: Path,
    out: Path,
    predictor: Any,
    detector: Detector | None,
    mask_pngs: bool,
) -> int:
    images = [image for _, image in batch]
    labels: list[list[str] | None] = [None] * len(batch)
    scores: list[NDArray[np.float32] | None] = [None] * len(batch)
    if detector is not None:  # the detector's boxes, even where the source has some
        found = detector.detect(images)
        boxes = [d.boxes.astype(np.float64) for d in found]
        category_ids = [d.category_ids for d in found]
        labels = [d.labels for d in found]
        scores = [d.scores for d in found]
    else:
        boxes = [item.pixel_boxes(*image.shape[:2]) for item, image in batch]  # type: ignore[misc]
        category_ids = [item.category_ids for item, _ in batch]  # type: ignore[misc]
    results = predictor.predict_batch(images, boxes)
    made = 0
    for index, ((item, image), masks) in enumerate(zip(batch, results, strict=True)):
        if mask_pngs:
            stem = Path(item.key).with_suffix("")
            for number, mask in enumerate(masks.masks):
                target = out / "masks" / f"{stem}_{number}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                save_mask(mask, target)
        coco = to_coco_annotations(
            [CocoImage(item.file_name, masks.masks, masks.scores, category_ids[index])],
            categories=[{"id": int(i), "name": str(i)} for i in set(category_ids[index].tolist())]
            or None,
        )
        annotations = coco["annotations"]
        for number, annotation in enumerate(annotations):
            annotation.pop("id")
            annotation.pop("image_id")
            annotation["prompt_box"] = [float(v) for v in boxes[index][number]]
            if labels[index] is not None:
                annotation["label"] = labels[index][number]  # type: ignore[index]
                annotation["detector_score"] = float(scores[index][number])  # type: ignore[index]
        height, width = image.shape[:2]
        record = {
            "key": item.key,
            "file_name": item.file_name,
            "height": int(height),
            "width": int(width),
            "annotations": annotations,
        }
        # The part file is the commit: written last, atomically, so its presence means done.
        _write_json(record, _part_path(parts, item.key))
        _error_path(parts, item.key).unlink(missing_ok=True)
        made += len(annotations)
    return made


def _merge(source: JobSource, parts: Path, out: Path, detector: Detector | None) -> int:
    """Write the COCO file and the report from the committed parts; returns the failures."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for item in source.items:
        part = _part_path(parts, item.key)
        if not part.exists():
            error = _error_path(parts, item.key)
            reason = json.loads(error.read_text())["error"] if error.exists() else "not done"
            failures.append({"image": item.file_name, "reason": reason})
            continue
        record = json.loads(part.read_text())
        image_id = len(images) + 1
        images.append(
            {
                "id": image_id,
                "file_name": record["file_name"],
                "height": record["height"],
                "width": record["width"],
            }
        )
        for annotation in record["annotations"]:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **annotation})
    categories = detector.categories if detector is not None else source.categories
    coco = {"images": images, "annotations": annotations, "categories": categories}
    write_coco_json(coco, out / COCO_FILE)
    report = {"images": len(source.items), "done": len(images), "failed": failures}
    _write_json(report, out / REPORT_FILE)
    return len(failures)


def read_results(
    source: JobSource, output_dir: str | os.PathLike[str]
) -> Iterator[tuple[JobItem, dict[str, Any] | None]]:
    """The committed record of each item in source order (None: not done or failed)."""
    parts = Path(output_dir) / PARTS_DIR
    for item in source.items:
        part = _part_path(parts, item.key)
        yield item, (json.loads(part.read_text()) if part.exists() else None)


def results_dataset(source: JobSource, output_dir: str | os.PathLike[str]) -> Any:
    """The job's masks as a 🤗 ``datasets.Dataset``: one row per image, in source order.

    For a dataset source the input's columns are kept and ``sam2_masks`` (compressed COCO RLE
    dicts, ``{"size": [H, W], "counts": str}``), ``sam2_scores``, ``sam2_boxes`` (the box
    prompts, (x0, y0, x1, y1) pixels) and ``sam2_category_ids`` are added; for a folder the
    rows also get ``file_name``. Images that are not done get empty lists. The result can be
    ``save_to_disk``-ed or ``push_to_hub``-ed; ``sam2_hf.from_coco_rle`` decodes a mask.
    """
    import datasets

    columns: dict[str, list[Any]] = {
        "sam2_masks": [],
        "sam2_scores": [],
        "sam2_boxes": [],
        "sam2_category_ids": [],
    }
    names = []
    for item, record in read_results(source, output_dir):
        annotations = record["annotations"] if record is not None else []
        names.append(item.file_name)
        columns["sam2_masks"].append([a["segmentation"] for a in annotations])
        columns["sam2_scores"].append([a.get("score", 0.0) for a in annotations])
        columns["sam2_boxes"].append([a["prompt_box"] for a in annotations])
        columns["sam2_category_ids"].append([a["category_id"] for a in annotations])
    if source.dataset is not None:
        dataset = source.dataset
        for name, values in columns.items():
            dataset = dataset.add_column(name, values)
        return dataset
    return datasets.Dataset.from_dict({"file_name": names, **columns})


def decode_masks(row_masks: Sequence[dict[str, Any]]) -> NDArray[np.bool_]:
    """A ``sam2_masks`` cell -> (N, H, W) bool (N = 0 gives (0, 0, 0))."""
    if not row_masks:
        return np.zeros((0, 0, 0), bool)
    return np.stack([from_coco_rle(rle) for rle in row_masks])


# ---------------------------------------------------------------- files


def _key_hash(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def _part_path(parts: Path, key: str) -> Path:
    return parts / f"{_key_hash(key)}.json"


def _error_path(parts: Path, key: str) -> Path:
    return parts / f"{_key_hash(key)}.error.json"


def _write_json(data: Any, path: Path) -> None:
    write_coco_json(data, path)


def _take_lock(out: Path) -> None:
    """Create the lock file, or explain who holds it. A lock left by a dead process is taken."""
    lock = out / LOCK_FILE
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    for _ in range(2):
        try:
            with _exclusive(lock) as handle:
                handle.write(json.dumps(holder).encode("utf-8"))
            return
        except FileExistsError:
            try:
                other = json.loads(lock.read_text())
            except (OSError, ValueError):
                other = {}
            if other.get("host") == holder["host"] and not _alive(int(other.get("pid", -1))):
                lock.unlink(missing_ok=True)  # its run died without cleaning up
                continue
            since = time.strftime("%H:%M:%S", time.localtime(other.get("since", 0)))
            raise JobLockedError(
                f"another run (pid {other.get('pid', '?')} on {other.get('host', '?')}, since "
                f"{since}) is writing to {str(out)!r}; wait for it to finish, or delete "
                f"{str(lock)!r} if that run is gone"
            ) from None
    raise JobLockedError(f"could not take the lock {str(lock)!r}")


@contextmanager
def _exclusive(path: Path) -> Iterator[Any]:
    descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    with os.fdopen(descriptor, "wb") as handle:
        yield handle


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
