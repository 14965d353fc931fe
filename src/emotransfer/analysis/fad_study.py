"""``emotransfer analyze fad``: distances between sets of clips, overall and per emotion.

The sets are the values of one manifest column (``corpus`` by default, or ``domain``, or
any extra column such as a corruption condition). Per pair of sets it reports the overall
FAD and a matrix of FAD between every emotion of one set and every emotion of the other.
For speech vs music, music quadrants are also read as emotions (q1 happiness, q2 anger,
q3 sadness, q4 calm by default) so that the emotion-bias view can say, for each speech
emotion, which music emotion sits closest.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from emotransfer.analysis.fad import Moments, frechet_distance
from emotransfer.data.labels import MUSIC_TO_SPEECH

if TYPE_CHECKING:
    from emotransfer.config import ExperimentConfig

Unit = Literal["frames", "clips"]


def group_moments(
    arrays: list[np.ndarray], table: pd.DataFrame, *, by: str, layer: int, unit: Unit
) -> dict[tuple[str, str], Moments]:
    """Moments per (set, emotion) and per (set, "*") of one hidden state.

    Args:
        arrays: per row ``(L + 1, T, D)`` frames (``unit="frames"``) or ``(L + 1, 2, D)``
            statistics whose mean is used (``unit="clips"``).
    """
    moments: dict[tuple[str, str], Moments] = {}
    for array, group, emotion in zip(arrays, table[by].astype(str), table["emotion"]):
        vectors = array[layer] if unit == "frames" else array[layer, :1]
        for key in ((group, str(emotion)), (group, "*")):
            moments.setdefault(key, Moments()).add(np.asarray(vectors, dtype=np.float64))
    return moments


def distance_tables(
    moments: dict[tuple[str, str], Moments], *, min_count: int = 2
) -> dict[str, Any]:
    """Overall FAD per pair of sets and the emotion x emotion FAD matrix of each pair."""
    sets = sorted({group for group, _ in moments})
    result: dict[str, Any] = {"sets": sets, "pairs": []}
    for first, second in itertools.combinations(sets, 2):
        rows = sorted(e for g, e in moments if g == first and e != "*")
        columns = sorted(e for g, e in moments if g == second and e != "*")
        matrix = [
            [_distance(moments[(first, r)], moments[(second, c)], min_count) for c in columns]
            for r in rows
        ]
        overall = _distance(moments[(first, "*")], moments[(second, "*")], min_count)
        result["pairs"].append({"a": first, "b": second, "fad": overall, "rows": rows,
                                "columns": columns, "matrix": matrix})  # fmt: skip
    return result


def emotion_bias(pair: dict[str, Any], music_map: dict[str, str]) -> list[dict[str, Any]]:
    """For each emotion of set ``a``: the closest emotion of set ``b`` (labels mapped)."""
    views = []
    for row, distances in zip(pair["rows"], pair["matrix"]):
        finite = [(d, c) for d, c in zip(distances, pair["columns"]) if np.isfinite(d)]
        if not finite:
            continue
        distance, closest = min(finite)
        read_as = music_map.get(closest, closest)
        views.append({"emotion": row, "closest": closest, "closest_as": read_as,
                      "fad": distance, "matches": read_as == music_map.get(row, row)})  # fmt: skip
    return views


def run_fad(
    config: ExperimentConfig,
    *,
    by: str = "corpus",
    layer: int = -1,
    unit: Unit = "frames",
    music_map: dict[str, str] | None = None,
    progress: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """Compute the FAD study for ``config``'s corpora and write ``<run>/fad/``."""
    from emotransfer.features.cache import FeatureCache
    from emotransfer.features.extract import extract_features
    from emotransfer.io import write_json
    from emotransfer.prepare import (
        BadAudioError,
        build_upstream,
        cache_root,
        prepare_manifest,
        result_folder,
    )
    from emotransfer.reporting.distances import fad_heatmap_figure
    from emotransfer.reporting.plots import save_figure

    began = time.perf_counter()
    mapping = dict(MUSIC_TO_SPEECH if music_map is None else music_map)
    folder = result_folder(config, Path(config.output_dir) / config.name / "fad")
    table, _, skipped = prepare_manifest(config)
    if by not in table:
        raise ValueError(f"analyze fad: the manifest has no column {by!r} to split sets by")
    upstream = build_upstream(config)
    audio = config.data.audio
    extraction = extract_features(
        table, upstream, cache=FeatureCache(root=cache_root(config), identity=upstream.identity()),
        audio_options=audio.options(),
        workers=config.features.workers, progress=progress,
        level="frames" if unit == "frames" else "pooled",
    )  # fmt: skip
    if extraction.errors and audio.on_error == "raise":
        raise BadAudioError(extraction.errors)
    keep = [i for i, a in enumerate(extraction.arrays) if a is not None]
    if table[by].iloc[keep].nunique() < 2:
        raise ValueError(f"analyze fad needs at least two sets in column {by!r}")
    moments = group_moments([extraction.arrays[i] for i in keep], table.iloc[keep],
                            by=by, layer=layer, unit=unit)  # fmt: skip
    result = distance_tables(moments)
    for pair in result["pairs"]:
        pair["bias"] = emotion_bias(pair, mapping)
        pair["bias_reverse"] = emotion_bias(_transposed(pair), mapping)
        name = f"fad_{_safe(pair['a'])}_vs_{_safe(pair['b'])}.png"
        save_figure(fad_heatmap_figure(pair, layer=layer, unit=unit), folder / name)
        pair["figure"] = name
    result.update({"by": by, "layer": layer, "unit": unit, "upstream": config.features.upstream,
                   "music_map": mapping, "skipped_files": skipped + extraction.errors,
                   "counts": {f"{g}/{e}": m.count for (g, e), m in moments.items()},
                   "seconds": time.perf_counter() - began})  # fmt: skip
    write_json(folder / "fad.json", result)
    return folder, result


def _transposed(pair: dict[str, Any]) -> dict[str, Any]:
    matrix = [list(column) for column in zip(*pair["matrix"])] if pair["matrix"] else []
    return {**pair, "a": pair["b"], "b": pair["a"], "rows": pair["columns"],
            "columns": pair["rows"], "matrix": matrix}  # fmt: skip


def _distance(a: Moments, b: Moments, min_count: int) -> float:
    if a.count < min_count or b.count < min_count:
        return float("nan")
    return frechet_distance(a, b)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)
