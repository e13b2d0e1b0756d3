"""int8 image towers for CPUs without bf16 units: torch's dynamic quantization of the
linear layers, with self-attention's projections quantized too.

torch's ``MultiheadAttention`` keeps its query/key/value projection as a raw parameter and
calls its output projection by weight, so dynamic quantization cannot reach either: a
third of a ViT's matrix work (4 of every 12 d² per token) would stay in fp32. Each
self-attention of the tower is therefore swapped for :class:`SelfAttention`, which holds
the same two projections as ``nn.Linear`` layers (sharing the fp32 tensors, so nothing is
copied before quantization) and runs the attention itself in
``scaled_dot_product_attention``, the fused kernel. Measured on ViT-B-32-256 at batch 16
(2-core AVX2-only EPYC): 13.3–15.4 images/s, against 11.3–13.3 with the MLP layers only
and 8.8–8.9 in fp32 (``benchmarks/bench_embed.py`` times the towers side by side).

The swap is exact in fp32 (tests/unit/test_int8.py compares it with ``MultiheadAttention``
on masks, padding and cross attention); only quantization changes the numbers, and the
precision check (core/precision.py) decides on the user's own photos whether that is
faithful enough. Imported only where torch already is.
"""

from __future__ import annotations

import copy
import itertools
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention(nn.Module):
    """``nn.MultiheadAttention`` (packed projections, no bias_k/v, no zero attention) with
    its projections as ``nn.Linear`` children, so dynamic quantization can swap them."""

    def __init__(self, mha: nn.MultiheadAttention) -> None:
        super().__init__()
        d = mha.embed_dim
        self.embed_dim, self.num_heads = d, mha.num_heads
        self.batch_first = mha.batch_first
        self.dropout = mha.dropout
        has_bias = mha.in_proj_bias is not None
        # Built on the meta device, then given the tower's own tensors: no new weights.
        self.in_proj = nn.Linear(d, 3 * d, bias=has_bias, device="meta")
        self.in_proj.weight = mha.in_proj_weight
        if has_bias:
            self.in_proj.bias = mha.in_proj_bias
        self.out_proj = nn.Linear(d, d, bias=mha.out_proj.bias is not None, device="meta")
        self.out_proj.weight = mha.out_proj.weight
        if mha.out_proj.bias is not None:
            self.out_proj.bias = mha.out_proj.bias

    @staticmethod
    def applies(mha: nn.Module) -> bool:
        return (type(mha) is nn.MultiheadAttention and mha._qkv_same_embed_dim
                and mha.in_proj_weight is not None and mha.bias_k is None
                and mha.bias_v is None and not mha.add_zero_attn)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        n, t, _ = x.shape
        return x.view(n, t, self.num_heads, -1).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None, need_weights: bool = True,
                attn_mask: torch.Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        batched = query.dim() == 3
        if not batched:   # (L, E): one sequence
            query, key, value = (t.unsqueeze(1 if not self.batch_first else 0)
                                 for t in (query, key, value))
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        d = self.embed_dim
        if query is key and key is value:   # self-attention: one product for all three
            q, k, v = self.in_proj(query).split(d, dim=-1)
        else:   # the packed projection applied to each, and its third kept
            q = self.in_proj(query)[..., :d]
            k = self.in_proj(key)[..., d:2 * d]
            v = self.in_proj(value)[..., 2 * d:]
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        n, _, length, _ = q.shape
        mask = _additive_mask(attn_mask, key_padding_mask, n, self.num_heads, length,
                              k.shape[2], q.dtype, is_causal)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
            if mask is not None:
                scores = scores + mask
            attn = F.dropout(scores.softmax(dim=-1), p)
            out = attn @ v
            weights = attn.mean(dim=1) if average_attn_weights else attn
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        out = self.out_proj(out.transpose(1, 2).reshape(n, length, d))
        if not self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(1 if not self.batch_first else 0)
            if weights is not None:
                weights = weights.squeeze(0)
        return out, weights


def _additive_mask(attn_mask: torch.Tensor | None, padding: torch.Tensor | None, n: int,
                   heads: int, length: int, source: int, dtype: torch.dtype,
                   causal: bool) -> torch.Tensor | None:
    """MultiheadAttention's masks (bool: True = may not attend; float: added) as one float
    mask that broadcasts over (N, heads, L, S)."""
    if causal and attn_mask is None:
        attn_mask = torch.ones(length, source, dtype=torch.bool).triu(1)
    mask = None
    if attn_mask is not None:
        mask = _as_float(attn_mask, dtype)
        if mask.dim() == 3:   # (N * heads, L, S)
            mask = mask.view(n, heads, length, source)
    if padding is not None:
        pad = _as_float(padding, dtype).view(n, 1, 1, source)
        mask = pad if mask is None else mask + pad
    return mask


def _as_float(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype).masked_fill(mask, float("-inf"))
    return mask.to(dtype)


def linear_layers(visual: nn.Module, scope: str) -> set[str]:
    """Names of the linear layers an int8 tower of ``scope`` quantizes: "all" (after the
    attention swap, attention's projections too) or "mlp" (only those torch reaches
    without help); empty where int8 does not apply. Cheap: nothing is copied."""
    modules = dict(visual.named_modules())
    names = set()
    for name, mod in modules.items():
        parent = modules.get(name.rpartition(".")[0])
        if parent is not None and "AttentionPool" in type(parent).__name__:
            continue   # reads q_proj.weight directly
        if type(mod) is nn.Linear:
            names.add(name)
        elif scope == "all" and SelfAttention.applies(mod):
            names.update((f"{name}.in_proj", f"{name}.out_proj"))
    return names


def quantize(visual: nn.Module, scope: str = "all") -> nn.Module | None:
    """An int8 copy of an image tower, or None where int8 does not apply or this torch
    has no eager quantization; raises what quantizing raises (an engine this CPU lacks).
    The copy shares every fp32 tensor it does not replace."""
    names = linear_layers(visual, scope)
    if not names:
        return None
    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError:
        return None
    # deepcopy with every tensor memoised to itself: the modules are new, the tensors the
    # tower's own (nothing here changes one in place), so the int8 tower costs its int8
    # weights, not a second fp32 tower (about 350 MB for ViT-B/32).
    shared = {id(t): t for t in itertools.chain(visual.parameters(), visual.buffers())}
    tower = copy.deepcopy(visual, shared)
    if scope == "all":
        for name, mod in list(tower.named_modules()):
            if SelfAttention.applies(mod) and f"{name}.in_proj" in names:
                parent_name, _, attr = name.rpartition(".")
                setattr(tower.get_submodule(parent_name) if parent_name else tower, attr,
                        SelfAttention(mod))
    with warnings.catch_warnings():
        # torch.ao.quantization announces its move to torchao; it still works, and a
        # torch without it stays in fp32.
        warnings.simplefilter("ignore")
        return quantize_dynamic(tower, names, dtype=torch.qint8, inplace=True)


def applies(visual: Any, scope: str) -> bool:
    """Whether an int8 tower of ``scope`` can be built for this tower with this torch."""
    try:
        from torch.ao.quantization import quantize_dynamic  # noqa: F401
    except ImportError:
        return False
    return bool(linear_layers(visual, scope))
