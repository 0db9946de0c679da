"""Decode many prompts on one image without copying the image features per prompt.

transformers' ``Sam2MaskDecoder.forward`` gives every prompt of a batch its own copy of the
image embedding, its positional encoding and both high-resolution feature maps
(``repeat_interleave``): at 64 clicks on a 1024 input that is ~1.3 GB of copies per forward, a
quarter of the decoder's time on a CPU. ``decode_clicks`` runs the same computation with the
model's own modules and weights, but lets the shared features broadcast (stride-0 views)
into the elementwise ops that consume them, and projects the image side of the first two-way
attention block once instead of once per click (it is the same for every click there).

The results are bit-identical to ``model(image_embeddings=..., input_points=...,
input_labels=..., multimask_output=...)``: broadcasting does not change an elementwise op's
arithmetic, and a projection of the shared image tokens computes each output row from the
same inputs in the same order whether it runs once or once per click.
``tests/engine/test_fast_decode.py`` checks this with ``torch.equal``, so a transformers release
that changes the decoder fails there instead of changing masks.
"""

from __future__ import annotations

import sys
from typing import Any, cast

import torch
import torch.nn.functional as F
import transformers
from torch import nn
from transformers import Sam2Model
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.sam2.modeling_sam2 import (
    Sam2Attention,
    Sam2TwoWayAttentionBlock,
    Sam2TwoWayTransformer,
    eager_attention_forward,
)

from .registry import model_family

#: Families whose image model's decoder the fast path reproduces bit for bit, each proven by
#: ``tests/engine/test_fast_decode.py`` with ``torch.equal`` (transformers 5.24 generates
#: EdgeTAM's and SAM 3 tracker's decoders from SAM 2's, module for module). A family left out
#: is decoded with ``model(...)``.
FAST_DECODE_FAMILIES = frozenset({"sam2", "edgetam", "sam3_tracker"})


def supports_fast_decode(model: nn.Module) -> bool:
    """Whether ``decode_clicks`` can take the fast path: exactly transformers' decoder of a
    family in ``FAST_DECODE_FAMILIES`` (its own image model, mask decoder, two-way transformer
    and blocks; no subclass, which may compute differently). Others use ``model(...)``.
    """
    family = model_family(model)
    if family is None or family.name not in FAST_DECODE_FAMILIES:
        return False
    if type(model) is not getattr(transformers, family.image_model, None):
        return False
    prefix = family.image_model.removesuffix("Model")  # "Sam2", "EdgeTam", "Sam3Tracker"
    module = sys.modules[type(model).__module__]

    def exactly(value: Any, name: str) -> bool:
        return type(value) is getattr(module, prefix + name, None)

    decoder: Any = getattr(model, "mask_decoder", None)
    if not exactly(decoder, "MaskDecoder"):
        return False
    transformer = decoder.transformer
    return exactly(transformer, "TwoWayTransformer") and all(
        exactly(layer, "TwoWayAttentionBlock") for layer in transformer.layers
    )


def decode_clicks(
    model: nn.Module,
    image_embeddings: list[torch.Tensor],
    points: torch.Tensor,
    labels: torch.Tensor,
    multimask_output: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode N prompts of one click each on one image's cached features.

    The same results as ``model(image_embeddings=image_embeddings, input_points=points[None, :,
    None], input_labels=labels[None, :, None], multimask_output=multimask_output)``, faster;
    models ``supports_fast_decode`` refuses are called that way.

    Args:
        image_embeddings: the image's feature levels from ``get_image_embeddings``, batch of one,
            high-resolution first (e.g. (1, 32, 256, 256), (1, 64, 128, 128), (1, 256, 64, 64)).
        points: (N, 2) float clicks (x, y) in pixels of the model's input (0 .. image_size).
        labels: (N,) int64 click labels (1 foreground, 0 background).
        multimask_output: three masks per click instead of one.

    Returns:
        Low-res mask logits (N, C, h, w) and predicted IoUs (N, C), C = 3 or 1: the model
        output's ``pred_masks[0]`` and ``iou_scores[0]``.
    """
    prompts = {"input_points": points[None, :, None], "input_labels": labels[None, :, None]}
    if not supports_fast_decode(model):
        out = model(image_embeddings=image_embeddings, multimask_output=multimask_output, **prompts)
        return out.pred_masks[0], out.iou_scores[0]
    masks, iou, _ = decode_prompts(
        model, image_embeddings, multimask_output=multimask_output, **prompts
    )
    return masks, iou


def decode_prompts(
    model: nn.Module,
    image_embeddings: list[torch.Tensor],
    *,
    input_points: torch.Tensor | None = None,
    input_labels: torch.Tensor | None = None,
    input_boxes: torch.Tensor | None = None,
    input_masks: torch.Tensor | None = None,
    multimask_output: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Decode N prompts (objects) on one image's cached features.

    Takes the prompt tensors ``Sam2Processor`` makes for one image (points (1, N, K, 2) with
    labels (1, N, K), boxes (1, N, 4), one mask (1, 1, h, w)) and returns what
    ``model(image_embeddings=..., **prompts, multimask_output=...)`` returns as ``pred_masks[0]``
    (N, C, h, w), ``iou_scores[0]`` (N, C) and ``object_score_logits[0]`` (N, 1), bit for bit.
    Models ``supports_fast_decode`` refuses are called that way.
    """
    prompts = {
        "input_points": input_points,
        "input_labels": input_labels,
        "input_boxes": input_boxes,
        "input_masks": input_masks,
    }
    if not supports_fast_decode(model):
        out = model(image_embeddings=image_embeddings, multimask_output=multimask_output, **prompts)
        return out.pred_masks[0], out.iou_scores[0], out.object_score_logits[0]

    # supports_fast_decode checked the type: Sam2Model or a family's exact copy of it.
    sam2 = cast(Sam2Model, model)
    decoder = sam2.mask_decoder
    image_pe = sam2.get_image_wide_positional_embeddings()
    sparse, dense = sam2.prompt_encoder(**_prompt_defaults(sam2, image_embeddings, **prompts))
    count = sparse.shape[1]
    output_tokens = torch.cat(
        [decoder.obj_score_token.weight, decoder.iou_token.weight, decoder.mask_tokens.weight]
    )
    tokens = torch.cat((output_tokens.repeat(1, count, 1, 1), sparse), dim=2)
    tokens = tokens.to(decoder.iou_token.weight.dtype)

    image = image_embeddings[-1] + dense  # (1, C, h, w): shared by all clicks
    _, channels, height, width = image.shape
    queries, keys = _two_way_transformer(decoder.transformer, tokens, image, image_pe)

    # keys: (N, 1, h * w, C) per click from here on.
    image = keys.transpose(2, 3).view(count, channels, height, width)
    feat_s0, feat_s1 = image_embeddings[:-1]
    upscaled = decoder.upscale_conv1(image) + feat_s1
    upscaled = decoder.activation(decoder.upscale_layer_norm(upscaled))
    upscaled = decoder.activation(decoder.upscale_conv2(upscaled) + feat_s0)

    mask_tokens = queries[:, :, 2 : 2 + decoder.num_mask_tokens, :]
    hyper_in = torch.stack(
        [mlp(mask_tokens[:, :, i, :]) for i, mlp in enumerate(decoder.output_hypernetworks_mlps)],
        dim=2,
    )
    _, up_channels, up_height, up_width = upscaled.shape
    upscaled = upscaled.view(1, count, up_channels, up_height * up_width)
    masks = (hyper_in @ upscaled).view(1, count, -1, up_height, up_width)
    iou = decoder.iou_prediction_head(queries[:, :, 1, :])
    object_score_logits = decoder.pred_obj_score_head(queries[:, :, 0, :])

    if multimask_output:
        masks, iou = masks[:, :, 1:], iou[:, :, 1:]
    elif decoder.dynamic_multimask_via_stability and not decoder.training:
        masks, iou = decoder._dynamic_multimask_via_stability(masks, iou)
    else:
        masks, iou = masks[:, :, :1], iou[:, :, :1]
    return masks[0], iou[0], object_score_logits[0]


def _prompt_defaults(
    model: Sam2Model,
    image_embeddings: list[torch.Tensor],
    input_points: torch.Tensor | None,
    input_labels: torch.Tensor | None,
    input_boxes: torch.Tensor | None,
    input_masks: torch.Tensor | None,
) -> dict[str, torch.Tensor | None]:
    """The prompt encoder's inputs as ``Sam2Model.forward`` completes them."""
    reference = image_embeddings[-1]
    if input_points is not None and input_labels is None:
        input_labels = torch.ones_like(input_points[..., 0], dtype=torch.int)
    if input_points is None and input_boxes is None:
        # No point and no box: one "not a point" pad, as the model's forward adds.
        input_points = torch.zeros(1, 1, 1, 2, dtype=reference.dtype, device=reference.device)
        input_labels = -torch.ones(1, 1, 1, dtype=torch.int32, device=reference.device)
    mask_size = model.prompt_encoder.mask_input_size
    if input_masks is not None and input_masks.shape[-2:] != mask_size:
        input_masks = F.interpolate(
            input_masks.float(), size=mask_size, align_corners=False, mode="bilinear",
            antialias=True,
        ).to(input_masks.dtype)  # fmt: skip
    return {
        "input_points": input_points,
        "input_labels": input_labels,
        "input_boxes": input_boxes,
        "input_masks": input_masks,
    }


def _two_way_transformer(
    transformer: Sam2TwoWayTransformer,
    tokens: torch.Tensor,
    image: torch.Tensor,
    image_pe: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``Sam2TwoWayTransformer.forward`` on (1, N, T, C) tokens and a (1, C, h, w) image.

    Returns queries (1, N, T, C) and keys (N, 1, h * w, C), as transformers' transformer does
    after it repeats the image N times.
    """
    # (1, 1, h * w, C), made contiguous once: adding a transposed tensor to the per-click ones
    # costs ~5x a contiguous add, and the values stay the same.
    keys = image.flatten(2).transpose(1, 2).unsqueeze(1).contiguous()
    key_pe = image_pe.flatten(2).transpose(1, 2).unsqueeze(1).contiguous()
    first, *rest = transformer.layers
    queries, keys = _first_block(
        cast(Sam2TwoWayAttentionBlock, first), tokens, keys, tokens, key_pe
    )
    for layer in rest:
        # key_pe broadcasts over the clicks in the block's elementwise adds.
        queries, keys, _ = layer(
            queries=queries,
            keys=keys,
            query_point_embedding=tokens,
            key_point_embedding=key_pe,
            attention_similarity=None,
        )
    attn_out, _ = transformer.final_attn_token_to_image(
        query=queries + tokens, key=keys + key_pe, value=keys
    )
    queries = transformer.layer_norm_final_attn(queries + attn_out)
    return queries, keys


def _first_block(
    block: Sam2TwoWayAttentionBlock,
    queries: torch.Tensor,
    keys: torch.Tensor,
    query_pe: torch.Tensor,
    key_pe: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``Sam2TwoWayAttentionBlock.forward`` with keys (1, 1, h * w, C) shared by the N clicks.

    The image side is the same for every click until the image attends to the tokens, so the
    key/value projections of the token-to-image attention and the query projection of the
    image-to-token attention run once.
    """
    if block.skip_first_layer_pe:
        queries, _ = block.self_attn(query=queries, key=queries, value=queries)
    else:
        query = queries + query_pe
        attn_out, _ = block.self_attn(query=query, key=query, value=queries)
        queries = queries + attn_out
    queries = block.layer_norm1(queries)

    count = queries.shape[1]
    key = keys + key_pe  # shared
    attn = block.cross_attn_token_to_image
    attn_out = _attend(
        attn,
        _heads(attn, attn.q_proj(queries + query_pe), count),
        _heads(attn, attn.k_proj(key), 1).expand(count, -1, -1, -1),
        _heads(attn, attn.v_proj(keys), 1).expand(count, -1, -1, -1),
        (1, count),
    )
    queries = block.layer_norm2(queries + attn_out)
    queries = block.layer_norm3(queries + block.mlp(queries))

    query = queries + query_pe
    attn = block.cross_attn_image_to_token
    attn_out = _attend(
        attn,
        _heads(attn, attn.q_proj(key), 1).expand(count, -1, -1, -1),
        _heads(attn, attn.k_proj(query), count),
        _heads(attn, attn.v_proj(queries), count),
        (count, 1),
    )
    keys = block.layer_norm4(keys + attn_out)  # (N, 1, h * w, C): per click from here on
    return queries, keys


def _heads(attn: Sam2Attention, projected: torch.Tensor, batch: int) -> torch.Tensor:
    """(..., L, heads * head_dim) -> (batch, heads, L, head_dim), as ``Sam2Attention`` splits."""
    return projected.view(batch, -1, attn.num_attention_heads, attn.head_dim).transpose(1, 2)


def _attend(
    attn: Sam2Attention,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    leading: tuple[int, int],
) -> torch.Tensor:
    """The rest of ``Sam2Attention.forward`` after the input projections, with its kernel."""
    interface = ALL_ATTENTION_FUNCTIONS.get_interface(
        attn.config._attn_implementation, eager_attention_forward
    )
    out, _ = interface(
        attn,
        query,
        key,
        value,
        attention_mask=None,
        dropout=0.0,
        scaling=attn.scaling,
        is_causal=attn.is_causal,
    )
    out = out.reshape(*leading, -1, attn.num_attention_heads * attn.head_dim).contiguous()
    return attn.o_proj(out)
