"""What a run depends on, recorded in its folder (``inputs.json``) and checked before reuse.

The record holds the config digest and, per manifest row, the audio content digest (the
blake2b of the file's bytes, as the feature cache keys it) and every label the run reads.
Saved fold results are reused only when the record still matches, and a mismatch is
described (which config keys, which rows, which files changed) instead of reusing results
computed on other data. Rows are identified by file name and segment bounds, never by the
folder they lie in, so a moved corpus still matches.

Example:
    >>> import pandas as pd, tempfile, pathlib
    >>> clip = pathlib.Path(tempfile.mkdtemp()) / "a.wav"
    >>> _ = clip.write_bytes(b"RIFF")
    >>> table = pd.DataFrame({"file": [str(clip)], "start": [float("nan")],
    ...     "end": [float("nan")], "corpus": ["c"], "speaker": ["s1"], "emotion": ["anger"]})
    >>> before = input_record({"seed": 0}, table)
    >>> changes({"seed": 0}, table.assign(emotion=["sadness"]), before)
    ['the label of 1 row(s) changed, e.g. a.wav: emotion anger -> sadness']
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from emotransfer.config import config_digest
from emotransfer.features.extract import file_digest

LABEL_COLUMNS = ["corpus", "speaker", "emotion", "valence", "arousal", "dominance"]


def input_record(
    config: dict[str, Any], table: pd.DataFrame, *, settings: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The record of ``config`` (a resolved config dict) and the manifest ``table``.

    Args:
        settings: the part of ``config`` set away from its defaults; when given, the config
            digest covers it alone, so a run stays the same run when a later version adds a
            setting whose default keeps the old behaviour.

    Returns:
        ``{"config_digest", "config", "settings" (when given), "data_digest", "rows": [[name,
        start, end, audio digest, {label column: value}], ...]}``
    """
    audio, column = _reads(config)
    digests = {path: file_digest(path) for path in table["file"].unique()} if audio else {}
    columns = [c for c in LABEL_COLUMNS if c in table]
    rows = []
    for position in range(len(table)):
        row = table.iloc[position]
        labels = {c: _plain(row[c]) for c in columns}
        # the digests of what the run reads: the audio's, the text's
        heard = [digests[row["file"]]] if audio else []
        heard += [] if column is None else [_text_digest(row.get(column))]
        rows.append([Path(row["file"]).name, _plain(row.get("start")), _plain(row.get("end")),
                     *heard, labels])  # fmt: skip
    data = hashlib.blake2b(json.dumps(rows).encode(), digest_size=16).hexdigest()
    record = {
        "config_digest": config_digest(config if settings is None else settings),
        "config": config,
        "data_digest": data,
        "rows": rows,
    }
    if settings is not None:
        record["settings"] = settings
    return record


def _reads(config: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether a run of the resolved ``config`` reads the audio, and the manifest column of
    its text (``None``: no text input). A frozen run of text alone reads no audio: its
    ``features`` repeat the text input (``ExperimentConfig.text_only``)."""
    inputs = config.get("inputs") or {}
    text = inputs.get("text")
    column = None if text is None else (text.get("column") or "text")
    features = config.get("features", text) or {}
    # (a recorded config may leave out neutral keys of `features`, such as workers)
    repeats = text is not None and all(text.get(key) == value for key, value in features.items())
    text_only = config.get("finetune") is None and set(inputs) == {"text"} and repeats
    return not text_only, column


def _text_digest(text: Any) -> str | None:
    text = _plain(text)
    if text is None:
        return None
    return hashlib.blake2b(str(text).encode("utf-8"), digest_size=16).hexdigest()


def run_digest(record: dict[str, Any]) -> str:
    """One digest of config and data: what a saved fold result is valid for."""
    return f"{record['config_digest']}-{record['data_digest']}"


def changes(config: dict[str, Any], table: pd.DataFrame, saved: dict[str, Any]) -> list[str]:
    """What differs between the saved record and ``config`` + ``table`` (empty: nothing)."""
    return describe(saved, input_record(config, table))


def describe(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Readable differences between two records, config first, then the data.

    Records of settings compare those. A record of a whole config only (an older version)
    against one with settings: a key the saved config lacks counts as changed only when the
    current run sets it away from its default.
    """
    found = []
    if "settings" in saved and "settings" in current:
        keys = _differing_keys(saved["settings"], current["settings"])
        changed = bool(keys) or saved.get("config_digest") != current["config_digest"]
    elif "settings" in current:
        old = saved.get("config", {})
        keys = [key for key in _differing_keys(old, current["config"])
                if _holds(old, key) or _holds(current["settings"], key)]  # fmt: skip
        changed = bool(keys)
    else:
        keys = _differing_keys(saved.get("config", {}), current["config"])
        changed = bool(keys) or saved.get("config_digest") != current["config_digest"]
    if changed:
        found.append("the config changed: " + (", ".join(keys[:10]) or "(values)"))
    if saved.get("data_digest") == current["data_digest"]:
        return found
    before = {_row_id(row): row for row in saved.get("rows", [])}
    after = {_row_id(row): row for row in current["rows"]}
    added = [key for key in after if key not in before]
    removed = [key for key in before if key not in after]
    if added:
        found.append(f"{len(added)} row(s) added, e.g. {added[0]}")
    if removed:
        found.append(f"{len(removed)} row(s) removed, e.g. {removed[0]}")
    # a row: name, start, end, the digests of what the run reads (audio, text), labels
    audio = [key for key in after if key in before and after[key][3:-1] != before[key][3:-1]]
    if audio:
        reads_audio, column = _reads(current["config"])
        what = "audio" if column is None else "audio or text" if reads_audio else "text"
        found.append(f"the {what} of {len(audio)} file(s) changed, e.g. {audio[0]}")
    relabelled = []
    for key in after:
        if key in before and after[key][-1] != before[key][-1]:
            old, new = before[key][-1], after[key][-1]
            column = next(c for c in new if old.get(c) != new.get(c))
            relabelled.append(f"{key}: {column} {old.get(column)} -> {new.get(column)}")
    if relabelled:
        found.append(f"the label of {len(relabelled)} row(s) changed, e.g. {relabelled[0]}")
    if not (added or removed or audio or relabelled):
        found.append("the order of the manifest rows changed")
    return found


def _holds(values: dict[str, Any], key: str) -> bool:
    """Whether the nested dict ``values`` has the dotted ``key``."""
    node: Any = values
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _row_id(row: list[Any]) -> str:
    name, start, end = row[0], row[1], row[2]
    return name if start is None and end is None else f"{name}[{start}:{end}]"


def _differing_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    if (old is None and isinstance(new, dict)) or (new is None and isinstance(old, dict)):
        return _differing_keys(old or {}, new or {}, prefix) or [prefix.rstrip(".")]
    if isinstance(old, dict) and isinstance(new, dict):
        keys = []
        for key in sorted(set(old) | set(new)):
            keys.extend(_differing_keys(old.get(key), new.get(key), f"{prefix}{key}."))
        return keys
    return [] if old == new else [prefix.rstrip(".")]


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value
