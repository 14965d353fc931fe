"""``emotransfer fewshot``: the MetaSER comparison as a study.

Meta-learning (MAML) vs multitask vs transfer learning (pre-train + fine-tune) vs training
on the K clips alone, adapting to an unseen target corpus (a new language) with K labelled
clips per class, for every K in ``fewshot.shots``, repeated over support/query draws with a
t-interval. Features: the experiment's upstream and hidden state, pooled, standardised per
corpus without labels (for the target from its unlabelled clips). A method named
``<method>_layers`` (e.g. ``transfer_layers``) sees every hidden state and adapts on the one
that cross-validates best on the K support clips (``SupportLayerChoice``; the configured
state when K = 1). Writes ``fewshot.json``,
``fewshot.csv`` and ``fewshot.png`` (UAR vs K per method).
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emotransfer import registry
from emotransfer.models.fewshot_evaluation import few_shot_evaluation
from emotransfer.models.normalize import speaker_standardize
from emotransfer.models.support_layer import SupportLayerChoice

if TYPE_CHECKING:
    from emotransfer.config import ExperimentConfig


def build_method(
    name: str, *, ways: int, hidden: int, meta_steps: int, seed: int, shots: int = 5,
    queries: int = 5, fallback_layer: int = -1,
) -> Any:  # fmt: skip
    """A few-shot learner by registered name (``registry.build("fewshot", name)``; see
    :class:`~emotransfer.config.FewShotConfig`); ``<name>_layers`` chooses the hidden state on
    the support set (``fallback_layer`` at K=1).

    Each study setting goes to the methods whose constructor takes it: ``hidden`` and
    ``seed`` to all, the episode settings (``ways``, ``meta_steps``, ``shots``, ``queries``)
    to the MAML family; the rest keep the method's defaults.
    """
    if name.endswith("_layers"):
        base = build_method(name.removesuffix("_layers"), ways=ways, hidden=hidden,
                            meta_steps=meta_steps, seed=seed, shots=shots,
                            queries=queries)  # fmt: skip
        return SupportLayerChoice(method=base, fallback_layer=fallback_layer)
    if name not in registry.names("fewshot"):
        raise ValueError(f"fewshot.methods: unknown method {name!r}; known: "
                         f"{registry.names('fewshot')}, each also as <name>_layers")  # fmt: skip
    settings = {"ways": ways, "hidden": hidden, "meta_steps": meta_steps, "shots": shots,
                "queries": queries, "seed": seed}  # fmt: skip
    accepted = inspect.signature(registry.resolve("fewshot", name)).parameters
    params = {key: value for key, value in settings.items() if key in accepted}
    return registry.build("fewshot", name, **params)


def run_fewshot(config: ExperimentConfig, *, progress: bool = True) -> tuple[Path, dict[str, Any]]:
    """Write ``<output_dir>/<name>/fewshot/`` for ``config.fewshot``."""
    from emotransfer.io import write_json, write_text
    from emotransfer.prepare import layer_features, prepare_manifest, result_folder
    from emotransfer.reporting.plots import save_figure

    study = config.fewshot
    if study is None:
        raise ValueError("emotransfer fewshot needs a fewshot section (target, shots, methods)")
    began = time.perf_counter()
    folder = result_folder(config, Path(config.output_dir) / config.name / "fewshot")
    table, labels_info, skipped = prepare_manifest(config)
    features, table, _ = layer_features(config, table, skipped, progress=progress)
    corpora = table["corpus"].astype(str).to_numpy()
    if study.target not in set(corpora):
        raise ValueError(f"fewshot.target {study.target!r} is not loaded; have "
                         f"{sorted(set(corpora))}")  # fmt: skip
    if len(set(corpora)) < 2:
        raise ValueError("fewshot needs source corpora besides the target")
    # Per-corpus standardisation of every state, no labels.
    features = speaker_standardize(features, corpora).astype(features.dtype)
    classes = sorted(table["emotion"].unique())
    labels = table["emotion"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    source, target = corpora != study.target, corpora == study.target
    if study.tasks == "corpus":
        tasks = corpora[source]
    else:
        tasks = (table["corpus"].astype(str) + "/" + table["speaker"].astype(str)).to_numpy()
        tasks = tasks[source]
    speakers = table["speaker"].astype(str).to_numpy()[target]
    results: dict[str, Any] = {}
    rows = ["method,shots,mean_uar,ci_low,ci_high,speaker_independent"]
    layer = config.features.one_layer("fewshot")
    for name in study.methods:
        method = build_method(name, ways=len(classes), hidden=study.hidden,
                              meta_steps=study.meta_steps, seed=config.seed,
                              shots=study.episode_shots, queries=study.episode_queries,
                              fallback_layer=layer)  # fmt: skip
        inputs = features if name.endswith("_layers") else features[:, layer]
        method.meta_fit(inputs[source].astype(np.float32), labels[source], tasks)
        results[name] = {}
        for shots in study.shots:
            figures = few_shot_evaluation(
                method, inputs[target].astype(np.float32), labels[target], shots=shots,
                repeats=study.repeats, seed=config.seed,
                target_groups=speakers if study.protocol == "speaker" else None,
            )  # fmt: skip
            results[name][str(shots)] = figures
            rows.append(f"{name},{shots},{figures['mean_uar']:.4f},{figures['ci_low']},"
                        f"{figures['ci_high']},{figures['speaker_independent']}")  # fmt: skip
            if progress:
                print(f"{name:<18} K={shots:<3} UAR {figures['mean_uar']:.3f}", flush=True)
    report = {"experiment": config.name, "target": study.target, "classes": classes,
              "sources": sorted(set(corpora[source])), "tasks": study.tasks,
              "protocol": study.protocol, "layer": config.features.layer, "methods": results,
              "labels": labels_info, "skipped_files": skipped,
              "seconds": time.perf_counter() - began}  # fmt: skip
    write_json(folder / "fewshot.json", report)
    write_text(folder / "fewshot.csv", "\n".join(rows) + "\n")
    save_figure(fewshot_figure(results, study.target), folder / "fewshot.png")
    return folder, report


def fewshot_figure(results: dict[str, dict[str, dict[str, Any]]], target: str) -> Any:
    """UAR vs K per method, with the t-interval as error bars."""
    from emotransfer.reporting.plots import _new_figure

    figure, axes = _new_figure(6.0, 3.8)
    for name, rows in results.items():
        shots = [int(k) for k in rows]
        mean = np.array([rows[k]["mean_uar"] for k in rows])
        low = np.array([rows[k]["ci_low"] if rows[k]["ci_low"] is not None else rows[k][
            "mean_uar"] for k in rows])  # fmt: skip
        high = np.array([rows[k]["ci_high"] if rows[k]["ci_high"] is not None else rows[k][
            "mean_uar"] for k in rows])  # fmt: skip
        axes.errorbar(shots, mean, yerr=[mean - low, high - mean], marker="o", capsize=3,
                      label=name)  # fmt: skip
    axes.set_xscale("log")
    ticks = sorted({int(k) for rows in results.values() for k in rows})
    axes.set_xticks(ticks, labels=[str(k) for k in ticks])
    axes.minorticks_off()
    axes.set_xlabel("labelled clips per class (K)")
    axes.set_ylabel("UAR")
    axes.set_title(f"Few-shot adaptation to {target}")
    axes.legend(fontsize=8)
    return figure
