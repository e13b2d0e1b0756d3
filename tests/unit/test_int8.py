"""The int8 image tower: the attention swap that lets int8 reach attention's projections is
exact before quantization, and the quantized tower stays close to fp32."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from photoclip.core import int8


def _pair(batch_first: bool, bias: bool = True) -> tuple[nn.MultiheadAttention,
                                                          int8.SelfAttention]:
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(32, 4, bias=bias, batch_first=batch_first).eval()
    return mha, int8.SelfAttention(mha).eval()


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("need_weights", [True, False])
def test_the_swap_computes_what_multihead_attention_does(batch_first: bool,
                                                         need_weights: bool) -> None:
    mha, ours = _pair(batch_first)
    x = torch.randn(3, 7, 32) if batch_first else torch.randn(7, 3, 32)
    with torch.inference_mode():
        want, want_w = mha(x, x, x, need_weights=need_weights)
        got, got_w = ours(x, x, x, need_weights=need_weights)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    if need_weights:
        torch.testing.assert_close(got_w, want_w, atol=1e-5, rtol=1e-4)
    else:
        assert got_w is None


def test_masks_padding_and_cross_attention_match() -> None:
    mha, ours = _pair(batch_first=True, bias=False)
    q, kv = torch.randn(2, 5, 32), torch.randn(2, 6, 32)
    causal = torch.ones(5, 6, dtype=torch.bool).triu(1)
    float_mask = torch.randn(2 * 4, 5, 6)
    padding = torch.tensor([[False] * 5 + [True], [False] * 6])
    with torch.inference_mode():
        for kwargs in ({"attn_mask": causal}, {"attn_mask": float_mask},
                       {"key_padding_mask": padding},
                       {"attn_mask": causal, "key_padding_mask": padding}):
            want, _ = mha(q, kv, kv, need_weights=False, **kwargs)
            got, _ = ours(q, kv, kv, need_weights=False, **kwargs)
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4, msg=str(kwargs))
        one = torch.randn(5, 32)   # an unbatched sequence
        torch.testing.assert_close(ours(one, one, one)[0], mha(one, one, one)[0],
                                   atol=1e-5, rtol=1e-4)


def test_the_swap_shares_the_towers_tensors() -> None:
    mha, ours = _pair(batch_first=True)
    assert ours.in_proj.weight is mha.in_proj_weight
    assert ours.out_proj.weight is mha.out_proj.weight


def test_all_reaches_attention_and_stays_close_to_fp32() -> None:
    import open_clip

    torch.manual_seed(1)
    visual = open_clip.CLIP(embed_dim=64, vision_cfg={"image_size": 64, "layers": 3,
                                                      "width": 128, "patch_size": 16,
                                                      "head_width": 32},
                            text_cfg={"layers": 1, "width": 32, "heads": 1}).visual.eval()
    mlp, everything = int8.linear_layers(visual, "mlp"), int8.linear_layers(visual, "all")
    assert mlp < everything
    assert any(name.endswith("attn.in_proj") for name in everything - mlp)
    tower = int8.quantize(visual, "all")
    assert tower is not None
    from torch.ao.nn.quantized.dynamic import Linear as QuantizedLinear

    quantized = [m for m in tower.modules() if isinstance(m, QuantizedLinear)]
    assert len(quantized) == len(everything)
    x = torch.randn(4, 3, *visual.image_size)
    with torch.inference_mode():
        ref = nn.functional.normalize(visual(x), dim=-1)
        got = nn.functional.normalize(tower(x), dim=-1)
    assert float((ref * got).sum(-1).min()) > 0.99
    # The fp32 tower is untouched: its attention is still torch's own.
    assert all(type(b.attn) is nn.MultiheadAttention for b in visual.transformer.resblocks)
