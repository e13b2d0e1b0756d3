"""Train the small OpenCLIP test model `tests/models/shapes-clip/`.

A real open_clip CLIP (ViT image tower, transformer text tower, the standard BPE tokenizer),
only tiny, trained contrastively on procedurally drawn shapes with varied captions. The
result is committed, so CI never retrains it; rerun this after changing the drawing code:

    python tests/models/train_shapes.py            # ~10 min on 2 CPU cores

Captions often describe only part of an image ("a star", "something red"), so several
captions in a batch can be true of one image. Plain CLIP loss would push those apart; we use
the multi-positive form instead: the target of each row is spread evenly over every pair
whose caption is consistent with the image.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from shapes import COLOUR_NAMES, SHAPES, random_drawing  # noqa: E402

IMAGE_SIZE = 64
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)

MODEL_CFG = {
    "embed_dim": 64,
    # A tiny ModifiedResNet: convolutions learn shapes from few examples far faster than a
    # ViT of the same cost (a 4-layer ViT reached 55% shape accuracy in the same budget).
    "vision_cfg": {"image_size": IMAGE_SIZE, "layers": [1, 1, 1, 1], "width": 16},
    "text_cfg": {"context_length": 20, "vocab_size": 49408, "width": 64, "heads": 4,
                 "layers": 3},
}
PREPROCESS_CFG = {"mean": list(MEAN), "std": list(STD), "interpolation": "bicubic",
                  "resize_mode": "shortest"}

# (template, mentions shape, mentions colour, mentions background), with sampling weights.
TEMPLATES: list[tuple[str, bool, bool, bool, float]] = [
    ("a {c} {s}", True, True, False, 3),
    ("a photo of a {c} {s}", True, True, False, 3),
    ("a drawing of a {c} {s}", True, True, False, 1),
    ("{c} {s}", True, True, False, 1),
    ("a {c} {s} on a {b} background", True, True, True, 3),
    ("a photo of a {c} {s} on a {b} background", True, True, True, 1),
    ("a {s}", True, False, False, 3),
    ("a photo of a {s}", True, False, False, 3),
    ("a {s} shape", True, False, False, 1),
    ("a {s} on a {b} background", True, False, True, 1),
    ("a {c} shape", False, True, False, 2),
    ("something {c}", False, True, False, 1),
    ("a photo of something {c}", False, True, False, 1),
    ("a {c} shape on a {b} background", False, True, True, 1),
    ("a {b} background", False, False, True, 1),
]
_WEIGHTS = [t[4] for t in TEMPLATES]


def to_tensor(img) -> torch.Tensor:
    """Shortest-side resize + centre crop + normalise, as open_clip's preprocess does."""
    from PIL import Image

    w, h = img.size
    s = IMAGE_SIZE / min(w, h)
    img = img.resize((max(IMAGE_SIZE, round(w * s)), max(IMAGE_SIZE, round(h * s))),
                     Image.Resampling.BICUBIC)
    w, h = img.size
    left, top = (w - IMAGE_SIZE) // 2, (h - IMAGE_SIZE) // 2
    img = img.crop((left, top, left + IMAGE_SIZE, top + IMAGE_SIZE))
    arr = np.asarray(img, dtype=np.float32) / 255.0
    arr = (arr - np.array(MEAN, dtype=np.float32)) / np.array(STD, dtype=np.float32)
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())


def _train_canvas(rng: random.Random) -> tuple[int, int]:
    # Small canvases draw fast; the resize to IMAGE_SIZE hides the difference from big ones.
    w = rng.randint(IMAGE_SIZE, 3 * IMAGE_SIZE)
    return w, max(IMAGE_SIZE, int(w * rng.uniform(0.67, 1.5)))


def make_batch(rng: random.Random, n: int, tokenizer):
    images, captions, attrs, masks = [], [], [], []
    for _ in range(n):
        d = random_drawing(rng, _train_canvas(rng))
        tpl, ms, mc, mb, _w = rng.choices(TEMPLATES, weights=_WEIGHTS)[0]
        images.append(to_tensor(d.image))
        captions.append(tpl.format(s=d.shape, c=d.colour, b=d.background))
        attrs.append((SHAPES.index(d.shape), COLOUR_NAMES.index(d.colour),
                      COLOUR_NAMES.index(d.background)))
        masks.append((ms, mc, mb))
    a = torch.tensor(attrs)
    m = torch.tensor(masks)
    # compat[t, i]: caption t is true of image i (every attribute it mentions matches).
    same = a[:, None, :] == a[None, :, :]
    compat = (same | ~m[:, None, :]).all(-1).float()
    return torch.stack(images), tokenizer(captions), compat


def multi_positive_loss(img_f, txt_f, scale, compat):
    logits = scale * txt_f @ img_f.T  # [text, image]
    t2i = compat / compat.sum(1, keepdim=True)
    i2t = compat.T / compat.T.sum(1, keepdim=True)
    loss_t = -(t2i * F.log_softmax(logits, 1)).sum(1).mean()
    loss_i = -(i2t * F.log_softmax(logits.T, 1)).sum(1).mean()
    return (loss_t + loss_i) / 2


@torch.no_grad()
def evaluate(model, tokenizer, preprocess, n: int = 400, seed: int = 12345) -> dict[str, float]:
    """Zero-shot accuracy on freshly drawn images of new sizes, through open_clip's preprocess."""
    rng = random.Random(seed)
    drawings = []
    for _ in range(n):
        w = rng.randint(40, 640)
        h = max(40, int(w * rng.uniform(0.6, 1.6)))
        drawings.append(random_drawing(rng, (w, h)))
    imgs = torch.stack([preprocess(d.image) for d in drawings])
    img_f = F.normalize(model.encode_image(imgs), dim=-1)

    def classify(prompts: list[str]) -> torch.Tensor:
        t = F.normalize(model.encode_text(tokenizer(prompts)), dim=-1)
        return (img_f @ t.T).argmax(1)

    shape_pred = classify([f"a photo of a {s}" for s in SHAPES])
    colour_pred = classify([f"a {c} shape" for c in COLOUR_NAMES])
    shape_acc = float(np.mean([SHAPES[p] == d.shape
                               for p, d in zip(shape_pred, drawings, strict=True)]))
    colour_acc = float(np.mean([COLOUR_NAMES[p] == d.colour
                                for p, d in zip(colour_pred, drawings, strict=True)]))
    return {"shape": shape_acc, "colour": colour_acc}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "shapes-clip")
    ap.add_argument("--steps", type=int, default=900)
    ap.add_argument("--batch", type=int, default=192)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import open_clip
    from safetensors.torch import save_file

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = open_clip.CLIP(**MODEL_CFG)
    tokenizer = open_clip.SimpleTokenizer(context_length=MODEL_CFG["text_cfg"]["context_length"])
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters()
                if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    warmup = 60

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        p = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * 0.5 * (1 + math.cos(math.pi * p))

    t0 = time.time()
    model.train()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        images, tokens, compat = make_batch(rng, args.batch, tokenizer)
        img_f, txt_f, scale = model(images, tokens)
        loss = multi_positive_loss(img_f, txt_f, scale, compat)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.3f}  scale {scale.item():.1f}  "
                  f"{time.time() - t0:.0f}s", flush=True)

    model.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    # fp16 on disk keeps the model small enough to commit; open_clip upcasts on load.
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(args.out / "open_clip_model.safetensors"))
    (args.out / "open_clip_config.json").write_text(json.dumps(
        {"model_cfg": MODEL_CFG, "preprocess_cfg": PREPROCESS_CFG}, indent=2) + "\n")

    # Evaluate the saved artefact exactly as photoclip will load it.
    loaded, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{args.out}")
    loaded.eval()
    acc = evaluate(loaded, open_clip.get_tokenizer(f"local-dir:{args.out}"), preprocess)
    size_mb = (args.out / "open_clip_model.safetensors").stat().st_size / 1e6
    print(f"held-out zero-shot accuracy: shape {acc['shape']:.1%}  colour {acc['colour']:.1%}  "
          f"weights {size_mb:.1f} MB  trained in {time.time() - t0:.0f}s")
    (args.out / "TRAINING.json").write_text(json.dumps(
        {"steps": args.steps, "batch": args.batch, "seed": args.seed,
         "train_seconds": round(time.time() - t0), "heldout_accuracy": acc,
         "weights_mb": round(size_mb, 2)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
