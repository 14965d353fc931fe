"""``emotransfer predict``: class probabilities for clips, windows of long recordings, or the
events they show, as CSV on standard output or in ``--out`` (``.csv`` or ``.json``).

Bad files are named on standard error (the others are still predicted); the exit status is
1 when any file was bad.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emotransfer import registry

if TYPE_CHECKING:  # pandas loads on use: `emotransfer --help` stays fast
    import pandas as pd


def predict(args: argparse.Namespace) -> int:
    from emotransfer.inference import Predictor

    registry.check_plugins(args.plugin)
    if args.out is not None and Path(args.out).suffix.lower() not in (".csv", ".json"):
        raise ValueError(f"--out {args.out}: name a .csv or .json file")
    predictor = Predictor.from_run(args.run_dir, plugins=args.plugin, folds=args.folds,
                                   trust_remote_code=args.trust_remote_code,
                                   backend=args.backend)  # fmt: skip
    if args.long or args.events or args.summary:
        table, problems = long_table(predictor, args)
    else:
        table, problems = clip_table(predictor, args)
    write(table, args.out)
    for problem in problems:
        print(f"emotransfer: {problem['file']}: {problem['problem']}", file=sys.stderr)
    return 1 if problems else 0


def export(args: argparse.Namespace) -> int:
    """``emotransfer export RUN --format onnx``: write the graph, say where and how close."""
    from emotransfer.inference.onnx_export import export_onnx

    registry.check_plugins(args.plugin)
    description = export_onnx(args.run_dir, args.out, folds=args.folds, plugins=args.plugin,
                              trust_remote_code=args.trust_remote_code)  # fmt: skip
    target = Path(args.out) if args.out else Path(args.run_dir) / "onnx"
    axes = {n: a for n, a in description["dynamic_axes"].items() if a}
    print(f"{target / 'model.onnx'}: inputs {description['inputs']} (dynamic axes {axes}), "
          f"outputs {description['outputs']}; largest probability difference to PyTorch "
          f"{description['max_abs_difference']:.1e}")  # fmt: skip
    return 0


def clip_table(predictor: Any, args: argparse.Namespace) -> tuple[pd.DataFrame, list]:
    """One row per good clip: file, predicted class, every probability. The clips of one
    declared speaker (``--speaker``, one per file or one for all) are predicted together, so
    a speaker-normalised run takes each speaker's own mean; without it each file is
    standardised with the training speakers' average (a run that kept none: every file is one
    speaker), said on standard error."""
    import pandas as pd

    inputs = {name: getattr(args, name) for name in ("text", "video") if getattr(args, name)}
    for name, items in inputs.items():
        if len(items) != len(args.files):
            raise ValueError(f"{len(items)} {name} items for {len(args.files)} files: give one "
                             "per file, in the same order")  # fmt: skip
    speakers = args.speaker or ["(all)"]
    if len(speakers) not in (1, len(args.files)):
        raise ValueError(f"{len(speakers)} --speaker for {len(args.files)} files: give one per "
                         "file, in order, or one for all")  # fmt: skip
    speakers = speakers * len(args.files) if len(speakers) == 1 else speakers
    results: list = [None] * len(args.files)
    problems: list = []
    enrolled = None
    if getattr(args, "enrolled", None):
        from emotransfer.inference.enrolment import load_enrolment

        if args.speaker:
            raise ValueError("--enrolled: every file is the enrolled speaker; drop --speaker")
        enrolled = load_enrolment(args.enrolled, args.run_dir)
    independent = args.speaker is None and predictor.clip_independent
    for speaker in dict.fromkeys(speakers):
        rows = [i for i, name in enumerate(speakers) if name == speaker]
        declared = None if args.speaker is None else [speaker] * len(rows)
        found, bad = predictor.predict_paths(
            [args.files[i] for i in rows], {k: [v[i] for i in rows] for k, v in inputs.items()},
            speakers=declared, enrolled=enrolled, values=True,
        )  # fmt: skip
        problems += bad
        for row, result in zip(rows, found):
            results[row] = result
    if args.speaker is None and enrolled is None and predictor.scorer.speaker_norm:
        said = (
            "each file was standardised with the training speakers' average statistics"
            if independent
            else f"the {len(args.files)} files were taken as one speaker"
        )
        print(f"emotransfer: this run normalises per speaker: {said} (declare each file's: "
              "--speaker)", file=sys.stderr)  # fmt: skip
    classes = predictor.classes
    rows = [{"file": path, "predicted": max(classes, key=p.get), **p}
            for path, p in zip(args.files, results) if p is not None]  # fmt: skip
    columns = ["file", "predicted", *classes, *predictor.dimensions]
    return pd.DataFrame(rows, columns=columns), problems


def long_table(predictor: Any, args: argparse.Namespace) -> tuple[pd.DataFrame, list]:
    """Per recording, one row per window, (``--events``) per event, or (``--summary``) one."""
    import pandas as pd

    from emotransfer.data.audio import AudioError
    from emotransfer.inference.timeline import events, summary

    targets = [name.strip() for name in (args.events or "").split(",") if name.strip()]
    columns = (["file", "label", "start", "end", "score"] if targets
               else ["file", "predicted", "seconds", *predictor.classes] if args.summary
               else ["file", "start", "end", "predicted", *predictor.classes])  # fmt: skip
    parts, problems = [], []
    for path in args.files:
        try:
            table = predictor.predict_long(path, window_s=args.window, hop_s=args.hop,
                                           vad=args.vad, smooth=args.smooth)  # fmt: skip
        except AudioError as error:
            problems.append({"file": path, "problem": error.problem})
            continue
        if args.summary:
            table = pd.DataFrame([summary(table)])
        elif targets:
            found = events(table, targets, threshold=args.threshold)
            table = pd.DataFrame([vars(event) for event in found], columns=columns[1:])
        parts.append(table.assign(file=path)[columns])
    return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns),
            problems)  # fmt: skip


def write(table: pd.DataFrame, out: str | None) -> None:
    """``table`` as CSV on standard output (probabilities to 4 decimals, times to 2), or in
    ``out``: ``.json`` (a list of records, full precision) or ``.csv``."""
    import pandas as pd

    if out is None:
        shown = table.copy()
        for column in shown.columns:
            if column in ("start", "end"):
                shown[column] = shown[column].map("{:.2f}".format)
            elif pd.api.types.is_float_dtype(shown[column]):
                shown[column] = shown[column].map("{:.4f}".format)
        sys.stdout.write(shown.to_csv(index=False, lineterminator="\n"))
        return
    from emotransfer.io import write_text

    path = Path(out)
    if path.suffix.lower() == ".json":
        write_text(path, json.dumps(table.to_dict("records"), indent=1) + "\n")
    else:
        write_text(path, table.to_csv(index=False))


def enroll(args: argparse.Namespace) -> int:
    """``emotransfer enroll RUN FILE ... --out SPEAKER.safetensors``: one speaker's statistics
    for later ``predict --enrolled``."""
    from emotransfer.inference import Predictor
    from emotransfer.inference.enrolment import enroll as statistics
    from emotransfer.inference.enrolment import save_enrolment

    predictor = Predictor.from_run(args.run_dir)
    save_enrolment(args.out, statistics(predictor, [predictor.load(f) for f in args.files]),
                   args.run_dir)  # fmt: skip
    print(f"enrolled {len(args.files)} clips: {args.out}")
    return 0
