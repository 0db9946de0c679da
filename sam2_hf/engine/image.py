"""The image engine: encode images, decode prompts on the embedding, upscale to the original size.

Every image front end (``Sam2Predictor``, ``MaskGenerator``, click sessions, and what is built
on them) goes through ``ImageEngine``'s public methods, so there is one of each thing that
decides a mask: one pixel-to-model coordinate path (``model_coordinates``), one decoder
(``fast_decode.decode_prompts``, bit-identical to ``Sam2Model``'s forward), one upscaling and
clean-up (``upscale``), one mask threshold and one logit clamp (``LOGIT_CLAMP``).

Example:
    >>> engine = ImageEngine.from_pretrained("tiny")  # doctest: +SKIP
    >>> embedding = engine.encode([image])  # doctest: +SKIP
    >>> decoded = engine.decode(embedding, points=[[(500, 375)]], labels=[[1]])  # doctest: +SKIP
    >>> masks, logits = engine.postprocess(decoded.low_res, embedding.size)  # doctest: +SKIP
    >>> masks.shape  # (objects, candidates, H, W)  # doctest: +SKIP
    (1, 3, 750, 1000)
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike, NDArray
from transformers import Sam2Model, Sam2Processor
from typing_extensions import Unpack

from ..formats.masks import clean_mask_logits
from ..inputs import ImageInput, check_float, check_int, load_image, to_float_rgb
from .fast_decode import decode_prompts
from .loading import LoadedModel, LoadOptions, autocast, load_model

# Returned low-res logits are clamped to [-LOGIT_CLAMP, LOGIT_CLAMP], as the original sam2 does
# (image predictor and video tracker alike), so that they stay usable as a mask prompt.
LOGIT_CLAMP = 32.0
# A binary mask prompt becomes logits of +MASK_PROMPT_LOGIT inside and -MASK_PROMPT_LOGIT
# outside, the scale the original sam2 gives a mask it turns into logits
# (``_use_mask_as_output``: mask * 20 - 10).
MASK_PROMPT_LOGIT = 10.0


@dataclass(frozen=True)
class ImageEmbedding:
    """The vision encoder's output for a batch of images, with each image's original size.

    Index it to get one image (``embedding[i]``, still batch-first with a batch of one), which
    is what ``ImageEngine.decode`` takes.

    Attributes:
        features: per feature level, high resolution first, (B, C_l, H_l, W_l) tensors on the
            engine's device, e.g. (B, 32, 256, 256), (B, 64, 128, 128), (B, 256, 64, 64) for
            the released models.
        sizes: (H, W) of each original image, in batch order.
    """

    features: tuple[torch.Tensor, ...]
    sizes: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        for level in self.features:
            if len(level) != len(self.sizes):
                raise ValueError(
                    f"every feature level must hold {len(self.sizes)} image(s) like sizes, "
                    f"got a level of shape {tuple(level.shape)}"
                )

    def __len__(self) -> int:
        return len(self.sizes)

    def __getitem__(self, index: int | slice) -> ImageEmbedding:
        if isinstance(index, (int, np.integer)):
            position = range(len(self))[index]  # IndexError, negative indices as for lists
            index = slice(position, position + 1)
        if not isinstance(index, slice):
            raise TypeError(f"an ImageEmbedding is indexed by int or slice, got {index!r}")
        return ImageEmbedding(
            tuple(level[index] for level in self.features), tuple(self.sizes[index])
        )

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the one image this embedding holds.

        Raises:
            ValueError: it holds several images (index it first).
        """
        if len(self) != 1:
            raise ValueError(f"this embedding holds {len(self)} images; take one with embedding[i]")
        return self.sizes[0]

    def to(self, device: str | torch.device) -> ImageEmbedding:
        """The same embedding on another device (e.g. ``"cpu"`` to keep many of them)."""
        return ImageEmbedding(tuple(level.to(device) for level in self.features), self.sizes)


class Decoded(NamedTuple):
    """The mask decoder's output for N objects on one image, candidates in the model's order.

    Attributes:
        low_res: (N, C, h, w) float32 mask logits, not clamped, on the engine's device; C is
            3 with ``multimask_output`` and 1 without, (h, w) is ``ImageEngine.mask_size``.
        scores: (N, C) float32 predicted IoU of each candidate.
        object_score_logits: (N,) float32; above 0 the model thinks the object is present.
    """

    low_res: torch.Tensor
    scores: torch.Tensor
    object_score_logits: torch.Tensor


class ImageEngine:
    """One SAM 2 image model with its processor: encode, decode, post-process.

    Serves every family (``Sam2Model``, ``EdgeTamModel``, ``Sam3TrackerModel``): they share
    ``Sam2Model``'s interface; ``image_embeddings`` evens out where transformers' SAM 3 tracker
    image model differs, and the fast decoder serves the families of
    ``fast_decode.FAST_DECODE_FAMILIES``.

    Attributes:
        model: the transformers model (``Sam2Model``, or another family with its interface).
        processor: its ``Sam2Processor`` (``Sam3TrackerProcessor`` for SAM 3).
        device: where the model runs.
        dtype: the compute dtype (float32, or bfloat16 / float16 under autocast).
        mask_threshold: logits above it are foreground.
        max_hole_area: background regions of at most this many low-res pixels are filled
            before upscaling (0 = off), as the original predictor's argument of that name.
        max_sprinkle_area: foreground specks of at most this many low-res pixels are removed.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        mask_threshold: float = 0.0,
        max_hole_area: int = 0,
        max_sprinkle_area: int = 0,
    ) -> None:
        """Wrap an already loaded model; ``from_pretrained`` loads one.

        Args:
            loaded: the model, processor, device and dtype from ``sam2_hf.load_model``.
            mask_threshold: logits above it are foreground; a finite number.
            max_hole_area: an int >= 0 (see the class attributes).
            max_sprinkle_area: an int >= 0.

        Raises:
            TypeError: ``loaded`` is not a ``LoadedModel``, or an area is not an int.
            ValueError: a negative area or a non-finite threshold.
        """
        if not isinstance(loaded, LoadedModel):
            raise TypeError(
                f"loaded must be a LoadedModel (from sam2_hf.load_model), got "
                f"{type(loaded).__name__}"
            )
        self.loaded = loaded
        self.mask_threshold = check_float("mask_threshold", mask_threshold, -math.inf, math.inf)
        self.max_hole_area = check_int("max_hole_area", max_hole_area, minimum=0)
        self.max_sprinkle_area = check_int("max_sprinkle_area", max_sprinkle_area, minimum=0)

    @classmethod
    def from_pretrained(
        cls,
        model: str | os.PathLike[str] = "tiny",
        *,
        mask_threshold: float = 0.0,
        max_hole_area: int = 0,
        max_sprinkle_area: int = 0,
        **options: Unpack[LoadOptions],
    ) -> ImageEngine:
        """Load a model by short name, hub id or folder; ``options`` are ``LoadOptions``.

        See ``sam2_hf.load_model`` for the names and options; the other arguments are the
        constructor's.
        """
        return cls(
            load_model(model, task="image", **options),
            mask_threshold=mask_threshold,
            max_hole_area=max_hole_area,
            max_sprinkle_area=max_sprinkle_area,
        )

    def with_options(
        self,
        *,
        mask_threshold: float | None = None,
        max_hole_area: int | None = None,
        max_sprinkle_area: int | None = None,
    ) -> ImageEngine:
        """An engine on the same model (nothing is copied) with some options changed."""
        return ImageEngine(
            self.loaded,
            mask_threshold=self.mask_threshold if mask_threshold is None else mask_threshold,
            max_hole_area=self.max_hole_area if max_hole_area is None else max_hole_area,
            max_sprinkle_area=(
                self.max_sprinkle_area if max_sprinkle_area is None else max_sprinkle_area
            ),
        )

    # ---------------------------------------------------------------- what it wraps

    @property
    def model(self) -> Sam2Model:
        """The transformers model (typed as ``Sam2Model``, whose interface every family has)."""
        return cast(Sam2Model, self.loaded.model)

    @property
    def processor(self) -> Sam2Processor:
        """The transformers processor."""
        return cast(Sam2Processor, self.loaded.processor)

    @property
    def device(self) -> torch.device:
        """Where the model runs."""
        return self.loaded.device

    @property
    def dtype(self) -> torch.dtype:
        """The autocast precision (the weights stay float32)."""
        return self.loaded.dtype

    @property
    def input_size(self) -> int:
        """The model's square input side in pixels (1024 for the released models)."""
        return int(self.processor.target_size)

    @property
    def mask_size(self) -> tuple[int, int]:
        """(h, w) of the low-res logits and of a mask prompt (256, 256 for released models)."""
        height, width = self.model.prompt_encoder.mask_input_size
        return int(height), int(width)

    def __repr__(self) -> str:
        return (
            f"ImageEngine({self.loaded.source!r}, device={str(self.device)!r}, dtype={self.dtype}, "
            f"mask_threshold={self.mask_threshold}, max_hole_area={self.max_hole_area}, "
            f"max_sprinkle_area={self.max_sprinkle_area})"
        )

    # ---------------------------------------------------------------- images

    def preprocess(
        self, images: Sequence[ImageInput]
    ) -> tuple[torch.Tensor, list[tuple[int, int]]]:
        """Images -> the model's pixel values, resized as floats like the original sam2.

        Args:
            images: paths, URLs, PIL images or arrays (see ``sam2_hf.load_image``); an
                (H, W, 3) uint8 array is used as it is, without a copy.

        Returns:
            ``(pixel_values, sizes)``: (B, 3, S, S) float32 on the CPU, S = ``input_size``,
            and the (H, W) of each original image.
        """
        arrays = [to_float_rgb(as_rgb(image)) for image in _image_list(images)]
        # channels_last explicitly: guessing takes an image 1, 3 or 4 pixels tall for a
        # channels-first one and scrambles it.
        pixel_values = self.processor.image_processor(
            images=arrays, do_rescale=False, return_tensors="pt", input_data_format="channels_last"
        )["pixel_values"]
        return pixel_values, [(int(a.shape[0]), int(a.shape[1])) for a in arrays]

    def encode_pixels(
        self, pixel_values: torch.Tensor, sizes: Sequence[tuple[int, int]], *, grad: bool = False
    ) -> ImageEmbedding:
        """Run the vision encoder on ``preprocess``'s pixel values (one forward for the batch).

        Args:
            pixel_values: (B, 3, S, S) float32.
            sizes: the (H, W) of each original image.
            grad: track gradients (training the image encoder); by default none are.
        """
        if pixel_values.ndim != 4 or len(pixel_values) != len(sizes):
            raise ValueError(
                f"pixel_values must have shape (B, 3, S, S) with B = len(sizes) = {len(sizes)}, "
                f"got {tuple(pixel_values.shape)}"
            )
        with _grad_mode(grad, inference=False), autocast(self.device, self.dtype):
            features = image_embeddings(self.model, pixel_values.to(self.device))
        return ImageEmbedding(tuple(features), tuple((int(h), int(w)) for h, w in sizes))

    def encode(self, images: Sequence[ImageInput], *, grad: bool = False) -> ImageEmbedding:
        """Vision-encode images of any sizes in one forward.

        Args:
            images: a list of paths, URLs, PIL images or (H, W[, C]) arrays.
            grad: track gradients (training the image encoder); by default none are, and the
                embedding can still feed a ``decode(..., grad=True)`` (decoder training).

        Returns:
            The ``ImageEmbedding`` of the images, in order.
        """
        pixel_values, sizes = self.preprocess(images)
        return self.encode_pixels(pixel_values, sizes, grad=grad)

    # ---------------------------------------------------------------- prompts

    def model_coordinates(
        self, coords: ArrayLike | torch.Tensor, size: tuple[int, int]
    ) -> torch.Tensor:
        """Pixels of the original image -> pixels of the model's square input: THE one path.

        The original sam2's arithmetic in float32 (``SAM2Transforms.transform_coords``): divide
        x by the width and y by the height, then multiply by ``input_size``. (transformers'
        ``Sam2Processor`` multiplies by ``input_size / width`` instead, which differs in the
        last bit for most sizes.)

        Args:
            coords: (..., 2) points (x, y); boxes as (..., 2, 2) corner pairs.
            size: (H, W) of the original image.

        Returns:
            A new float32 tensor of the same shape, on the device of ``coords`` if it is a
            tensor, else on the CPU.
        """
        height, width = size
        scaled = torch.as_tensor(coords).to(torch.float32).clone()
        if scaled.ndim == 0 or scaled.shape[-1] != 2:
            raise ValueError(f"coords must have shape (..., 2), got {tuple(scaled.shape)}")
        scaled[..., 0] = scaled[..., 0] / width
        scaled[..., 1] = scaled[..., 1] / height
        return scaled * float(self.input_size)

    def mask_prompt(self, mask_input: ArrayLike, size: tuple[int, int]) -> torch.Tensor:
        """One object's mask prompt as the (1, 1, h, w) float32 logits ``decode`` takes.

        Args:
            mask_input: a previous prediction's (h, w) or (1, h, w) float low-res logits, or a
                bool / 0-1 integer (H, W) mask at the original image size, which becomes
                +10 inside and -10 outside (``MASK_PROMPT_LOGIT``) after area resampling to
                (h, w) = ``mask_size``.
            size: (H, W) of the original image.

        Raises:
            TypeError: neither float logits nor a binary mask. ValueError: wrong shape,
            values other than 0/1, or non-finite logits.
        """
        array = np.asarray(mask_input)
        low_res = self.mask_size
        if array.dtype == bool or np.issubdtype(array.dtype, np.integer):
            if array.shape != tuple(size):
                raise ValueError(
                    f"a binary mask_input must have the image's shape (H, W) = {tuple(size)}, "
                    f"got {array.shape}"
                )
            if not np.isin(array, (0, 1)).all():
                raise ValueError("a binary mask_input must hold only 0/1 or True/False values")
            # Area resampling averages the mask over each low-res cell: exact for masks made of
            # whole cells, and never lets a thin structure vanish between samples.
            fraction = F.interpolate(
                torch.from_numpy(array.astype(np.float32))[None, None], size=low_res, mode="area"
            )
            return fraction * (2 * MASK_PROMPT_LOGIT) - MASK_PROMPT_LOGIT
        if not np.issubdtype(array.dtype, np.floating):
            raise TypeError(f"mask_input must be float logits or a bool mask, got {array.dtype}")
        if array.ndim == 3 and array.shape[0] == 1:
            array = array[0]
        if array.shape != low_res:
            raise ValueError(
                f"mask_input logits must have shape {low_res} or (1, {low_res[0]}, {low_res[1]}) "
                f"(a previous result's logits[0]); got {np.shape(mask_input)}. For a mask at the "
                "image size pass it as bool."
            )
        if not np.isfinite(array).all():
            raise ValueError("mask_input must be finite numbers, got NaN or infinity")
        return torch.from_numpy(array.astype(np.float32))[None, None]

    def decode(
        self,
        embedding: ImageEmbedding,
        *,
        points: ArrayLike | torch.Tensor | None = None,
        labels: ArrayLike | torch.Tensor | None = None,
        boxes: ArrayLike | torch.Tensor | None = None,
        mask_logits: torch.Tensor | None = None,
        multimask_output: bool = True,
        grad: bool = False,
    ) -> Decoded:
        """Prompt encoder + mask decoder for N objects on one image's embedding.

        Prompts are not validated beyond their shapes (``sam2_hf.inputs.as_points`` /
        ``as_boxes`` check user input): points may lie anywhere, boxes must be clipped already.

        Args:
            embedding: one image's embedding (``encode(...)[i]``).
            points: (N, K, 2) clicks (x, y) in pixels of the original image, K per object.
            labels: (N, K) int: 1 foreground, 0 background. Default: all 1.
            boxes: (N, 4) boxes (x0, y0, x1, y1) in pixels of the original image.
            mask_logits: (1, 1, h, w) float logits (``mask_prompt``) for the one object, or
                (N, 1, h, w), one per object. One per object decodes each object as its own
                batch entry (transformers takes one mask per image); otherwise the decoder is
                ``fast_decode.decode_prompts``, bit-identical to the model's forward.
            multimask_output: three candidates per object instead of one.
            grad: track gradients (decoder training); by default runs in inference mode.

        Returns:
            ``Decoded``: low-res logits (N, C, h, w), scores (N, C), object score logits (N,),
            all float32 tensors on the engine's device, candidates in the model's order.

        Raises:
            ValueError: no prompt, shapes that do not fit, or more than one image.
        """
        size = embedding.size
        device = self.device
        prompts: dict[str, torch.Tensor] = {}
        count = None
        if points is not None:
            coords = self.model_coordinates(_tensor(points, device, torch.float32), size)
            if coords.ndim != 3:
                raise ValueError(f"points must have shape (N, K, 2), got {tuple(coords.shape)}")
            count = len(coords)
            if labels is None:
                point_labels = torch.ones(coords.shape[:2], dtype=torch.int64, device=device)
            else:
                point_labels = _tensor(labels, device, torch.int64)
            if point_labels.shape != coords.shape[:2]:
                raise ValueError(
                    f"labels must have shape {tuple(coords.shape[:2])} like points, "
                    f"got {tuple(point_labels.shape)}"
                )
            prompts["input_points"], prompts["input_labels"] = coords, point_labels
        elif labels is not None:
            raise ValueError("labels were given without points")
        if boxes is not None:
            corners = _tensor(boxes, device, torch.float32)
            if corners.ndim != 2 or corners.shape[1] != 4:
                raise ValueError(f"boxes must have shape (N, 4), got {tuple(corners.shape)}")
            if count is not None and len(corners) != count:
                raise ValueError(f"points are for {count} object(s) but boxes for {len(corners)}")
            count = len(corners)
            model_boxes = self.model_coordinates(corners.reshape(-1, 2, 2), size)
            prompts["input_boxes"] = model_boxes.reshape(-1, 4)
        if mask_logits is not None:
            expected = (1, self.mask_size[0], self.mask_size[1])
            if mask_logits.ndim != 4 or tuple(mask_logits.shape[1:]) != expected:
                raise ValueError(
                    f"mask_logits must have shape (M, {', '.join(map(str, expected))}), "
                    f"got {tuple(mask_logits.shape)}"
                )
            if count is None:
                count = len(mask_logits)
            if len(mask_logits) not in (1, count):
                raise ValueError(
                    f"mask_logits must hold 1 mask or one per object ({count}), "
                    f"got {len(mask_logits)}"
                )
            mask_logits = mask_logits.to(device)
        if count is None:
            raise ValueError("decode() needs a prompt: points, boxes or mask_logits")
        if count == 0:
            return self._no_objects(1 if not multimask_output else 3)
        with _grad_mode(grad, inference=True), autocast(device, self.dtype):
            if mask_logits is not None and len(mask_logits) > 1:
                low_res, scores, objects = self._decode_per_object(
                    embedding, prompts, mask_logits, multimask_output
                )
            else:
                batched = {key: value[None] for key, value in prompts.items()}
                if mask_logits is not None:
                    batched["input_masks"] = mask_logits
                # The model's own forward, bit for bit, without a copy of the image features
                # per object (tests/engine/test_fast_decode.py).
                low_res, scores, objects = decode_prompts(
                    self.model, list(embedding.features), multimask_output=multimask_output,
                    **batched,
                )  # fmt: skip
                objects = objects[:, 0]
        return Decoded(low_res.float(), scores.float(), objects.float())

    def _decode_per_object(
        self,
        embedding: ImageEmbedding,
        prompts: dict[str, torch.Tensor],
        mask_logits: torch.Tensor,
        multimask_output: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One batch entry per object: transformers takes one mask prompt per image."""
        count = len(mask_logits)
        out = self.model(
            image_embeddings=[
                level.expand(count, *level.shape[1:]) for level in embedding.features
            ],
            input_points=prompts["input_points"][:, None] if "input_points" in prompts else None,
            input_labels=prompts["input_labels"][:, None] if "input_labels" in prompts else None,
            input_boxes=prompts["input_boxes"][:, None] if "input_boxes" in prompts else None,
            input_masks=mask_logits,
            multimask_output=multimask_output,
        )
        return out.pred_masks[:, 0], out.iou_scores[:, 0], out.object_score_logits[:, 0, 0]

    def _no_objects(self, candidates: int) -> Decoded:
        device = self.device
        return Decoded(
            torch.zeros((0, candidates, *self.mask_size), device=device),
            torch.zeros((0, candidates), device=device),
            torch.zeros(0, device=device),
        )

    # ---------------------------------------------------------------- output

    def upscale(self, low_res: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Low-res logits -> logits at the original size, after the hole / speck clean-up.

        As the original's post-processing (and ``Sam2Processor.post_process_masks``): the
        clean-up of ``max_hole_area`` / ``max_sprinkle_area`` on the low-res logits, then
        bilinear upscaling (``align_corners=False``), on the device of ``low_res``.

        Args:
            low_res: (N, C, h, w) float32 logits.
            size: (H, W) to upscale to.

        Returns:
            (N, C, H, W) float32 logits, not clamped.
        """
        logits = low_res
        if self.max_hole_area or self.max_sprinkle_area:
            cleaned = clean_mask_logits(
                low_res.detach().cpu().numpy(),
                mask_threshold=self.mask_threshold,
                max_hole_area=self.max_hole_area,
                max_sprinkle_area=self.max_sprinkle_area,
            )
            logits = torch.from_numpy(cleaned).to(low_res.device)
        return F.interpolate(logits, tuple(size), mode="bilinear", align_corners=False)

    def postprocess(
        self, low_res: torch.Tensor, size: tuple[int, int], *, binarize: bool = True
    ) -> tuple[NDArray[Any], NDArray[np.float32]]:
        """Low-res logits -> numpy masks at the original size, and the clamped low-res logits.

        As in the original, masks come from the unclamped logits (clamping first would move
        the threshold crossing of bilinear interpolation between a large and a small logit).

        Args:
            low_res: (N, C, h, w) float32 logits (``Decoded.low_res``).
            size: (H, W) of the original image.
            binarize: bool masks (logit > ``mask_threshold``); False gives float32 logits.

        Returns:
            ``(masks, logits)``: (N, C, H, W) bool (or float32) and (N, C, h, w) float32
            clamped to [-LOGIT_CLAMP, LOGIT_CLAMP], reusable as ``mask_prompt`` input.
        """
        with torch.inference_mode():
            # Upscaled on the model's device: on a GPU this is the expensive step of the output.
            masks = self.upscale(low_res, size)
            if binarize:
                masks = masks > self.mask_threshold
            clamped = clamp_logits(low_res)
            return masks.cpu().numpy(), clamped.cpu().numpy()


def image_embeddings(model: Any, pixel_values: torch.Tensor) -> list[torch.Tensor]:
    """The image features the mask decoder reads, for every family, with gradients if enabled.

    What ``Sam2Model.get_image_embeddings`` computes (that method is ``no_grad``): the vision
    encoder's FPN levels, the first two projected for the decoder, and the learned "no memory"
    embedding added to the lowest-resolution level the decoder reads.

    SAM 3's vision encoder makes one FPN level more than the tracker reads (scales 4, 2, 1 and
    0.5 of its 1008 / 14 grid). transformers' ``Sam3TrackerModel.get_image_embeddings`` and its
    ``forward`` (5.24) add the no-memory embedding to that extra 0.5 level and then drop it, so
    the level the decoder reads never gets it; ``Sam3TrackerVideoModel`` drops the extra level
    first, as SAM 3's reference does. Keeping only the levels of ``backbone_feature_sizes``
    before adding does the same here, and changes nothing for SAM 2 and EdgeTAM (three levels).
    ``tests/engine/test_image_engine_families.py`` fails once transformers fixes its
    image model, so that this note and the test can go.

    Args:
        model: an image model of any family (``Sam2Model``, ``EdgeTamModel``,
            ``Sam3TrackerModel``).
        pixel_values: (B, 3, S, S) float from the processor.

    Returns:
        Per feature level, high-resolution first, (B, C_l, H_l, W_l) tensors, e.g.
        (B, 32, 256, 256), (B, 64, 128, 128), (B, 256, 64, 64) for the released SAM 2 models.
    """
    batch = pixel_values.shape[0]
    sizes = model.backbone_feature_sizes
    features = model.get_image_features(pixel_values, return_dict=True).fpn_hidden_states
    features = list(features)[: len(sizes)]
    features[-1] = features[-1] + model.no_memory_embedding
    return [
        level.permute(1, 2, 0).view(batch, -1, *size)
        for level, size in zip(features, sizes, strict=True)
    ]


def clamp_logits(logits: torch.Tensor) -> torch.Tensor:
    """``logits`` clamped to [-LOGIT_CLAMP, LOGIT_CLAMP], as the original stores them."""
    return logits.clamp(-LOGIT_CLAMP, LOGIT_CLAMP)


def as_rgb(image: ImageInput) -> NDArray[Any]:
    """``load_image(image)``, except that an (H, W, 3) uint8 array is returned as it is.

    The engine only reads the array, so images already loaded are not copied or read twice.
    """
    if (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
        and image.shape[0] > 0
        and image.shape[1] > 0
    ):
        return image
    return load_image(image)


def _image_list(images: Sequence[ImageInput]) -> Sequence[ImageInput]:
    if isinstance(images, (str, os.PathLike, np.ndarray)) or not isinstance(images, Sequence):
        raise TypeError(
            f"images must be a list of images, got a single {type(images).__name__}; "
            "wrap it in a list"
        )
    if len(images) == 0:
        raise ValueError("images must hold at least one image, got an empty list")
    return images


def _tensor(
    value: ArrayLike | torch.Tensor, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """``value`` as a ``dtype`` tensor on ``device``; converted on the CPU first (float64 never
    reaches an MPS device), without a copy where nothing changes."""
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(np.asarray(value)).to(dtype)
    return value.to(device=device, dtype=dtype)


def _grad_mode(grad: bool, *, inference: bool) -> contextlib.AbstractContextManager[Any]:
    """No context with ``grad``; else inference mode, or no_grad where the result must stay
    usable by autograd later (an embedding that a training step decodes from)."""
    if grad:
        return contextlib.nullcontext()
    return torch.inference_mode() if inference else torch.no_grad()
