"""Model-only image throughput per precision and batch size (no decoding, no I/O).

    python benchmarks/bench_embed.py --arch ViT-B-32-256 --batches 1 8 32
"""

from __future__ import annotations

import argparse
import copy
import time

import torch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="ViT-B-32-256")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--images", type=int, default=64, help="images per measurement")
    args = ap.parse_args()
    import open_clip

    model = open_clip.create_model(args.arch, pretrained=None).eval()
    size = model.visual.image_size
    size = size[0] if isinstance(size, tuple) else size
    variants = {"fp32": model.visual}
    variants["bf16"] = copy.deepcopy(model.visual).to(torch.bfloat16)
    variants["int8-dynamic"] = torch.ao.quantization.quantize_dynamic(
        copy.deepcopy(model.visual), {torch.nn.Linear}, dtype=torch.qint8)
    x = torch.randn(max(args.batches), 3, size, size)
    with torch.inference_mode():
        ref = torch.nn.functional.normalize(model.visual(x[:8]), dim=-1)
    print(f"{args.arch}, {size}px, torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, visual in variants.items():
        dtype = torch.bfloat16 if name == "bf16" else torch.float32
        with torch.inference_mode():
            got = torch.nn.functional.normalize(visual(x[:8].to(dtype)).float(), dim=-1)
            cos = float((ref * got).sum(-1).min())
            for b in args.batches:
                visual(x[:b].to(dtype))  # warm-up
                n = 0
                t0 = time.perf_counter()
                while n < args.images:
                    visual(x[:b].to(dtype))
                    n += b
                rate = n / (time.perf_counter() - t0)
                print(f"{name:13s} batch {b:3d}: {rate:7.1f} images/s   "
                      f"(worst cosine vs fp32 {cos:.5f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
