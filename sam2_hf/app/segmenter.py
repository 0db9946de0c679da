"""The model side of the app: one loaded model, cached image embeddings, refinement of objects.

Every click costs one mask-decoder call on a cached embedding: the vision encoder runs once
per image, and the last few images' embeddings are kept (one ``Sam2Predictor`` per image,
all sharing one loaded model), so going back and forth between images does not re-encode.

An object's mask is the click-by-click refinement of ``sam2_hf.ClickSession``, extended to
boxes and to a starting mask: the first prompt is decoded alone (three candidates for a
click, the best kept; one for a box), and each later prompt is decoded with all prompts so
far plus the previous step's low-res logits as ``mask_input``. For clicks only, masks equal
``ClickSession``'s step for step (tests/app/test_app_state.py). The logits of every step
are cached, so a click costs one decode (undo restores the previous mask without any); an
object restored from the annotation file is replayed once (one decode per prompt) on its
first new click.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .images import LoadedImage
from .store import Box, Click, Prompt, StoredMask

if TYPE_CHECKING:
    from .. import Sam2Predictor

# Settings of "segment everything": a 16x16 grid is ~4x faster than the original's 32x32
# and finds the large objects a user wants as a starting point.
EVERYTHING_DEFAULTS: dict[str, Any] = {"points_per_side": 16}
# Refinement steps whose logits are kept (256 KB each): undo and redo of recent clicks cost
# one decode, not a replay.
MAX_CACHED_STEPS = 256


class ModelUnavailableError(RuntimeError):
    """The model could not be loaded; the message says why (shown in the page)."""


@dataclass(frozen=True, eq=False)
class Decoded:
    """The result of one refinement step: the mask, its predicted IoU and low-res logits.

    Attributes:
        mask: (H, W) bool at the image's size.
        score: predicted IoU of ``mask``.
        logits: (256, 256) float32 low-res logits, the next step's ``mask_input``.
    """

    mask: NDArray[np.bool_]
    score: float
    logits: NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class Proposal:
    """One mask of "segment everything", for the user to accept or delete.

    Attributes:
        mask: the (H, W) mask.
        score: predicted IoU.
        point: the grid click (x, y) in pixels that produced it.
    """

    mask: StoredMask
    score: float
    point: tuple[float, float]


class Segmenter:
    """Loads the model once and turns prompts into masks on cached image embeddings.

    Thread-safe: the web server calls it from several threads (one per request), and every
    model call runs under one lock.

    Example:
        >>> segmenter = Segmenter("tiny", device="cpu")  # doctest: +SKIP
        >>> result = segmenter.refine(image, "obj1", (Click(120, 80),))  # doctest: +SKIP
        >>> result.mask.shape  # doctest: +SKIP
        (480, 640)
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "tiny",
        *,
        device: str | None = None,
        dtype: str | None = None,
        cache_size: int = 4,
        everything: dict[str, Any] | None = None,
    ) -> None:
        """Remember what to load; nothing is loaded until ``load`` or the first prompt.

        Args:
            model: short name (``"tiny"``), hub id or local folder, as
                ``Sam2Predictor.from_pretrained`` takes.
            device: ``"cpu"``, ``"cuda"`` ...; default: the best available.
            dtype: ``"fp32"``, ``"bf16"`` ...; default: as ``from_pretrained`` picks.
            cache_size: how many images' embeddings to keep.
            everything: ``MaskGenerator`` settings for "segment everything"
                (default ``{"points_per_side": 16}``).
        """
        if int(cache_size) < 1:
            raise ValueError(f"cache_size must be at least 1, got {cache_size}")
        self.model = os.fspath(model)
        self.device = device
        self.dtype = dtype
        self.cache_size = int(cache_size)
        self.everything_settings = {**EVERYTHING_DEFAULTS, **(everything or {})}
        self.error: str | None = None
        self._loaded: Any = None  # sam2_hf.engine.loading.LoadedModel
        self._predictors: OrderedDict[str, Sam2Predictor] = OrderedDict()
        # Low-res logits (256 KB) of each refinement step, never full-size masks.
        self._steps: OrderedDict[tuple[Any, ...], NDArray[np.float32]] = OrderedDict()
        self._lock = threading.RLock()
        self._loading = False
        self.encodes = 0  # vision-encoder runs, for tests and the status line
        self.decodes = 0  # mask-decoder runs

    # ------------------------------------------------------------------ loading

    @property
    def ready(self) -> bool:
        """Whether the model is loaded."""
        return self._loaded is not None

    @property
    def loading(self) -> bool:
        """Whether the model is being loaded right now."""
        return self._loading

    def load(self) -> None:
        """Load the model (once; later calls return at once or repeat the first error).

        Raises:
            ModelUnavailableError: the model cannot be loaded; the message says why.
        """
        with self._lock:
            if self._loaded is not None:
                return
            if self.error is not None:
                raise ModelUnavailableError(self.error)
            self._loading = True
            try:
                from .. import load_model

                options: dict[str, Any] = {"device": self.device}
                if self.dtype is not None:
                    options["dtype"] = self.dtype
                self._loaded = load_model(self.model, task="image", **options)
            # Loading reads files, configs and weights written by anyone: OSError, ValueError,
            # safetensors' and torch's own errors... Whatever it is, the page must show it
            # instead of the server dying, so everything is caught here and only here.
            except Exception as error:  # noqa: BLE001
                self.error = f"The model {self.model!r} could not be loaded: {error}"
                raise ModelUnavailableError(self.error) from error
            finally:
                self._loading = False

    def start_loading(self) -> threading.Thread:
        """Load the model in a background thread (errors are kept in ``error``)."""

        def load_quietly() -> None:
            try:
                self.load()
            except ModelUnavailableError:
                pass  # kept in self.error and shown by the page

        thread = threading.Thread(target=load_quietly, name="sam2-hf-app-load", daemon=True)
        thread.start()
        return thread

    # ------------------------------------------------------------------ embeddings

    def predictor(self, image: LoadedImage) -> Sam2Predictor:
        """The predictor holding ``image``'s embedding, encoding it only if not cached."""
        with self._lock:
            self.load()
            predictor = self._predictors.get(image.key)
            if predictor is not None:
                self._predictors.move_to_end(image.key)
                return predictor
            from .. import Sam2Predictor

            if len(self._predictors) >= self.cache_size:
                _, predictor = self._predictors.popitem(last=False)
                predictor.reset_image()  # reuse the object, drop its embedding
            else:
                predictor = Sam2Predictor(self._loaded)
            predictor.set_image(np.asarray(image.pixels))
            self.encodes += 1
            self._predictors[image.key] = predictor
            return predictor

    def is_encoded(self, image: LoadedImage) -> bool:
        """Whether ``image``'s embedding is cached."""
        return image.key in self._predictors

    # ------------------------------------------------------------------ refinement

    def refine(
        self,
        image: LoadedImage,
        obj_id: str,
        prompts: Sequence[Prompt],
        seed: StoredMask | None = None,
    ) -> Decoded:
        """The mask of an object after all its prompts (see the module docstring).

        Args:
            image: the image.
            obj_id: the object's id (the cache of refinement steps is per object).
            prompts: its clicks and boxes in order, at least one.
            seed: the mask refinement starts from (objects from "segment everything").

        Returns:
            The last step's ``Decoded``.

        Raises:
            ModelUnavailableError: the model cannot be loaded.
            ValueError: no prompts, or a prompt outside the image.
        """
        prompts = tuple(prompts)
        if not prompts:
            raise ValueError("refine() needs at least one prompt")
        with self._lock:
            predictor = self.predictor(image)
            # Resume from the longest prefix whose logits are cached (all but the new prompt,
            # normally); the last step is always decoded, for its full-size mask.
            done = len(prompts) - 1
            while done and self._step_key(image, obj_id, prompts[:done], seed) not in self._steps:
                done -= 1
            key = self._step_key(image, obj_id, prompts[:done], seed)
            logits = self._steps[key] if done else None
            for count in range(done + 1, len(prompts) + 1):
                decoded = self._decode(predictor, prompts[:count], logits, seed)
                logits = decoded.logits
                self._steps[self._step_key(image, obj_id, prompts[:count], seed)] = logits
                self._steps.move_to_end(self._step_key(image, obj_id, prompts[:count], seed))
                while len(self._steps) > MAX_CACHED_STEPS:
                    self._steps.popitem(last=False)
            return decoded

    @staticmethod
    def _step_key(
        image: LoadedImage, obj_id: str, prompts: tuple[Prompt, ...], seed: StoredMask | None
    ) -> tuple[Any, ...]:
        return (image.key, obj_id, id(seed) if seed is not None else None, prompts)

    def _decode(
        self,
        predictor: Sam2Predictor,
        prompts: tuple[Prompt, ...],
        previous: NDArray[np.float32] | None,
        seed: StoredMask | None,
    ) -> Decoded:
        clicks = [p for p in prompts if isinstance(p, Click)]
        boxes = [p for p in prompts if isinstance(p, Box)]
        kwargs: dict[str, Any] = {}
        if clicks:
            kwargs["point_coords"] = np.array([[c.x, c.y] for c in clicks], dtype=np.float32)
            kwargs["point_labels"] = np.array([int(c.positive) for c in clicks], dtype=np.int64)
        if boxes:
            last = boxes[-1]
            kwargs["box"] = np.array([last.x0, last.y0, last.x1, last.y1], dtype=np.float32)
        if previous is not None:
            kwargs["mask_input"] = previous
            kwargs["multimask_output"] = False
        elif seed is not None:
            kwargs["mask_input"] = seed.array
            kwargs["multimask_output"] = False
        # else the first prompt: predict's default, three candidates for a click, one for a box.
        result = predictor.predict(**kwargs)
        self.decodes += 1
        return Decoded(mask=result.best, score=float(result.best_score), logits=result.best_logits)

    # ------------------------------------------------------------------ everything

    def everything(self, image: LoadedImage, **settings: Any) -> list[Proposal]:
        """Every mask "segment everything" finds, best predicted IoU first.

        Args:
            image: the image.
            **settings: ``MaskGenerator`` settings overriding ``everything_settings``.

        Raises:
            ModelUnavailableError: the model cannot be loaded.
        """
        from .. import MaskGenerator

        with self._lock:
            generator = MaskGenerator(
                self.predictor(image), **{**self.everything_settings, **settings}
            )
            records = generator.generate(np.asarray(image.pixels))
        proposals = []
        for record in records:
            assert isinstance(record, dict)  # one image in, one list of records out
            x, y = record["point_coords"][0]
            proposals.append(
                Proposal(
                    StoredMask.from_array(record["segmentation"]),
                    float(record["predicted_iou"]),
                    (float(x), float(y)),
                )
            )
        return proposals
