"""What the feature commands print: ``extract``, ``probe`` and ``analyze fad`` (the
handlers :mod:`emotransfer.cli` dispatches to with the config it read; each returns the exit
status)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emotransfer.config import ExperimentConfig


def extract(config: ExperimentConfig, *, quiet: bool) -> int:
    from emotransfer.extraction import extract as extract_corpus

    report = extract_corpus(config, progress=not quiet)
    if report is not None:  # rank 0
        print(f"{report.clips} clips in the cache ({report.states} hidden states x "
              f"{report.width} pooled values), {len(report.skipped)} skipped, "
              f"{report.processes} process(es), {report.seconds} s")  # fmt: skip
        for problem in report.skipped[:10]:
            print(f"  skipped {problem['file']}: {problem['problem']}")
    return 0


def probe(config: ExperimentConfig, *, probe: str | None, quiet: bool, weighted_sum: bool) -> int:
    from emotransfer.analysis.probing import run_probe, serve_chosen_layer, serve_weighted_sum

    if probe is None:  # the config's head, when it names one
        probe = config.head.name if "name" in config.head.model_fields_set else "ridge"
    print(f"probe head: {probe} (each layer's head, tuned on inner folds)")
    folder, result = run_probe(config, probe=probe, weighted_sum=weighted_sum,
                               progress=not quiet)  # fmt: skip
    for row in result.layers:
        print(f"layer {row['layer']:>2}: UAR {row['uar']:.3f} [{row['ci_low']:.3f}, "
              f"{row['ci_high']:.3f}]")  # fmt: skip
    chosen = result.selected
    print(f"layer chosen on inner folds: UAR {chosen['uar']:.3f} "
          f"(layers {sorted(set(chosen['layers_chosen'].values()))})")  # fmt: skip
    served = serve_chosen_layer(config, result, folder, probe=probe)
    print(f"probe folder: {folder}\nthe chosen layer as a predictable run: {served}")
    if result.weighted_sum:
        weights = " ".join(f"{w:.2f}" for w in result.weighted_sum["layer_weights"])
        print(
            f"weighted layer sum: UAR {result.weighted_sum['uar']:.3f} (weights {weights})\n"
            f"the weighted sum as a predictable run: {serve_weighted_sum(config, folder)}"
        )
    return 0


def fad(config: ExperimentConfig, *, by: str, layer: int | None, unit: str, music_map: str,
        quiet: bool) -> int:  # fmt: skip
    from emotransfer.analysis.fad_study import run_fad

    pairs = [item.split("=", 1) for item in music_map.split(",") if item]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"--music-map {music_map!r}: use q1=happiness,q2=anger,...")
    folder, result = run_fad(config, by=by, layer=layer, unit=unit, music_map=dict(pairs),
                             progress=not quiet)  # fmt: skip
    for pair in result["pairs"]:
        print(f"FAD {pair['a']} vs {pair['b']}: {pair['fad']:.3f}")
        for first, second, views in ((pair["a"], pair["b"], pair["bias"]),
                                     (pair["b"], pair["a"], pair["bias_reverse"])):  # fmt: skip
            for view in views:
                print(f"  {first} {view['emotion']:<10} closest {second} {view['closest']}"
                      f" (as {view['closest_as']}) FAD {view['fad']:.3f}")  # fmt: skip
    print(f"fad folder: {folder}")
    return 0
