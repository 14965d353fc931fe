"""Command line: ``emotransfer run | finetune | predict | probe | analyze | transcribe | serve |
corpora | demo`` (and more: ``emotransfer --help``).

Example:
    >>> main(["corpora"])  # doctest: +ELLIPSIS
    audformat ...
    0
"""

from __future__ import annotations

import argparse
import logging
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from emotransfer import cli_features, cli_predict, cli_reports, cli_transcribe, registry
from emotransfer.run_lock import RunFolderBusy

if TYPE_CHECKING:
    from emotransfer.config import ExperimentConfig


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except (ValueError, OSError, KeyError, ImportError, TypeError, RunFolderBusy) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"emotransfer: error: {message}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emotransfer", description="Transfer learning for "
                                     "speech and music emotion.")  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run an experiment from a YAML config")
    run.add_argument("config", help="experiment YAML")
    _config_options(run)
    _run_options(run)
    run.set_defaults(handler=_run)
    extract = commands.add_parser(
        "extract", help="fill a config's feature cache (sharded under torchrun / accelerate)"
    )
    extract.add_argument("config", help="experiment YAML")
    _config_options(extract)
    extract.set_defaults(handler=_extract)
    probe = commands.add_parser("probe", help="probe every layer of the upstream")
    probe.add_argument("config", help="experiment YAML")
    _config_options(probe)
    probe.add_argument("--probe", default=None,
                       help="probe head (ridge, logreg, svm; default: the config's head.name "
                       "when it sets one, else ridge)")  # fmt: skip
    probe.add_argument("--no-weighted-sum", action="store_true")
    probe.set_defaults(handler=_probe)
    finetune = commands.add_parser("finetune", help="run an experiment that trains the encoder")
    finetune.add_argument("config", help="experiment YAML with a finetune section")
    _config_options(finetune)
    _run_options(finetune)
    finetune.set_defaults(handler=_finetune)
    pretrain = commands.add_parser("pretrain", help="train the encoder on a source task "
                                   "(speaker, gender, ...), export it")  # fmt: skip
    pretrain.add_argument("config", help="YAML config with a finetune section")
    _config_options(pretrain)
    pretrain.set_defaults(handler=_pretrain)
    predict = commands.add_parser("predict", help="class probabilities for audio files")
    predict.add_argument("run_dir", help="a trained run folder")
    predict.add_argument("files", nargs="+", help="audio files")
    predict.add_argument(
        "--plugin", action="append", default=[], metavar="MODULE:CLASS",
        help="allow model.json to name this out-of-tree component class (repeatable)",
    )  # fmt: skip
    predict.add_argument("--trust-remote-code", action="store_true",
                         help="let the upstream run a hub model's own code")  # fmt: skip
    predict.add_argument("--folds", action="store_true", help="the fold models, not the refit")
    predict.add_argument("--enrolled", metavar="SPEAKER.safetensors",
                         help="every file is this speaker (emotransfer enroll)")  # fmt: skip
    for name, what in (("text", "TEXT"), ("video", "FRAMES_FILE")):
        predict.add_argument(f"--{name}", action="append", metavar=what,
                             help=f"a run with a {name} input: one per file, in order")  # fmt: skip
    predict.add_argument("--speaker", action="append", metavar="NAME",
                         help="each file's speaker (one per file, or one for all)")  # fmt: skip
    predict.add_argument("--long", action="store_true",
                         help="a recording of any length: one row per window")  # fmt: skip
    predict.add_argument("--window", type=float, default=2.0, help="--long: window, seconds")
    predict.add_argument("--hop", type=float, default=1.0, help="--long: hop, seconds")
    predict.add_argument("--events", metavar="CLASS,...",
                         help="--long: the events of these classes, not the windows")  # fmt: skip
    predict.add_argument("--threshold", type=float, default=0.5, help="--events: probability")
    predict.add_argument("--vad", nargs="?", const="webrtc", choices=["webrtc", "silero"],
                         help="--long: voiced stretches only, by WebRTC's detector (default) "
                         "or Silero's neural one")  # fmt: skip
    predict.add_argument("--smooth", type=int, default=1, help="--long: windows averaged (odd)")
    predict.add_argument("--summary", action="store_true",
                         help="--long: one row per file, duration-weighted")  # fmt: skip
    predict.add_argument("--out", metavar="FILE.csv|FILE.json",
                         help="write the rows there (JSON: full precision)")  # fmt: skip
    predict.add_argument(
        "--backend",
        choices=["torch", "onnx"],
        default="torch",
        help="onnx: the run's export in onnxruntime (emotransfer export)",
    )
    predict.set_defaults(handler=cli_predict.predict)
    export = commands.add_parser("export", help="a run's servable model as ONNX")
    export.add_argument("run_dir", help="a trained run folder")
    export.add_argument("--format", choices=["onnx"], default="onnx")
    export.add_argument("--out", help="folder for model.onnx and onnx.json (default RUN/onnx)")
    export.add_argument("--folds", action="store_true", help="the fold models, not the refit")
    export.add_argument("--plugin", action="append", default=[], metavar="MODULE:CLASS")
    export.add_argument("--trust-remote-code", action="store_true",
                        help="let the upstream run a hub model's own code")  # fmt: skip
    export.set_defaults(handler=cli_predict.export)
    analyze = commands.add_parser("analyze", help="analyses: fad, adaptation, compare")
    analyses = analyze.add_subparsers(dest="analysis", required=True)
    fad = analyses.add_parser("fad", help="Fréchet Audio Distance between sets, per emotion")
    fad.add_argument("config", help="experiment YAML naming the corpora and the upstream")
    _config_options(fad)
    fad.add_argument("--by", default="corpus", help="manifest column whose values are the sets")
    fad.add_argument("--layer", type=int, default=-1, help="hidden state (default: last)")
    fad.add_argument("--unit", choices=["frames", "clips"], default="frames")
    fad.add_argument("--music-map", default="q1=happiness,q2=anger,q3=sadness,q4=calm",
                     help="how music quadrants read as emotions")  # fmt: skip
    fad.set_defaults(handler=_fad)
    adaptation = analyses.add_parser("adaptation", help="which layers changed in fine-tuning")
    adaptation.add_argument("run_dir", help="a fine-tuning run folder")
    adaptation.add_argument("--fold", help="fold folder name (default: the first)")
    adaptation.add_argument("--max-files", type=int, default=100)
    adaptation.add_argument("--pooling", choices=["mean", "frames"], default="mean")
    adaptation.add_argument(
        "--reference",
        choices=["pretrained", "source"],
        default="pretrained",
        help="before = the pretrained or (two-stage) the stage-1 encoder",
    )
    adaptation.set_defaults(handler=cli_reports.adaptation)
    compare = analyses.add_parser(
        "compare", help="systems on the same clips: paired differences, ensemble, oracle"
    )
    compare.add_argument(
        "systems", nargs="+", help="run folders or predictions CSVs (first: reference)"
    )
    compare.add_argument("--names", nargs="+", help="one name per system")
    compare.add_argument("--unit", choices=["clip", "speaker"], default="clip",
                         help="what every bootstrap interval resamples")  # fmt: skip
    compare.add_argument("--bootstrap", type=int, default=1000)
    compare.add_argument("--seed", type=int, default=0)
    compare.add_argument("--out", help="write the report as JSON here")
    compare.set_defaults(handler=cli_reports.compare)
    study = commands.add_parser("study", help="run named variants of one experiment, compare")
    study.add_argument("study", help="study YAML (base config + variants)")
    _config_options(study)
    study.set_defaults(handler=cli_reports.study)
    corrupt = commands.add_parser("corrupt", help="write a corrupted copy of a corpus")
    corrupt.add_argument("--corpus", default="csv", help="adapter name (default: csv)")
    corrupt.add_argument("--root", required=True, help="corpus folder")
    corrupt.add_argument("--spec", required=True,
                         help="corruption as YAML, e.g. '{name: noise, snr_db: 5}'")  # fmt: skip
    corrupt.add_argument("--out", required=True, help="output folder (a csv corpus)")
    corrupt.add_argument("--condition", default="corrupted", help="value of its condition column")
    corrupt.add_argument("--seed", type=int, default=0)
    corrupt.set_defaults(handler=_corrupt)
    cross = commands.add_parser("crosscorpus", help="train-on-each x test-on-each matrix")
    cross.add_argument("config", help="experiment YAML with two or more corpora")
    _config_options(cross)
    cross.set_defaults(handler=_crosscorpus)
    fewshot = commands.add_parser(
        "fewshot", help="MAML vs multitask vs transfer with K clips of a new corpus"
    )
    fewshot.add_argument("config", help="experiment YAML with a fewshot section")
    _config_options(fewshot)
    fewshot.set_defaults(handler=_fewshot)
    transcribe = commands.add_parser("transcribe", help="ASR transcripts of a config's clips "
                                     "(data.asr, faster-whisper), cached")  # fmt: skip
    transcribe.add_argument("config", help="experiment YAML with a data.asr section")
    _config_options(transcribe)
    transcribe.add_argument("--out", help="write the CSV here (default: standard output)")
    transcribe.set_defaults(handler=lambda args: cli_transcribe.transcribe(args, _config(args)))
    enroll = commands.add_parser("enroll", help="a speaker's statistics, for predict --enrolled")
    enroll.add_argument("run_dir", help="a per-speaker normalised frozen-feature run")
    enroll.add_argument("files", nargs="+", help="two or more clips of the speaker")
    enroll.add_argument("--out", required=True, help="the enrolment file (.safetensors)")
    enroll.set_defaults(handler=cli_predict.enroll)
    serve = commands.add_parser("serve", help="an HTTP service for trained runs (FastAPI)")
    serve.add_argument("runs", nargs="+", help="run folders to serve")
    serve.add_argument("--host", default="127.0.0.1", help="address (default: this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--max-upload-mb", type=float, default=20.0)
    serve.add_argument("--max-seconds", type=float, default=60.0, help="longest clip (/predict)")
    serve.add_argument("--plugin", action="append", default=[], metavar="MODULE:CLASS")
    serve.set_defaults(handler=_serve)
    corpora = commands.add_parser("corpora", help="list the corpus adapters")
    corpora.set_defaults(handler=_corpora)
    demo = commands.add_parser("demo", help="full experiment on a generated corpus, offline")
    _config_options(demo)
    demo.set_defaults(handler=_demo)
    return parser


def _config_options(parser: argparse.ArgumentParser) -> None:
    """``-o KEY=VALUE`` overrides and ``--quiet``, shared by the commands that read a config."""
    parser.add_argument(
        "-o", "--override", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, e.g. -o split.kind=loso (repeatable)",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--plugin", action="append", default=[], metavar="MODULE:CLASS",
        help="allow this out-of-tree component class to be imported (repeatable)",
    )  # fmt: skip


def _config(args: argparse.Namespace, *,
            extra: tuple[str, ...] | list[str] = ()) -> ExperimentConfig:  # fmt: skip
    """The config of ``args`` with its overrides; ``--plugin`` adds to its ``plugins``."""
    from emotransfer.config import load_config

    registry.check_plugins(args.plugin)
    return load_config(args.config, overrides=[*args.override, *extra], plugins=args.plugin)


def _run_options(parser: argparse.ArgumentParser) -> None:
    """``--run-dir`` and ``--resume``, shared by the commands that write a run folder."""
    parser.add_argument("--run-dir", help="run folder (default: output_dir/name)")
    parser.add_argument(
        "--resume", action="store_true",
        help="continue a killed run; refuse unless the run folder holds this config and data",
    )  # fmt: skip
    parser.add_argument(
        "--force", action="store_true",
        help="recompute a run folder that holds another config or other data (replaces it)",
    )  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    config = _config(args)
    return _execute(config, args.run_dir, not args.quiet, resume=args.resume, force=args.force)


def _extract(args: argparse.Namespace) -> int:
    return cli_features.extract(_config(args), quiet=args.quiet)


def _probe(args: argparse.Namespace) -> int:
    return cli_features.probe(_config(args), probe=args.probe, quiet=args.quiet,
                              weighted_sum=not args.no_weighted_sum)  # fmt: skip


def _fad(args: argparse.Namespace) -> int:
    return cli_features.fad(_config(args), by=args.by, layer=args.layer, unit=args.unit,
                            music_map=args.music_map, quiet=args.quiet)  # fmt: skip


def _finetune(args: argparse.Namespace) -> int:

    config = _config(args)
    if config.finetune is None:
        config = _config(args, extra=["finetune={}"])
    return _execute(config, args.run_dir, not args.quiet, resume=args.resume, force=args.force)


def _pretrain(args: argparse.Namespace) -> int:
    from emotransfer.experiment import pretrain

    config = _config(args)
    if config.finetune is None:
        config = _config(args, extra=["finetune={}"])
    print(f"encoder folder: {pretrain(config, progress=not args.quiet)}")
    return 0


def _corrupt(args: argparse.Namespace) -> int:
    import yaml

    from emotransfer.data.corrupt_corpus import corrupt_corpus
    from emotransfer.safe_yaml import load_yaml

    try:
        spec = load_yaml(args.spec, key="--spec")
    except yaml.YAMLError as error:
        raise ValueError(f"--spec: not YAML: {error}") from None
    table = registry.build("corpus", args.corpus, root=args.root).load()
    copy = corrupt_corpus(table, spec, out_dir=args.out, seed=args.seed,
                          condition=args.condition)  # fmt: skip
    print(f"wrote {len(copy)} files and {args.out}/metadata.csv (load it with the csv adapter)")
    return 0


def _crosscorpus(args: argparse.Namespace) -> int:
    from emotransfer.analysis.crosscorpus import run_crosscorpus

    config = _config(args)
    folder, result = run_crosscorpus(config, progress=not args.quiet)
    names = result["corpora"]
    print("train \\ test  " + "  ".join(f"{n:>10}" for n in names))
    for name, row in zip(names, result["matrix"]):
        print(f"{name:<13} " + "  ".join(f"{cell['uar']:>10.3f}" for cell in row))
    for cell in result["leave_one_corpus_out"]:
        print(f"leave {cell['test']} out: UAR {cell['uar']:.3f} "
              f"[{cell['ci_low']:.3f}, {cell['ci_high']:.3f}]")  # fmt: skip
    print(f"crosscorpus folder: {folder}")
    return 0


def _fewshot(args: argparse.Namespace) -> int:
    from emotransfer.analysis.fewshot import run_fewshot

    config = _config(args)
    folder, report = run_fewshot(config, progress=not args.quiet)
    for name, rows in report["methods"].items():
        cells = "  ".join(f"K={k} {v['mean_uar']:.3f}" for k, v in rows.items())
        print(f"{name:<18} {cells}")
    print(f"fewshot folder: {folder}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from emotransfer.config import load_config

    with resources.as_file(resources.files("emotransfer") / "configs" / "demo.yaml") as path:
        config = load_config(path, overrides=args.override)
    return _execute(config, None, not args.quiet)


def _execute(config: ExperimentConfig, run_dir: str | None, progress: bool, *,
             resume: bool = False, force: bool = False) -> int:  # fmt: skip
    from emotransfer.experiment import run

    # A run started again continues from its folds and checkpoints, or run() says what changed.
    logging.getLogger("emotransfer").setLevel(logging.INFO)
    result = run(config, run_dir=run_dir, progress=progress, resume=resume, force=force)
    summary = result.metrics["summary"]
    line = "  ".join(f"{name.upper()} {v['value']:.3f}" + (
        f" [{v['ci_low']:.3f}, {v['ci_high']:.3f}]" if v["ci_low"] is not None else "")
        for name, v in summary.items())  # fmt: skip
    print(f"{config.name}: {line}")
    print(f"run folder: {result.run_dir}\nreport: {Path(result.run_dir) / 'report.html'}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from emotransfer.serving.app import serve

    registry.check_plugins(args.plugin)
    serve(args.runs, host=args.host, port=args.port, max_upload_mb=args.max_upload_mb,
          max_seconds=args.max_seconds, plugins=tuple(args.plugin))  # fmt: skip
    return 0


def _corpora(args: argparse.Namespace) -> int:
    for name in registry.names("corpus"):
        print(f"{name:<12} {registry.summary('corpus', name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
