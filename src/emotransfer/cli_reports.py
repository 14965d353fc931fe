"""What the analysis commands print: ``analyze adaptation``, ``analyze compare`` and ``study``
(the handlers :mod:`emotransfer.cli` dispatches to; each returns the exit status)."""

from __future__ import annotations

import argparse


def adaptation(args: argparse.Namespace) -> int:
    from emotransfer.analysis.adaptation_study import run_adaptation

    folder, report = run_adaptation(args.run_dir, fold=args.fold, max_files=args.max_files,
                                    pooling=args.pooling, reference=args.reference)  # fmt: skip
    for row in report["layers"]:
        change = row["weight_change"]
        shown = "-" if change is None else f"{change:.4f}"
        print(f"hidden state {row['layer']:>2}: CKA {row['cka']:.4f}  weight change {shown}")
    print(f"adaptation folder: {folder}")
    return 0


def compare(args: argparse.Namespace) -> int:
    from emotransfer.analysis.compare import compare as compare_systems
    from emotransfer.io import write_json

    report = compare_systems(args.systems, names=args.names, unit=args.unit,
                             bootstrap=args.bootstrap, seed=args.seed)  # fmt: skip
    print(f"{report['clips']} clips, {len(report['classes'])} classes, bootstrap over {args.unit}s")
    rows = [*report["systems"], *([{"name": "ensemble", **report["ensemble"]}]
                                  if report["ensemble"] else []),  # fmt: skip
            {"name": "oracle", **report["oracle"]}]  # fmt: skip
    for row in rows:
        print(f"{row['name']:<24} UAR {interval(row['uar'])}  errors {row['errors']}")
    for pair in report["pairs"]:
        test = pair["mcnemar"]
        print(f"{pair['system']} - {pair['reference']}: "
              f"{interval(pair['uar_difference'], signed=True)}  McNemar p {test['p_value']:.3f}"
              f" (only right: {test['only_right']}, both wrong {test['both_wrong']})")  # fmt: skip
    print(f"wrong in every system: {report['all_wrong']}")
    if args.out:
        write_json(args.out, report)
        print(f"report: {args.out}")
    return 0


def interval(value: dict, *, signed: bool = False) -> str:
    sign = "+" if signed else ""
    if value["ci_low"] is None:
        return f"{value['value']:{sign}.3f}"
    return f"{value['value']:{sign}.3f} [{value['ci_low']:{sign}.3f}, {value['ci_high']:{sign}.3f}]"


def study(args: argparse.Namespace) -> int:
    from emotransfer.study import run_study

    folder, rows = run_study(args.study, overrides=args.override, progress=not args.quiet)
    for row in rows:
        uar = interval({"value": row["uar"], "ci_low": row["ci_low"], "ci_high": row["ci_high"]})
        paired = ""
        if "vs_first" in row:
            paired = (f"  vs {rows[0]['variant']}: {interval(row['vs_first'], signed=True)}"
                      f" (McNemar p {row['mcnemar_p']:.3f})")  # fmt: skip
        print(f"{row['variant']:<24} UAR {uar}{paired}")
    print(f"study folder: {folder}")
    return 0
