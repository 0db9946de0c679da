"""Click-by-click refinement of one object, the loop every annotation tool runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..results import Prediction
from .predictor import Sam2Predictor


@dataclass(frozen=True)
class _Step:
    points: NDArray[np.float32]  # (K, 2) x, y
    labels: NDArray[np.int64]  # (K,)
    result: Prediction


class ClickSession:
    """Accumulates positive / negative clicks on one object of the predictor's current image.

    The first click asks for three candidates and keeps the best; every later click sends all
    clicks so far plus the previous best low-res logits as ``mask_input`` and asks for one mask,
    as the original SAM demos do.

    Example:
        >>> session = ClickSession(predictor)  # doctest: +SKIP
        >>> session.click(120, 80)  # doctest: +SKIP
        >>> session.click(200, 90, positive=False).shape  # doctest: +SKIP
        (480, 640)
        >>> session.undo()  # doctest: +SKIP
    """

    def __init__(self, predictor: Sam2Predictor) -> None:
        """Start with no clicks; ``predictor`` must already have an image set."""
        if not predictor.is_image_set:
            raise RuntimeError("Call set_image(...) before starting a ClickSession.")
        self.predictor = predictor
        self._steps: list[_Step] = []

    def click(self, x: float, y: float, positive: bool = True) -> NDArray[np.bool_]:
        """Add a click at pixel (x, y) of the original image and return the new (H, W) mask."""
        previous = self._steps[-1] if self._steps else None
        points = np.array([[x, y]], dtype=np.float32)
        labels = np.array([1 if positive else 0], dtype=np.int64)
        if previous is None:
            result = self.predictor.predict(point_coords=points, point_labels=labels)
        else:
            points = np.concatenate([previous.points, points])
            labels = np.concatenate([previous.labels, labels])
            result = self.predictor.predict(
                point_coords=points,
                point_labels=labels,
                mask_input=previous.result.best_logits,
                multimask_output=False,
            )
        self._steps.append(_Step(points, labels, result))
        return result.best

    def undo(self) -> NDArray[np.bool_] | None:
        """Drop the last click; return the mask as it was before it (None when no clicks left)."""
        if not self._steps:
            raise RuntimeError("undo() needs a click to take back; there is none")
        self._steps.pop()
        return self.mask

    def reset(self) -> None:
        """Drop every click."""
        self._steps.clear()

    @property
    def mask(self) -> NDArray[np.bool_] | None:
        """The current (H, W) mask, or None before the first click."""
        return self._steps[-1].result.best if self._steps else None

    @property
    def result(self) -> Prediction | None:
        """The full ``Prediction`` behind ``mask`` (score, logits), or None."""
        return self._steps[-1].result if self._steps else None

    @property
    def points(self) -> NDArray[np.float32]:
        """(K, 2) clicks so far, (x, y) in pixels."""
        return self._steps[-1].points.copy() if self._steps else np.zeros((0, 2), np.float32)

    @property
    def labels(self) -> NDArray[np.int64]:
        """(K,) labels of the clicks so far: 1 positive, 0 negative."""
        return self._steps[-1].labels.copy() if self._steps else np.zeros(0, np.int64)
