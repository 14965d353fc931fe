"""ONNX export (issue 16, item 3): latency of one 3 s clip through the frozen whisper-base
weighted-sum probe of EmoDB, in PyTorch fp32, PyTorch bf16 (autocast), onnxruntime fp32 and
onnxruntime int8 (dynamic quantisation of the weights); the graph's parity with PyTorch; and
whether int8 keeps the held-out UAR: every EmoDB clip's pooled hidden states from the fp32 and
the int8 graph, scored by its own fold's head (leave-one-speaker-out, per-speaker
standardisation as the run did), paired with `emotransfer analyze compare`.

Latencies are of the network alone (the clip's log-mel, computed in Python either way, is
timed apart) and end to end through `Predictor.predict_signals` for both backends; each the
median of `--repeats` calls after two warm-ups, 2 threads.

Usage (from the repository root; the run is `benchmarks/architectures.py`'s anchor; writes
benchmarks/results/onnx_latency.json)::

    python benchmarks/onnx_latency.py [--run runs/benchmarks/arch_whisper_weighted_sum]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from emotransfer.analysis.compare import compare
from emotransfer.data.audio import load_audio
from emotransfer.evaluation.metrics import uar
from emotransfer.inference import Predictor
from emotransfer.inference.loading import fold_head
from emotransfer.inference.onnx_export import (
    export_encoder,
    export_graph,
    export_onnx,
    onnx_session,
)
from emotransfer.inference.onnx_graph import graph_of
from emotransfer.model_spec import read_model_spec
from emotransfer.models.normalize import speaker_standardize

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
OUT = HERE / "results" / "onnx_latency.json"
WORK = HERE / "work" / "onnx_latency"


def timed(call, repeats: int) -> dict[str, float]:
    for _ in range(2):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return {"median_ms": 1000 * statistics.median(times), "min_ms": 1000 * min(times)}


class Pooled(torch.nn.Module):
    """The graph's encoder and pooling alone: ``(L + 1, D')`` per clip."""

    def __init__(self, frozen: torch.nn.Module) -> None:
        super().__init__()
        self.frozen = frozen

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.frozen.pooled(*inputs)


def held_out(run: Path, pooled: dict[str, np.ndarray], table: pd.DataFrame) -> pd.DataFrame:
    """Each clip scored by its own fold's head on per-speaker standardised pooled states."""
    spec = read_model_spec(run)
    features = np.stack([pooled[f] for f in table["file"]]).astype(np.float64)
    features = speaker_standardize(features, table["speaker"].to_numpy())
    rows = []
    for fold, part in table.groupby("fold"):
        mean, scale, head = fold_head(run / "models" / str(fold) / "head.safetensors")
        chosen = features[part.index] if spec.layer is None else features[part.index, spec.layer]
        probabilities = head.class_probabilities((chosen - mean) / scale, len(spec.classes))
        for (_, row), p in zip(part.iterrows(), probabilities):
            rows.append({**row[["file", "speaker", "fold", "true"]].to_dict(),
                         "predicted": spec.classes[int(p.argmax())],
                         **{f"prob_{c}": v for c, v in zip(spec.classes, p)}})  # fmt: skip
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default="runs/benchmarks/arch_whisper_weighted_sum")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--limit", type=int, default=None, help="clips for the UAR check")
    args = parser.parse_args()
    torch.set_num_threads(2)
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    run = Path(args.run)
    WORK.mkdir(parents=True, exist_ok=True)
    result: dict = {"run": str(run), "threads": 2, "cpu": _cpu()}
    start = time.perf_counter()
    description = export_onnx(run)  # into RUN/onnx, where the onnx backend finds it
    result["export_seconds"] = round(time.perf_counter() - start, 1)
    result["export"] = {k: description[k] for k in ("inputs", "dynamic_axes", "max_abs_difference")}
    fp32_path = run / "onnx" / "model.onnx"
    int8_path = WORK / "model_int8.onnx"
    quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8)
    result["size_mb"] = {
        "fp32": fp32_path.stat().st_size / 1e6,
        "int8": int8_path.stat().st_size / 1e6,
    }

    predictor = Predictor.from_run(run)
    spec = read_model_spec(run)
    encoder = export_encoder(spec)
    table = pd.read_csv(SHARED / "data" / "emodb" / "metadata.csv")
    waves = {f: load_audio(SHARED / "data" / "emodb" / f) for f in table["file"]}
    long_one = next(f for f in table["file"] if len(waves[f]) >= 3 * 16000)
    clip = waves[long_one][: 3 * 16000]
    inputs = encoder.export_inputs(clip)
    names = sorted(inputs)
    graph = graph_of(predictor.scorer, spec, encoder, names).eval()
    feed = {n: inputs[n].numpy() for n in names}
    sessions = {"fp32": onnx_session(fp32_path, 2), "int8": onnx_session(int8_path, 2)}

    def torch_call(bf16: bool):
        def call():
            with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                return graph(*(inputs[n] for n in names))

        return call

    latency = {
        "prepare (log-mel, Python)": timed(lambda: encoder.export_inputs(clip), args.repeats),
        "pytorch fp32": timed(torch_call(False), args.repeats),
        "pytorch bf16 (autocast)": timed(torch_call(True), args.repeats),
        "onnxruntime fp32": timed(lambda: sessions["fp32"].run(None, feed), args.repeats),
        "onnxruntime int8": timed(lambda: sessions["int8"].run(None, feed), args.repeats),
    }
    onnx_predictor = Predictor.from_run(run, backend="onnx")
    latency["end to end: Predictor, torch backend (the run's bf16 extraction)"] = timed(
        lambda: predictor.predict_signals([clip]), args.repeats)  # fmt: skip
    latency["end to end: Predictor, onnx backend (fp32)"] = timed(
        lambda: onnx_predictor.predict_signals([clip]), args.repeats)  # fmt: skip
    result["latency_3s_clip"] = {
        k: {m: round(v, 1) for m, v in d.items()} for k, d in latency.items()
    }
    print(json.dumps(result["latency_3s_clip"], indent=1), flush=True)

    # Parity on real clips: probabilities of ONNX fp32 / int8 and torch bf16 against torch fp32.
    sample = list(table["file"][:: max(1, len(table) // 20)])[:20]
    gaps = {"onnxruntime fp32": [], "onnxruntime int8": [], "pytorch bf16 (autocast)": []}
    for name in sample:
        prepared = encoder.export_inputs(waves[name])
        with torch.no_grad():
            expected = graph(*(prepared[n] for n in names)).numpy()
            with torch.autocast("cpu", torch.bfloat16):
                bf16 = graph(*(prepared[n] for n in names)).float().numpy()
        here = {n: prepared[n].numpy() for n in names}
        gaps["onnxruntime fp32"].append(
            np.abs(sessions["fp32"].run(None, here)[0] - expected).max()
        )
        gaps["onnxruntime int8"].append(
            np.abs(sessions["int8"].run(None, here)[0] - expected).max()
        )
        gaps["pytorch bf16 (autocast)"].append(np.abs(bf16 - expected).max())
    result["max_abs_probability_difference_vs_pytorch_fp32"] = {
        k: float(max(v)) for k, v in gaps.items()}  # fmt: skip
    _write(result)

    # Held-out UAR: fp32 and int8 pooled states of every clip, each fold's own head.
    predictions = pd.read_csv(run / "predictions.csv")
    predictions["file"] = [Path(f).relative_to(SHARED / "data" / "emodb").as_posix()
                           for f in predictions["file"]]  # fmt: skip
    if args.limit:
        predictions = predictions.groupby("fold").head(args.limit).reset_index(drop=True)
    pooled_graph = Pooled(graph)
    for kind in ("fp32", "int8"):
        path = WORK / f"pooled_{kind}.onnx"
        if not path.is_file():
            export_graph(pooled_graph, encoder, WORK / "pooled_fp32.onnx", outputs=["pooled"],
                         rate=16000)  # fmt: skip
            if kind == "int8":
                quantize_dynamic(str(WORK / "pooled_fp32.onnx"), str(path),
                                 weight_type=QuantType.QInt8)  # fmt: skip
        session = onnx_session(path, 2)
        start = time.perf_counter()
        pooled = {}
        for name in predictions["file"]:
            prepared = encoder.export_inputs(waves[name])
            pooled[name] = session.run(None, {n: prepared[n].numpy() for n in names})[0]
        seconds = time.perf_counter() - start
        scored = held_out(run, pooled, predictions)
        scored.to_csv(WORK / f"predictions_{kind}.csv", index=False)
        value = _uar(scored)
        result.setdefault("held_out_uar", {})[kind] = {"uar": value, "seconds": round(seconds, 1)}
        print(kind, value, flush=True)
        _write(result)
    result["held_out_uar"]["run (PyTorch, bf16 extraction)"] = {"uar": _uar(predictions)}
    for unit in ("clip", "speaker"):
        report = compare(
            [str(WORK / "predictions_fp32.csv"), str(WORK / "predictions_int8.csv")],
            names=["onnx_fp32", "onnx_int8"],
            unit=unit,
            bootstrap=1000,
            seed=0,
        )
        result[f"compare_fp32_vs_int8_{unit}"] = report
    _write(result)


def _uar(table: pd.DataFrame) -> float:
    classes = sorted(set(table["true"]))
    index = {c: i for i, c in enumerate(classes)}
    return uar(table["true"].map(index).to_numpy(), table["predicted"].map(index).to_numpy(),
               len(classes))  # fmt: skip


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _write(result: dict) -> None:
    OUT.write_text(json.dumps(result, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
