"""Model-only image throughput per precision and batch size (no decoding, no I/O).

Also measures a bare matrix multiply of the tower's MLP shape in each precision and counts
the tower's FLOPs per image, so the output says how close the model runs to what this CPU's
matrix units can do at all (the tower is almost entirely matrix multiplies). Prints the CPU
class, the precision ladder photoclip climbs on it, what building each tower costs once
(the fixed start-up cost), and each precision's speed as a multiple of fp32 (the plain
open_clip tower). "int8" and "int8-mlp" are the towers photoclip builds (core/int8.py:
every linear layer, attention's projections too; or the MLP layers only); "int8 (torch
types)" is quantize_dynamic over every nn.Linear type, attention's output projection
included, as one would first try it: that loses MultiheadAttention's fused path.
``--onnxruntime`` (needs ``pip install onnxruntime onnx``) also exports the tower to ONNX and
times it in ONNX Runtime, in fp32 and with ONNX Runtime's dynamic int8 quantization of the
weight matrices (per channel, 7-bit range: AVX2 without VNNI saturates full-range int8 dot
products), to decide by measurement whether that runtime would be worth its dependency.
``--openvino`` (needs ``pip install openvino nncf``; both in the ``bench`` extra) does the
same for OpenVINO: the tower in fp32, in the precision OpenVINO picks for this CPU ("auto":
bf16 where there are bf16 units), with int8 weights only ("int8-w": NNCF weight compression),
and with NNCF's int8 post-training quantization of weights and activations (SmoothQuant, calibrated
on random images: this measures speed; faithfulness on real weights needs real photos).
``--avx2-only`` runs it all on the instructions an AVX2-only CPU has (bench_index's
AVX2_ONLY_ENV; OpenVINO's own kernels, outside oneDNN, honour the limit only in builds
that read OV_CPU_MAX_ISA).

    python benchmarks/bench_embed.py --arch ViT-B-32-256 --batches 1 8 32
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_index import AVX2_ONLY_ENV, cpu_line


def image_side(visual: torch.nn.Module) -> int:
    """The side of the square images the tower takes."""
    size = visual.image_size
    return size[0] if isinstance(size, tuple) else size


def onnxruntime_towers(visual: torch.nn.Module) -> dict[str, tuple[Any, float]]:
    """The tower exported to ONNX and run by ONNX Runtime: fp32 and int8, each with what
    exporting (and quantizing) costs once."""
    import tempfile

    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = Path(tempfile.mkdtemp(prefix="photoclip-bench-onnx-"))
    size = image_side(visual)
    fp32_path, int8_path = folder / "tower.onnx", folder / "tower-int8.onnx"
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(visual, (torch.randn(1, 3, size, size),), str(fp32_path),
                          input_names=["x"], output_names=["y"], opset_version=17,
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, dynamo=False)
    exported = time.perf_counter() - t0
    graph = onnx.load(str(fp32_path)).graph
    weights = {init.name for init in graph.initializer}
    # Only products with a weight matrix: attention's query-key and attention-value
    # products multiply two activations, and quantizing those costs most of the accuracy.
    with_weights = [node.name for node in graph.node if node.op_type in ("MatMul", "Gemm")
                    and any(i in weights for i in node.input)]
    t0 = time.perf_counter()
    quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8,
                     per_channel=True, reduce_range=True, nodes_to_quantize=with_weights)
    quantized = time.perf_counter() - t0
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()

    def session(path: Path) -> Any:
        run = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return lambda x: torch.from_numpy(run.run(None, {"x": x.numpy()})[0])

    towers = {"onnxruntime fp32": (session(fp32_path), exported),
              "onnxruntime int8": (session(int8_path), exported + quantized)}
    # The sessions hold the models in memory; the ~0.5 GB of files need not outlive them.
    shutil.rmtree(folder, ignore_errors=True)
    return towers


def openvino_towers(visual: torch.nn.Module, calibration: list[torch.Tensor]
                    ) -> dict[str, tuple[Any, float]]:
    """The tower converted to OpenVINO and compiled for this CPU, in each precision worth
    weighing, with what converting (and quantizing) costs once."""
    import logging

    import nncf
    import openvino as ov

    nncf.set_log_level(logging.ERROR)
    size = image_side(visual)
    core = ov.Core()
    # One stream on all the threads torch has: the same work split as the torch towers.
    core.set_property("CPU", {"INFERENCE_NUM_THREADS": torch.get_num_threads()})
    t0 = time.perf_counter()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Traced without the trace check, which fails on open_clip's renamed submodules.
        traced = torch.jit.trace(visual, torch.randn(2, 3, size, size), check_trace=False)
    shape = [(-1, 3, size, size)]
    converted = time.perf_counter() - t0

    def compiled(model: Any, precision: str | None) -> Any:
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if precision:
            config["INFERENCE_PRECISION_HINT"] = precision
        run = core.compile_model(model, "CPU", config)
        return lambda x: torch.from_numpy(run(x.float().numpy())[0])

    def built(make: Any) -> tuple[Any, float]:
        """The tower ``make()`` compiles, and what it cost with the trace."""
        t0 = time.perf_counter()
        return make(), converted + time.perf_counter() - t0

    # Each NNCF pass may rewrite the model it is given, so each gets its own conversion.
    model = ov.convert_model(traced, input=shape)
    return {
        "openvino fp32": built(lambda: compiled(model, "f32")),
        "openvino auto": built(lambda: compiled(model, None)),
        "openvino int8-w": built(lambda: compiled(nncf.compress_weights(
            ov.convert_model(traced, input=shape), mode=nncf.CompressWeightsMode.INT8_ASYM),
            None)),
        "openvino int8": built(lambda: compiled(nncf.quantize(
            ov.convert_model(traced, input=shape),
            nncf.Dataset([x.numpy() for x in calibration]),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=sum(len(x) for x in calibration)), None)),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="ViT-B-32-256")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--images", type=int, default=64, help="images per measurement")
    ap.add_argument("--onnxruntime", action="store_true",
                    help="also time the tower in ONNX Runtime (fp32 and int8)")
    ap.add_argument("--int8-engines", action="store_true",
                    help="also time photoclip's int8 tower under each of torch's other "
                         "quantized engines (onednn, fbgemm; photoclip runs the default)")
    ap.add_argument("--openvino", action="store_true",
                    help="also time the tower in OpenVINO (fp32, its own choice, int8 "
                         "weights, int8 post-training quantization)")
    ap.add_argument("--avx2-only", action="store_true",
                    help="limit every library's instructions to AVX2 (what an AVX2-only "
                         "CPU runs; this CPU's cores and clocks)")
    args = ap.parse_args()
    if args.avx2_only and os.environ.get("FBGEMM_ENABLE_INSTRUCTIONS") != "AVX2":
        # The limits are read when the libraries load, which has happened here for torch.
        env = dict(os.environ, **AVX2_ONLY_ENV)
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    import open_clip

    from photoclip.core import int8
    from photoclip.core.precision import candidates, cpu_class

    print(cpu_line(os.environ.get("PHOTOCLIP_CPU_CLASS")))
    ladder = candidates("cpu", cpu_class())
    print(f"photoclip's ladder on this class: {' > '.join((*ladder, 'fp32'))} (each faster "
          "path checked for faithfulness on the first photos, then remembered)")
    t0 = time.perf_counter()
    model = open_clip.create_model(args.arch, pretrained=None).eval()
    built = {"fp32": time.perf_counter() - t0}
    size = image_side(model.visual)
    variants = {"fp32": model.visual}
    for name, make in (
            ("bf16", lambda: copy.deepcopy(model.visual).to(torch.bfloat16)),
            ("int8", lambda: int8.quantize(model.visual, "all")),
            ("int8-mlp", lambda: int8.quantize(model.visual, "mlp")),
            ("int8 (torch types)", lambda: torch.ao.quantization.quantize_dynamic(
                copy.deepcopy(model.visual), {torch.nn.Linear}, dtype=torch.qint8))):
        t0 = time.perf_counter()
        variants[name] = make()
        built[name] = time.perf_counter() - t0
    engines: dict[str, str] = {}   # tower -> the quantized engine it runs under
    default_engine = torch.backends.quantized.engine
    if args.int8_engines:
        for engine in ("onednn", "fbgemm"):
            if engine == default_engine or engine not in torch.backends.quantized.supported_engines:
                continue
            torch.backends.quantized.engine = engine
            t0 = time.perf_counter()
            variants[f"int8 {engine}"] = int8.quantize(model.visual, "all")
            built[f"int8 {engine}"] = time.perf_counter() - t0
            engines[f"int8 {engine}"] = engine
        torch.backends.quantized.engine = default_engine
    if args.onnxruntime:
        for name, (run, seconds) in onnxruntime_towers(model.visual).items():
            variants[name], built[name] = run, seconds
    if args.openvino:
        calibration = [torch.randn(8, 3, size, size) for _ in range(8)]
        for name, (run, seconds) in openvino_towers(model.visual, calibration).items():
            variants[name], built[name] = run, seconds
    print("building each tower once (start-up cost): " + ", ".join(
        f"{name} {seconds:.2f} s" for name, seconds in built.items()))
    x = torch.randn(max(args.batches), 3, size, size)
    from torch.utils.flop_counter import FlopCounterMode

    # Counted with autograd on: without it nn.MultiheadAttention takes its fused fast path,
    # whose projections the counter does not see.
    with FlopCounterMode(display=False) as counter:
        model.visual(x[:1])
    gflop = counter.get_total_flops() / 1e9
    print(f"image tower: {gflop:.2f} GFLOP per image")
    width = model.visual.transformer.width if hasattr(model.visual, "transformer") else 768
    rows = max(args.batches) * 64
    # int8: the dynamically quantized linear layer the int8 tower is made of (activations
    # quantized at each call, as there), under photoclip's default quantized engine.
    torch.backends.quantized.engine = default_engine
    int8_linear = torch.ao.nn.quantized.dynamic.Linear(width, 4 * width)
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16),
                        ("int8", torch.float32)):
        a = torch.randn(rows, width).to(dtype)
        w = torch.randn(4 * width, width).to(dtype)

        def product(a: torch.Tensor = a, w: torch.Tensor = w, name: str = name) -> None:
            if name == "int8":
                int8_linear(a)
            else:
                torch.nn.functional.linear(a, w)

        with torch.inference_mode():
            product()
            seconds = float("inf")
            for _ in range(5):  # best of five: the question is what the CPU can do at all
                t0 = time.perf_counter()
                for _ in range(4):
                    product()
                seconds = min(seconds, (time.perf_counter() - t0) / 4)
        rate = 2 * rows * width * 4 * width / seconds / 1e9
        unit = "GOP/s  " if name == "int8" else "GFLOP/s"
        print(f"bare matmul {rows}x{width} @ {width}x{4 * width} {name}: {rate:6.0f} {unit} "
              f"-> at most {rate / gflop:5.1f} images/s for this tower")
    with torch.inference_mode():
        ref = torch.nn.functional.normalize(model.visual(x[:8]), dim=-1)
    print(f"{args.arch}, {size}px, torch {torch.__version__}, {torch.get_num_threads()} threads")
    fp32_rate: dict[int, float] = {}
    for name, visual in variants.items():
        dtype = torch.bfloat16 if name == "bf16" else torch.float32
        # A quantized layer runs under the engine in force when it is called.
        torch.backends.quantized.engine = engines.get(name, default_engine)
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
                fp32_rate.setdefault(b, rate)
                print(f"{name:18s} batch {b:3d}: {rate:7.1f} images/s = "
                      f"{rate / fp32_rate[b]:4.2f}x fp32   (worst cosine vs fp32 {cos:.5f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
