"""Box prompts from a detector on the hub, run through transformers: boxes in, SAM 2 masks out.

Two kinds of detector load by hub id or folder:

- closed-set object detectors (``AutoModelForObjectDetection``: DETR, RT-DETR, ...), whose
  labels are the model's classes (``config.id2label``);
- zero-shot, text-prompted detectors (``AutoModelForZeroShotObjectDetection``: Grounding DINO,
  OWLv2, OWL-ViT ...), given a text query such as ``"cat. dog."``; the labels are the query's
  phrases.

Example:
    >>> found = segment_text("photo.jpg", "cat. dog.")  # doctest: +SKIP
    >>> found.labels, found.masks.shape  # doctest: +SKIP
    (['cat', 'dog'], (2, 480, 640))
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import transformers
from numpy.typing import NDArray
from transformers import AutoConfig
from typing_extensions import Unpack

from ..engine.loading import LoadOptions, resolve_device
from ..inputs import ImageInput, check_float, load_image


@dataclass(frozen=True)
class Detections:
    """A detector's boxes on one image, best score first.

    Attributes:
        boxes: (N, 4) float32 (x0, y0, x1, y1) in pixels of the image, clipped to it.
        scores: (N,) float32 detector confidence in [0, 1], descending.
        labels: N label names (the class, or the query phrase that matched).
        category_ids: (N,) int64 ids of ``Detector.categories``.
    """

    boxes: NDArray[np.float32] = field(repr=False)
    scores: NDArray[np.float32]
    labels: list[str]
    category_ids: NDArray[np.int64] = field(repr=False)

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass(frozen=True)
class LabeledMasks:
    """SAM 2 masks for a detector's boxes: what ``segment_text`` returns.

    Attributes:
        masks: (N, H, W) bool at the image's size, one per box, in the order of ``boxes``.
        mask_scores: (N,) float32 SAM 2's predicted IoU of each mask.
        boxes: (N, 4) float32 (x0, y0, x1, y1) detector boxes in pixels.
        scores: (N,) float32 detector confidence, descending.
        labels: N label names.
    """

    masks: NDArray[np.bool_] = field(repr=False)
    mask_scores: NDArray[np.float32]
    boxes: NDArray[np.float32] = field(repr=False)
    scores: NDArray[np.float32]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.masks)


def parse_text_query(text: str) -> list[str]:
    """``"cat. dog."`` or ``"cat, dog"`` -> ``["cat", "dog"]`` (Grounding DINO's convention).

    Example:
        >>> parse_text_query("a cat. a remote control.")
        ['a cat', 'a remote control']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string such as 'cat. dog.', got {type(text).__name__}")
    phrases = [p.strip() for p in text.replace(",", ".").split(".")]
    phrases = [p for p in phrases if p]
    if not phrases:
        raise ValueError(
            f"text must name at least one thing to find, e.g. 'cat. dog.', got {text!r}"
        )
    return phrases


class Detector:
    """A hub object detector giving (x0, y0, x1, y1) pixel boxes, labels and scores.

    Example:
        >>> detector = Detector.from_pretrained("facebook/detr-resnet-50")  # doctest: +SKIP
        >>> detector.detect([image])[0].labels  # doctest: +SKIP
        ['cat', 'remote']
    """

    def __init__(
        self,
        model: transformers.PreTrainedModel,
        processor: Any,
        *,
        text: str | None = None,
        box_threshold: float = 0.3,
        text_threshold: float = 0.25,
        device: torch.device | None = None,
    ) -> None:
        """Wrap a loaded transformers detector and its processor.

        Args:
            model: an ``...ForObjectDetection`` model.
            processor: its image processor (closed-set) or processor (zero-shot).
            text: the query for a zero-shot detector, e.g. ``"cat. dog."``; required there,
                refused for closed-set detectors.
            box_threshold: keep boxes whose score is above this, in [0, 1].
            text_threshold: Grounding DINO's threshold for the words of a label, in [0, 1].
            device: where the model runs; default: where its weights are.
        """
        self.model = model.eval()
        self.processor = processor
        self.device = device or next(model.parameters()).device
        self.box_threshold = check_float("box_threshold", box_threshold, 0.0, 1.0)
        self.text_threshold = check_float("text_threshold", text_threshold, 0.0, 1.0)
        model_type = model.config.model_type
        self.zero_shot = model_type in _zero_shot_types()
        if self.zero_shot and text is None:
            raise ValueError(
                f"the {model_type!r} detector is prompted with text: pass text='cat. dog.'"
            )
        if not self.zero_shot and text is not None:
            raise ValueError(
                f"the {model_type!r} detector finds its own classes and takes no text; "
                "use a zero-shot detector (Grounding DINO, OWLv2) for text queries"
            )
        self.queries = parse_text_query(text) if text is not None else []
        if self.zero_shot:
            self.categories = [{"id": i + 1, "name": q} for i, q in enumerate(self.queries)]
        else:
            id2label: dict[Any, str] = dict(model.config.id2label or {})
            self.categories = [
                {"id": int(i), "name": str(name)} for i, name in sorted(id2label.items())
            ]

    @classmethod
    def from_pretrained(
        cls,
        model: str | os.PathLike[str],
        *,
        text: str | None = None,
        box_threshold: float = 0.3,
        text_threshold: float = 0.25,
        **options: Unpack[LoadOptions],
    ) -> Detector:
        """Load a detector by hub id or folder; closed-set or zero-shot is read from its config.

        ``options`` are the ``LoadOptions`` of ``sam2_hf.load_model`` (``device``,
        ``revision``, ``cache_dir``, ``local_files_only``, ``token``; ``dtype`` is ignored:
        detectors run in float32).
        """
        source = os.fspath(model)
        hub = {
            key: options[key]  # type: ignore[literal-required,unused-ignore]
            for key in ("revision", "cache_dir", "local_files_only", "token")
            if key in options
        }
        config = AutoConfig.from_pretrained(source, **hub)
        if config.model_type in _zero_shot_types():
            network = transformers.AutoModelForZeroShotObjectDetection.from_pretrained(
                source, **hub
            )
            processor = transformers.AutoProcessor.from_pretrained(source, **hub)
        elif config.model_type in _closed_set_types():
            network = transformers.AutoModelForObjectDetection.from_pretrained(source, **hub)
            processor = transformers.AutoImageProcessor.from_pretrained(source, **hub)
        else:
            raise ValueError(
                f"{source!r} is a {config.model_type!r} model, not an object detector; "
                f"detectors: {sorted(_closed_set_types())}, zero-shot (with text): "
                f"{sorted(_zero_shot_types())}"
            )
        device = resolve_device(options.get("device"))
        return cls(
            network.to(device),
            processor,
            text=text,
            box_threshold=box_threshold,
            text_threshold=text_threshold,
            device=device,
        )

    @torch.inference_mode()
    def detect(self, images: Sequence[NDArray[Any]]) -> list[Detections]:
        """Boxes for each image, in one batched forward.

        Args:
            images: (H, W, 3) arrays as ``sam2_hf.load_image`` returns them.

        Returns:
            One ``Detections`` per image, best score first.
        """
        if not images:
            return []
        sizes = [image.shape[:2] for image in images]
        pil = [_to_uint8(image) for image in images]
        if self.zero_shot:
            inputs = self.processor(
                images=pil, text=[self.queries] * len(pil), return_tensors="pt", padding=True
            )
        else:
            inputs = self.processor(images=pil, return_tensors="pt")
        inputs = inputs.to(self.device)
        outputs = self.model(**inputs)
        results = self._post_process(outputs, inputs, sizes)
        return [self._detections(r, size) for r, size in zip(results, sizes, strict=True)]

    def _post_process(self, outputs: Any, inputs: Any, sizes: list[tuple[int, int]]) -> Any:
        target_sizes = [list(size) for size in sizes]
        if not self.zero_shot:
            return self.processor.post_process_object_detection(
                outputs, threshold=self.box_threshold, target_sizes=target_sizes
            )
        post = self.processor.post_process_grounded_object_detection
        kwargs: dict[str, Any] = {
            "threshold": self.box_threshold,
            "target_sizes": target_sizes,
            "text_labels": [self.queries] * len(sizes),
        }
        parameters = post.__code__.co_varnames
        if "input_ids" in parameters:  # Grounding DINO matches words of the query
            kwargs["input_ids"] = inputs["input_ids"]
        if "text_threshold" in parameters:
            kwargs["text_threshold"] = self.text_threshold
        return post(outputs, **kwargs)

    def _detections(self, result: dict[str, Any], size: tuple[int, int]) -> Detections:
        scores = result["scores"].float().cpu().numpy()
        boxes = result["boxes"].float().cpu().numpy().astype(np.float32).reshape(-1, 4)
        # Detectors that pad to a square (OWLv2) can place boxes past the image; clip them, and
        # drop the ones left with no area (SAM 2 refuses a box entirely outside the image).
        height, width = size
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
        inside = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        order = np.flatnonzero(inside)[np.argsort(-scores[inside], kind="stable")]
        boxes = boxes[order]
        if self.zero_shot:
            labels = [str(result["text_labels"][i]) for i in order]
            ids = [self._query_category(label) for label in labels]
        else:
            label_ids = result["labels"].cpu().numpy()[order]
            id2label = self.model.config.id2label
            labels = [str(id2label.get(int(i), int(i))) for i in label_ids]
            ids = [int(i) for i in label_ids]
        return Detections(
            boxes=boxes.reshape(-1, 4),
            scores=scores[order].astype(np.float32),
            labels=labels,
            category_ids=np.array(ids, dtype=np.int64),
        )

    def _query_category(self, label: str) -> int:
        """The category of a matched phrase: its query, or the first query it contains."""
        for index, query in enumerate(self.queries):
            if label == query:
                return index + 1
        for index, query in enumerate(self.queries):
            if query in label or label in query:
                return index + 1
        return 1


def _to_uint8(image: NDArray[Any]) -> NDArray[np.uint8]:
    if image.dtype == np.uint8:
        return image
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


@functools.cache
def _zero_shot_types() -> frozenset[str]:
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_ZERO_SHOT_OBJECT_DETECTION_MAPPING_NAMES,
    )

    return frozenset(MODEL_FOR_ZERO_SHOT_OBJECT_DETECTION_MAPPING_NAMES)


@functools.cache
def _closed_set_types() -> frozenset[str]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES

    return frozenset(MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES)


@functools.lru_cache(maxsize=2)
def _cached_detector(model: str, text: str, box_threshold: float, device: str | None) -> Detector:
    return Detector.from_pretrained(model, text=text, box_threshold=box_threshold, device=device)


def segment_text(
    image: ImageInput,
    text: str,
    *,
    detector: str | os.PathLike[str] | Detector = "IDEA-Research/grounding-dino-tiny",
    model: Any = "tiny",
    box_threshold: float = 0.3,
    device: str | None = None,
) -> LabeledMasks:
    """Masks of the things a text names: a zero-shot detector's boxes prompt SAM 2.

    Args:
        image: path, URL, PIL image or (H, W[, C]) array.
        text: what to find, e.g. ``"cat. dog."``.
        detector: a zero-shot detector's hub id or folder, or a loaded ``Detector``.
        model: a SAM 2 short name, hub id or folder, or a loaded ``Sam2Predictor``.
        box_threshold: the detector's score threshold.
        device: where both models run (default: cuda, then mps, then cpu).

    Returns:
        ``LabeledMasks``: one mask per detected box, best detector score first.

    Example:
        >>> found = segment_text("kitchen.jpg", "cup.")  # doctest: +SKIP
        >>> len(found), found.labels[:1]  # doctest: +SKIP
        (3, ['cup'])
    """
    from ..image.predictor import Sam2Predictor

    if not isinstance(detector, Detector):
        detector = _cached_detector(os.fspath(detector), text, float(box_threshold), device)
    elif detector.zero_shot and parse_text_query(text) != detector.queries:
        raise ValueError(
            f"the loaded detector was built for {detector.queries}, got text {text!r}; "
            "build a Detector with this text or pass the detector's hub id"
        )
    predictor = model if isinstance(model, Sam2Predictor) else _cached_predictor(model, device)
    pixels = load_image(image)
    (found,) = detector.detect([pixels])
    predictor.set_image(pixels)
    masks = predictor.predict_boxes(found.boxes)
    return LabeledMasks(
        masks=masks.masks,
        mask_scores=masks.scores,
        boxes=found.boxes,
        scores=found.scores,
        labels=found.labels,
    )


@functools.lru_cache(maxsize=2)
def _cached_predictor(model: Any, device: str | None) -> Any:
    from ..image.predictor import Sam2Predictor

    return Sam2Predictor.from_pretrained(model, device=device)
