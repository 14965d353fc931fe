"""Which part of the weighted-sum probe's recipe a trained frame model lacks (issue 14,
diagnostic): on EmoDB's cached whisper-base pooled means (the probe's own cache), 3
leave-one-speaker-out folds (speakers 03, 11, 15), the probe's head fitted on features
normalised in different ways, and the trained model's structure (layer mix, then a per-feature
standardisation after the mix, then linear) fitted full-batch on raw or standardised states.

Usage (from the repository root, after `python benchmarks/architectures.py --only
whisper_weighted_sum` filled the cache; writes benchmarks/results/probe_factors.json)::

    python benchmarks/probe_factors.py
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch
from architectures import HERE, SHARED, SYSTEMS

from emotransfer.config import load_config
from emotransfer.evaluation.metrics import uar
from emotransfer.features.cache import FeatureCache
from emotransfer.features.extract import extract_features
from emotransfer.models.layers import LayerSumHead
from emotransfer.models.normalize import Standardizer, speaker_standardize
from emotransfer.prepare import build_upstream, cache_root, prepare_manifest

OUT = HERE / "results" / "probe_factors.json"
FOLDS = ["03", "11", "15"]


def pooled_means() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, L + 1, D)`` clip means and within-clip stds of every state, speakers, labels."""
    config = load_config(None, overrides=[
        f"cache_dir={HERE / 'work' / 'architectures' / 'cache'}",
        f"data.corpora=[{{name: csv, root: {SHARED / 'data' / 'emodb'}}}]",
        *SYSTEMS["whisper_weighted_sum"],
    ])  # fmt: skip
    table, _, _ = prepare_manifest(config)
    upstream = build_upstream(config)
    extraction = extract_features(
        table, upstream, cache=FeatureCache(root=cache_root(config), identity=upstream.identity()),
        audio_options=config.data.audio.options(), progress=False, level="pooled",
    )  # fmt: skip
    arrays = np.stack(extraction.arrays).astype(np.float64)  # (N, L + 1, 2, D)
    labels = pd.Categorical(table["emotion"]).codes.astype(int)
    return arrays[:, :, 0], table["speaker"].astype(str).to_numpy(), labels


def centred(features: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    out = features.copy()
    for speaker in np.unique(speakers):
        out[speakers == speaker] -= features[speakers == speaker].mean(0)
    return out


def mix_then_standardise(features: np.ndarray, labels: np.ndarray, train: np.ndarray,
                         test: np.ndarray, steps: int = 120) -> float:  # fmt: skip
    """The trained model's structure, fitted full batch as the probe is: softmax layer mix,
    per-feature standardisation (training statistics), linear; AdamW 1e-2, weight decay
    1e-3 on the linear layer."""
    torch.manual_seed(0)
    inputs = torch.tensor(features, dtype=torch.float32)
    logits = torch.zeros(features.shape[1], requires_grad=True)
    classes = int(labels.max()) + 1
    linear = torch.nn.Linear(features.shape[2], classes)
    counts = torch.tensor(np.bincount(labels[train], minlength=classes), dtype=torch.float32)
    weights = counts.sum() / (classes * counts)
    optimizer = torch.optim.AdamW([{"params": [logits], "weight_decay": 0.0},
                                   {"params": linear.parameters(), "weight_decay": 1e-3}],
                                  lr=1e-2)  # fmt: skip
    targets = torch.tensor(labels, dtype=torch.long)

    def mixed(rows: np.ndarray) -> torch.Tensor:
        return (inputs[rows] * torch.softmax(logits, 0)[None, :, None]).sum(1)

    for _ in range(steps):
        values = mixed(train)
        scaled = (values - values.mean(0)) / (values.std(0) + 1e-5)
        loss = torch.nn.functional.cross_entropy(linear(scaled), targets[train], weight=weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        values = mixed(train)
        scaled = (mixed(test) - values.mean(0)) / (values.std(0) + 1e-5)
        return uar(labels[test], linear(scaled).argmax(1).numpy(), classes)


def main() -> None:
    means, speakers, labels = pooled_means()
    centre = centred(means, speakers)
    results: dict[str, list[float]] = {}
    for name, features in {"probe_speaker_zscore": speaker_standardize(means, speakers),
                           "probe_speaker_mean_removed": centre}.items():  # fmt: skip
        results[name] = []
        for fold in FOLDS:
            train, test = speakers != fold, speakers == fold
            scaler = Standardizer().fit(features[train])
            head = LayerSumHead(weight_decay=1e-3).fit(scaler.transform(features[train]),
                                                       labels[train])  # fmt: skip
            results[name].append(uar(labels[test], head.predict(scaler.transform(features[test])),
                                     int(labels.max()) + 1))  # fmt: skip
    scales = {"raw_mix": 1.0, "mean_std_then_mix": centre.std(0),
              "layer_rms_then_mix": np.sqrt((centre**2).mean((0, 2)))[:, None]}  # fmt: skip
    for name, scale in scales.items():
        results[name] = [
            mix_then_standardise(centre / scale, labels, np.where(speakers != fold)[0],
                                 np.where(speakers == fold)[0])
            for fold in FOLDS
        ]  # fmt: skip
    summary = {
        name: {"folds": dict(zip(FOLDS, map(float, values))), "mean": float(np.mean(values))}
        for name, values in results.items()
    }
    OUT.write_text(json.dumps(summary, indent=1) + "\n")
    for name, value in summary.items():
        print(f"{name}: {value['mean']:.4f} {value['folds']}")


if __name__ == "__main__":
    main()
