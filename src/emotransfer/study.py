"""Studies: one base experiment run under several named variants, compared in one table.

Example study file (paths relative to the working directory)::

    name: task_similarity
    base: configs/emodb_loso.yaml          # or `config:` with an inline experiment
    overrides: [features.normalization=speaker]
    variants:
      asr_whisper: [features.upstream=hf, "features.params={model: ../shared/models/whisper}"]
      speaker_resemblyzer: [features.upstream=resemblyzer]
      no_pretraining: [features.upstream=hf, "features.params={model: ..., random_init: true}"]

``emotransfer study STUDY.yaml`` runs every variant (each a normal run folder, resumable)
and writes ``<output_dir>/<name>/study.json``, ``study.csv`` and ``study.png``. When the
variants share their test clips, study.json also compares each with the first one
(``analysis.compare``: paired UAR difference with its interval, McNemar, ensemble, oracle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from emotransfer.config import RUN_NAME, ConfigError, apply_override
from emotransfer.experiment import run
from emotransfer.safe_yaml import YAMLLimitError, load_yaml


def load_study(path: str | Path) -> dict[str, Any]:
    """Read and check a study file."""
    try:
        study = load_yaml(Path(path).read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, YAMLLimitError) as error:
        raise ConfigError(f"{path}: cannot read study: {error}") from error
    if not isinstance(study, dict):
        raise ConfigError(f"{path}: a study must be a mapping, got {type(study).__name__}")
    unknown = set(study) - {"name", "base", "config", "overrides", "variants"}
    if unknown:
        raise ConfigError(f"{path}: unknown study key(s) {sorted(unknown)}")
    if not isinstance(study.get("variants"), dict) or not study["variants"]:
        raise ConfigError(f"{path}: 'variants' must map names to lists of overrides")
    return study


def run_study(
    path: str | Path, *, overrides: list[str] | tuple[str, ...] = (), progress: bool = True
) -> tuple[Path, list[dict[str, Any]]]:
    """Run every variant; returns the study folder and one summary row per variant."""
    from emotransfer.config import ExperimentConfig
    from emotransfer.io import write_json, write_text
    from emotransfer.reporting.plots import save_figure
    from emotransfer.reporting.study import study_figure

    study = load_study(path)
    name = str(study.get("name", Path(path).stem))
    if not RUN_NAME.fullmatch(name):
        raise ConfigError(f"{path}: name {name!r} is not a plain name (it names a folder)")
    base: dict[str, Any] = dict(study.get("config") or {})
    if study.get("base"):
        try:
            base = load_yaml(Path(study["base"]).read_text()) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError, YAMLLimitError) as error:
            raise ConfigError(f"{path}: base {study['base']}: cannot read: {error}") from error
        if not isinstance(base, dict):
            raise ConfigError(f"{path}: base {study['base']} is not a mapping")
    rows = []
    folder: Path | None = None
    for variant, changes in study["variants"].items():
        raw = yaml.safe_load(yaml.safe_dump(base))
        for override in [*study.get("overrides", []), *(changes or []), *overrides]:
            apply_override(raw, override)
        # Each variant runs in <output_dir>/<study>/<variant>: a plain run name in the
        # study's folder.
        raw["name"] = str(variant)
        raw["output_dir"] = str(Path(raw.get("output_dir", "runs")) / name)
        try:
            config = ExperimentConfig.model_validate(raw)
        except Exception as error:
            raise ConfigError(f"study {name}, variant {variant}: {error}") from error
        folder = Path(config.output_dir)
        result = run(config, progress=progress)
        summary = result.metrics["summary"]
        rows.append({"variant": variant, "uar": summary["uar"]["value"],
                     "ci_low": summary["uar"]["ci_low"], "ci_high": summary["uar"]["ci_high"],
                     "wa": summary["wa"]["value"], "macro_f1": summary["macro_f1"]["value"],
                     "run_dir": str(result.run_dir),
                     "seconds": result.metrics["timing"]["total_s"]})  # fmt: skip
    assert folder is not None
    evaluation = config.evaluation  # the intervals are set like the runs' own
    comparison = _paired(rows, bootstrap=evaluation.bootstrap,
                         confidence=evaluation.confidence, seed=config.seed)  # fmt: skip
    saved = {"name": name, "variants": rows, "comparison": comparison, "study": study}
    write_json(folder / "study.json", saved)
    lines = ["variant,uar,ci_low,ci_high,wa,macro_f1"] + [
        f"{r['variant']},{r['uar']:.4f},{r['ci_low']},{r['ci_high']},{r['wa']:.4f},"
        f"{r['macro_f1']:.4f}" for r in rows
    ]  # fmt: skip
    write_text(folder / "study.csv", "\n".join(lines) + "\n")
    save_figure(study_figure(rows, title=name), folder / "study.png")
    return folder, rows


def _paired(rows: list[dict[str, Any]], **settings: Any) -> dict[str, Any] | None:
    """Every variant against the first on the same clips (``analysis.compare``); each row gets
    its paired UAR difference and McNemar p. With one variant, None; when the variants were
    tested on different clips (e.g. different corpora), where a paired comparison does not
    apply, ``{"skipped": reason}``."""
    from emotransfer.analysis.compare import compare

    if len(rows) < 2:
        return None
    try:
        report = compare([row["run_dir"] for row in rows],
                         names=[row["variant"] for row in rows], **settings)  # fmt: skip
    except ValueError as error:
        return {"skipped": str(error)}
    for row, pair in zip(rows[1:], report["pairs"]):
        row["vs_first"] = pair["uar_difference"]
        row["mcnemar_p"] = pair["mcnemar"]["p_value"]
    return report
