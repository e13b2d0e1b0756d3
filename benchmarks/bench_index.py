"""Indexing throughput: photoclip's pipeline against open_clip's plain reference loop.

Both sides embed the same camera-sized JPEGs with the same architecture (ViT-B-32-256 by
default, random weights: speed does not depend on them) in one run of this script, each in
its own subprocess so peak RSS is per side. The reference is what a first script would do:

    for path in photos: model.encode_image(preprocess(Image.open(path))[None])   # fp32

photoclip's side is the real thing: ``Library.index()`` on a fresh library (walk, hash,
decode, preprocess, embed, commit to SQLite and hnswlib). Prints photos/s for both, the
ratio, peak RSS, the per-stage breakdown, the worst cosine between the two sides'
embeddings of the same photo, and the ceiling: the CPU cost of decoding and of the model
per photo, each measured alone, and the photos/s the machine's cores allow at that cost.

    python benchmarks/make_corpus.py bench-data/camera 120
    python benchmarks/bench_index.py bench-data/camera --count 120
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# This checkout's photoclip, whichever is installed.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_random_model(arch: str, folder: Path) -> Path:
    """An open_clip local-dir model with random weights: real architecture, no download."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    if (folder / "open_clip_config.json").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    cfg = open_clip.get_model_config(arch)
    model = open_clip.create_model(arch, pretrained=None)
    pre = dict(open_clip.get_model_preprocess_cfg(model))
    pre.pop("size", None)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(folder / "open_clip_model.safetensors"))
    (folder / "open_clip_config.json").write_text(json.dumps(
        {"model_cfg": cfg, "preprocess_cfg": {k: list(v) if isinstance(v, tuple) else v
                                              for k, v in pre.items()}}))
    return folder


# Limits torch's kernels to AVX2 (aten, oneDNN, MKL, and fbgemm, which runs dynamic int8),
# so an AVX512 machine runs the code an AVX2-only CPU runs: int8 without VNNI, bf16
# emulated. The instructions are emulated, not the CPU: its cores, clocks and caches stay.
# OV_CPU_MAX_ISA is for bench_embed --openvino: OpenVINO's kernels outside oneDNN.
AVX2_ONLY_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                 "OV_CPU_MAX_ISA": "AVX2",
                 "MKL_ENABLE_INSTRUCTIONS": "AVX2", "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
                 "PHOTOCLIP_CPU_CLASS": "avx2"}


def cpu_line(forced: str | None = None) -> str:
    """The CPU and its class (and the class whose ladder is run, when one is forced)."""
    from photoclip.core.precision import detected_cpu_class

    name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    klass = detected_cpu_class()
    line = f"CPU: {name or 'unknown'}, {os.cpu_count()} cores, class {klass}"
    if forced and forced != klass:
        line += f"; precision ladder of class {forced} forced (PHOTOCLIP_CPU_CLASS)"
    if os.environ.get("FBGEMM_ENABLE_INSTRUCTIONS") == "AVX2":
        line += "; torch's instructions limited to AVX2 (AVX2_ONLY_ENV)"
    return line


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_reference(photos: list[str], model_dir: str, out: str) -> None:
    import open_clip
    import torch
    from PIL import Image

    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{model_dir}")
    model.eval()
    vecs = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for path in photos:
            x = preprocess(Image.open(path))[None]
            vecs.append(torch.nn.functional.normalize(model.encode_image(x), dim=-1)[0].numpy())
    seconds = time.perf_counter() - t0
    np.save(out + ".npy", np.stack(vecs))
    Path(out + ".json").write_text(json.dumps({"seconds": seconds, "rss_mb": peak_rss_mb(),
                                               "threads": torch.get_num_threads()}))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_costs(photos: list[str], emb: object, batch: int) -> dict[str, float]:
    """CPU milliseconds per photo of the two big stages, each alone on one thread.

    One thread measures the work itself, without the cost of keeping threads in step. The
    sum bounds the pipeline: on C cores it cannot beat C * 1000 / (decode + model) photos/s
    however well the stages overlap, so the benchmark can say how close it is.
    """
    import torch

    from photoclip.core.images import open_photo

    torch.set_num_threads(1)

    pre = emb.preprocessor()  # type: ignore[attr-defined]
    sample = photos[:batch]
    open_photo(sample[0], pre.min_side)
    c0 = cpu_seconds()
    pixels = np.stack([pre(open_photo(p, pre.min_side).image) for p in sample])
    decode_ms = (cpu_seconds() - c0) / len(sample) * 1000
    emb.encode_images(pixels)  # type: ignore[attr-defined]
    c0 = cpu_seconds()
    for _ in range(3):
        emb.encode_images(pixels)  # type: ignore[attr-defined]
    model_ms = (cpu_seconds() - c0) / (3 * len(sample)) * 1000
    return {"decode_ms": decode_ms, "model_ms": model_ms}


def run_photoclip(folder: str, model_dir: str, out: str, batch: int, threads: int | None,
                  precision: str) -> None:
    from photoclip.core import Library
    from photoclip.core.embedder import Embedder
    from photoclip.core.images import open_photo
    from photoclip.core.precision import CALIBRATION_IMAGES

    emb = Embedder(f"local-dir:{model_dir}", precision=precision)
    t_load = time.perf_counter()
    emb.load()
    load_s = time.perf_counter() - t_load
    # The precision check (auto: a faster path runs beside fp32 on the first photos, once
    # per model and machine) is a fixed cost: done here on the first photos, so the timed
    # run below is all in the chosen precision.
    t_check = time.perf_counter()
    pre = emb.preprocessor()
    sample = sorted(str(p) for p in Path(folder).glob("*.jpg"))[:CALIBRATION_IMAGES]
    pixels = np.stack([pre(open_photo(p, pre.min_side).image) for p in sample])
    # In two batches, as the indexer's first two: the candidate is built at the second and
    # timed against fp32 on it (the check weighs speed too).
    emb.encode_images(pixels[:8])
    emb.encode_images(pixels[8:])
    emb.finish_check()
    check_s = time.perf_counter() - t_check
    with tempfile.TemporaryDirectory() as lib_dir:
        with Library.open(lib_dir, embedder=emb, batch_size=batch, decode_threads=threads) as lib:
            lib.add_root(folder)
            # Label-set prompts are embedded once per model and cached in the user cache;
            # a fixed cost, not indexing throughput (bench_cli_index.py counts everything).
            t_warm = time.perf_counter()
            lib.prepare_label_sets()
            prompts_s = time.perf_counter() - t_warm
            t0, c0 = time.perf_counter(), cpu_seconds()
            run = lib.index()
            seconds = time.perf_counter() - t0
            cpu_s = cpu_seconds() - c0
            ids, vecs = lib.catalog.all_embeddings(emb.signature)
            paths = lib.catalog.photos_by_ids(int(i) for i in ids)
            order = {paths[int(i)].path: k for k, i in enumerate(ids)}
        costs = measure_costs(sorted(order), emb, batch)
        np.save(out + ".npy", vecs)
        Path(out + ".json").write_text(json.dumps({
            "seconds": seconds, "rss_mb": peak_rss_mb(), "embedded": run.index.embedded,
            "failed": len(run.index.failed), "stages": run.index.stage_seconds,
            "precision": emb.precision, "reason": emb.precision_reason, "load_s": load_s,
            "check_s": check_s, "prompts_s": prompts_s, "cpu_class": emb.cpu_class,
            "cpu_s": cpu_s, "order": order, **costs}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="camera JPEGs (benchmarks/make_corpus.py)")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--arch", default="ViT-B-32-256")
    ap.add_argument("--model-dir", type=Path, default=Path(tempfile.gettempdir()) /
                    "photoclip-bench-model")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None, help="decode threads")
    ap.add_argument("--precision", default="auto",
                    choices=["auto", "fp32", "bf16", "int8", "int8-mlp"])
    ap.add_argument("--cpu-class", help="run this CPU class's precision ladder "
                    "(PHOTOCLIP_CPU_CLASS: the choice is emulated, the instructions are not)")
    ap.add_argument("--side", choices=["reference", "photoclip"], help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()

    photos = sorted(str(p) for p in args.folder.glob("*.jpg"))[: args.count]
    if args.side == "reference":
        run_reference(photos, str(args.model_dir), args.out)
        return 0
    if args.side == "photoclip":
        run_photoclip(str(args.folder), str(args.model_dir), args.out, args.batch,
                      args.threads, args.precision)
        return 0

    if len(photos) < args.count:
        raise SystemExit(f"only {len(photos)} photos in {args.folder}; "
                         f"run benchmarks/make_corpus.py {args.folder} {args.count}")
    with tempfile.TemporaryDirectory() as work:
        # photoclip indexes a whole folder: give it exactly the photos the reference sees.
        subset = Path(work) / "photos"
        subset.mkdir()
        for p in photos:
            os.symlink(os.path.abspath(p), subset / Path(p).name)
        make_random_model(args.arch, args.model_dir)
        print(cpu_line(args.cpu_class))
        print(f"{len(photos)} photos, {args.arch} (random weights); load average "
              f"{os.getloadavg()[0]:.2f}")
        env = dict(os.environ, PHOTOCLIP_CACHE_DIR=str(Path(work) / "user-cache"))
        if args.cpu_class:
            env["PHOTOCLIP_CPU_CLASS"] = args.cpu_class
        results = {}
        for side in ("reference", "photoclip"):
            out = str(Path(work) / side)
            cmd = [sys.executable, __file__, str(subset), "--count", str(args.count),
                   "--model-dir", str(args.model_dir), "--side", side, "--out", out,
                   "--batch", str(args.batch), "--precision", args.precision]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            subprocess.run(cmd, check=True, env=env)
            results[side] = (json.loads(Path(out + ".json").read_text()), np.load(out + ".npy"))

    ref, ref_vecs = results["reference"]
    ours, our_vecs = results["photoclip"]
    n = len(photos)
    ref_rate, our_rate = n / ref["seconds"], n / ours["seconds"]
    print(f"reference loop : {ref_rate:6.2f} photos/s  ({ref['seconds']:.1f} s, "
          f"peak RSS {ref['rss_mb']:.0f} MB, fp32, torch threads {ref['threads']})")
    print(f"photoclip index: {our_rate:6.2f} photos/s  ({ours['seconds']:.1f} s, "
          f"peak RSS {ours['rss_mb']:.0f} MB, {ours['precision']}, batch {args.batch})")
    print(f"precision      : image tower {ours['precision']} on class {ours['cpu_class']}: "
          f"{ours['reason']}")
    print(f"fixed start-up : {ours['load_s'] + ours['check_s'] + ours['prompts_s']:.1f} s, not "
          f"counted above (model load {ours['load_s']:.1f} s, precision check "
          f"{ours['check_s']:.1f} s once per model and machine, label-set prompts "
          f"{ours['prompts_s']:.1f} s once per model)")
    print(f"ratio          : {our_rate / ref_rate:.2f}x")
    stages = ours["stages"]
    print("photoclip stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()) +
          "   [decode = summed over decode threads; wait = model thread idle on decode]")
    cores = os.cpu_count() or 1
    per_photo = ours["decode_ms"] + ours["model_ms"]
    ceiling = cores * 1000 / per_photo
    print(f"CPU per photo  : {ours['cpu_s'] / n * 1000:.0f} ms in the run "
          f"({ours['cpu_s'] / ours['seconds']:.2f} of {cores} cores busy); alone on one "
          f"thread: decode + resize {ours['decode_ms']:.0f} ms, model {ours['model_ms']:.0f} ms")
    print(f"ceiling        : {cores} cores / {per_photo:.0f} ms = {ceiling:.1f} photos/s = "
          f"{ceiling / ref_rate:.2f}x the reference, with perfect overlap, in "
          f"{ours['precision']}; the pipeline runs at {our_rate / ceiling:.0%} of it")
    order = ours["order"]
    idx = [order[str(Path(work) / 'photos' / Path(p).name)] for p in photos]
    cos = np.sum(ref_vecs * our_vecs[idx], axis=1)
    print(f"embedding agreement with the reference: min cosine {cos.min():.4f}, "
          f"mean {cos.mean():.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
