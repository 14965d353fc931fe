"""The shared front half of every experiment: config -> manifest -> cached pooled features.

Used by :mod:`emotransfer.experiment` (one layer, one head) and by
:mod:`emotransfer.analysis.probing` (every layer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emotransfer import registry
from emotransfer.config import ExperimentConfig
from emotransfer.data.audio import unusable_file
from emotransfer.data.labels import LabelSpec
from emotransfer.data.load import load_corpora, select_labels
from emotransfer.data.splits import speaker_keys
from emotransfer.define import Normalization
from emotransfer.features.cache import FeatureCache, default_cache_dir
from emotransfer.features.extract import Extraction, extract_features
from emotransfer.models.normalize import speaker_standardize, speaker_statistics
from emotransfer.models.pooling import pool_statistics


class BadAudioError(ValueError):
    """Some files could not be used; ``problems`` lists every one with its reason."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        shown = "\n  ".join(f"{p['file']}: {p['problem']}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(
            f"{len(problems)} bad audio file(s) (set data.audio.on_error=skip to skip them):"
            f"\n  {shown}{more}"
        )
        self.problems = problems


def prepare_manifest(config: ExperimentConfig) -> tuple[pd.DataFrame, dict, list]:
    """Corpora -> one manifest with the experiment's labels; missing files are listed (and
    raised with the bad audio by :func:`layer_features` when ``on_error`` is ``raise``).

    Rows with a blank emotion are listed in the returned skips too, and with
    ``split.unlearnable=drop`` the rows of classes some fold cannot learn (summary in
    ``info["unlearnable"]``). ``info["speaker_near_duplicates"]`` lists speaker ids that are
    probably one person (see :mod:`emotransfer.data.load`).
    """
    from emotransfer.data.load import speaker_near_duplicates
    from emotransfer.data.splits import drop_unlearnable

    corpora = [c.model_dump() for c in config.data.corpora]
    # Missing files are listed here and raised (on_error: raise) together with the bad audio
    # found later, so one run names every bad file.
    labels = config.data.labels
    table, skipped = load_corpora(corpora, on_missing="keep" if config.text_only else "skip",
                                  plugins=config.plugins,
                                  allow_duplicates=config.data.allow_duplicates,
                                  column=labels.column)  # fmt: skip
    near_duplicates = speaker_near_duplicates(table)
    spec = LabelSpec(classes=labels.classes, merge=labels.merge, other=labels.other,
                     harmonised=labels.column == "emotion")  # fmt: skip
    table, info = select_labels(table, spec)
    info["speaker_near_duplicates"] = near_duplicates
    if config.split.unlearnable == "drop":
        table, found, dropped = drop_unlearnable(table, lambda t: experiment_folds(config, t))
        info["unlearnable"] = {"folds": found, "rows_dropped": len(dropped)}
        info["classes"] = table["emotion"].value_counts().sort_index().to_dict()
        info["rows_after"] = len(table)
        skipped.extend(dropped)
    if "text" in config.inputs:
        table = add_transcripts(config, table)
    return table, info, skipped


def add_transcripts(config: ExperimentConfig, table: pd.DataFrame) -> pd.DataFrame:
    """The text input's column filled by ASR (``data.asr``) where blank, with the detected
    language (see :func:`emotransfer.features.transcripts.transcribe_rows`); ``table`` as it
    is without ``data.asr``."""
    asr = config.data.asr
    if asr is None:
        return table
    from emotransfer.data.audio import AudioError, load_audio
    from emotransfer.features.transcripts import transcribe_rows

    audio = config.data.audio

    def load(row: pd.Series) -> np.ndarray | None:
        try:
            return load_audio(row["file"], sample_rate=16000, start=row.get("start"),
                              end=row.get("end"), min_duration=audio.min_duration,
                              max_duration=audio.max_duration)  # fmt: skip
        except AudioError:
            if audio.on_error == "raise":
                raise
            return None

    return transcribe_rows(table, transcriber(asr), load=load, cache_dir=cache_root(config),
                           column=config.column_of("text"),
                           replace=asr.replace)  # fmt: skip


def transcriber(asr: Any) -> Any:
    """The :class:`~emotransfer.features.transcripts.Transcriber` of a ``data.asr`` section."""
    from emotransfer.features.transcripts import Transcriber

    return Transcriber(model=asr.model, language=asr.language, beam_size=asr.beam_size,
                       compute_type=asr.compute_type, threads=asr.threads)  # fmt: skip


def missing_files(skipped: list[dict[str, str]]) -> list[dict[str, str]]:
    """The entries of ``skipped`` that are manifest files which do not exist (or are no
    files: a directory, a FIFO, a device)."""
    return [entry for entry in skipped if unusable_file(entry["problem"])]


def experiment_folds(config: ExperimentConfig, table: pd.DataFrame) -> list:
    """The outer folds that ``config.split`` describes (see ``data.splits.make_folds``), with
    at most ``split.train_per_class`` training rows per class."""
    from emotransfer.data.splits import limit_per_class, make_folds

    split = config.split
    folds = make_folds(table, kind=split.kind, folds=split.folds, seed=config.seed,
                       column=split.column, train_values=split.train_values,
                       test_values=split.test_values, train_corpora=split.train_corpora,
                       test_corpora=split.test_corpora, content=split.content,
                       content_folds=split.content_folds, plugins=config.plugins)  # fmt: skip
    if split.train_per_class:
        folds = limit_per_class(folds, table["emotion"].astype(str).to_numpy(),
                                split.train_per_class, seed=config.seed)  # fmt: skip
    return folds


def folder_path(config: ExperimentConfig, folder: str | Path | None = None) -> Path:
    """The result folder ``folder``, or by default ``output_dir/name`` (nothing created)."""
    return Path(folder) if folder else Path(config.output_dir) / config.name


def result_folder(config: ExperimentConfig, folder: str | Path | None = None) -> Path:
    """Create a result folder (default ``output_dir/name``) holding the resolved config and
    the package versions, as every run and analysis records them."""
    from emotransfer.config import save_config
    from emotransfer.io import package_versions, write_json
    from emotransfer.run_lock import refuse_links

    path = folder_path(config, folder)
    path.mkdir(parents=True, exist_ok=True)
    refuse_links(path)  # an analysis folder, like a run folder, writes only its own files
    save_config(config, path / "config.yaml")
    write_json(path / "versions.json", package_versions())
    return path


def cache_root(config: ExperimentConfig) -> Path:
    return Path(config.cache_dir) if config.cache_dir else default_cache_dir()


def build_upstream(config: ExperimentConfig) -> Any:
    settings = config.features
    return registry.build("upstream", settings.upstream, plugins=config.plugins,
                          sample_rate=config.data.audio.sample_rate, **settings.params)  # fmt: skip


def layer_features(
    config: ExperimentConfig, table: pd.DataFrame, skipped: list, *, progress: bool
) -> tuple[np.ndarray, pd.DataFrame, Extraction]:
    """Pooled, normalised features of every hidden state.

    Returns:
        ``(N, L + 1, D')`` float64 features, the manifest rows they belong to (bad audio
        removed and appended to ``skipped``, or raised as :class:`BadAudioError`), and the
        extraction statistics.
    """
    settings, audio = config.features, config.data.audio
    chosen, reason = choose_normalization(
        settings.normalization, table, allow_confounded=config.split.allow_confounded
    )
    if config.text_only:
        from emotransfer.features.text import TextUpstream, extract_text_features

        extraction = extract_text_features(table, config.column_of("text"),
                                           TextUpstream(**settings.params), cache_root(config),
                                           progress=progress)  # fmt: skip
    else:
        upstream = build_upstream(config)
        # A model that cannot load (a missing folder, a refused pickle checkpoint) is one
        # error of the upstream, not a problem of every clip.
        getattr(upstream, "num_layers", None)
        cache = FeatureCache(root=cache_root(config), identity=upstream.identity())
        extraction = extract_features(table, upstream, cache=cache, audio_options=audio.options(),
                                      workers=settings.workers, progress=progress,
                                      level="pooled")  # fmt: skip
    if audio.on_error == "raise" and (extraction.errors or missing_files(skipped)):
        raise BadAudioError(missing_files(skipped) + extraction.errors)
    skipped.extend(extraction.errors)
    keep = [i for i, array in enumerate(extraction.arrays) if array is not None]
    table = table.iloc[keep].reset_index(drop=True)
    features = np.stack(
        [pool_statistics(extraction.arrays[i], settings.pooling) for i in keep]
    ).astype(np.float64)
    if chosen in ("speaker", "corpus"):
        count, layers, dim = features.shape
        groups = normalization_groups(table, chosen)
        extraction.speaker_stats = speaker_statistics(features, groups)  # (L + 1, D) each
        features = speaker_standardize(features.reshape(count, -1), groups).reshape(
            count, layers, dim)  # fmt: skip
    extraction.normalization = {"requested": settings.normalization, "chosen": chosen,
                                "reason": reason}  # fmt: skip
    return features, table, extraction


def choose_normalization(
    requested: str, table: pd.DataFrame, *, allow_confounded: bool = False,
    key: str = "features.normalization",
) -> tuple[str, str]:  # fmt: skip
    """The normalisation to apply and why: ``auto`` becomes ``speaker`` where every speaker
    shows several classes (no more than :data:`~emotransfer.data.confounds.AUTO_CLIP_SHARE`
    of the clips belong to one-label speakers), else ``corpus`` (several corpora) or
    ``global``; ``speaker`` is refused where most speakers show one label (z-scoring such a
    speaker removes its emotion) unless ``allow_confounded``. Decided once per run on the
    manifest's labels, like the split.

    Raises:
        ValueError: ``speaker`` on confounded data, without speakers, or with one speaker;
            the message names ``key`` and the audit's figures.
    """
    from emotransfer.data.confounds import AUTO_CLIP_SHARE, REFUSE_SHARE, confound_audit, summary

    if requested not in (Normalization.SPEAKER, Normalization.AUTO):
        return requested, "as configured"
    audit = confound_audit(table, groupings=("speaker",))
    speaker = audit["groups"].get("speaker")
    fallback = "corpus" if table["corpus"].astype(str).nunique() > 1 else "global"
    if speaker is None:
        problem = next((n for n in audit["notes"] if n.startswith("speaker")), "no speakers")
        if requested == Normalization.SPEAKER:
            raise ValueError(f"{key}: speaker: {problem}")
        return fallback, f"auto: {problem}"
    if requested == Normalization.SPEAKER:
        if speaker["one_label_groups"] > REFUSE_SHARE and not allow_confounded:
            raise ValueError(
                f"{key}: speaker removes the emotion here: {summary(speaker)}; z-scoring a "
                "speaker who shows one emotion subtracts exactly that emotion. Use "
                f"{key}: auto (chooses {fallback}) or {fallback}, or set "
                "split.allow_confounded: true to normalise per speaker anyway"
            )
        return "speaker", "as configured"
    if speaker["one_label_clips"] > AUTO_CLIP_SHARE:
        return fallback, f"auto: {summary(speaker)}"
    return "speaker", (f"auto: every speaker shows several classes ("
                       f"{speaker['classes_per_group']:.1f} per speaker on average)")  # fmt: skip


def normalization_groups(table: pd.DataFrame, normalization: str) -> np.ndarray:
    """The rows z-scored together: each speaker (``speaker``) or each corpus (``corpus``:
    the corpus normalisation of cross-corpus SER, Schuller et al. 2010, which removes each
    corpus' recording conditions and language baseline without labels)."""
    if normalization == "corpus":
        return table["corpus"].astype(str).to_numpy()
    return speaker_keys(table)


def corrupted_features(
    config: ExperimentConfig, table: pd.DataFrame, *, progress: bool
) -> np.ndarray:
    """Features of a corrupted copy of ``table`` (``data.test_corruption``), same row order.

    The copy is written once under the cache folder (keyed by the corruption, seed and the
    rows) and reused; its features go through the same cache and normalisation as the clean
    ones.
    """
    import hashlib
    import json

    from emotransfer.data.corrupt import build_corruption
    from emotransfer.data.corrupt_corpus import corrupt_corpus

    spec = config.data.test_corruption
    text = json.dumps([spec, config.seed, table["file"].tolist()], sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    corruption = build_corruption(spec, plugins=config.plugins)
    copy = corrupt_corpus(table, corruption, out_dir=cache_root(config) / "corrupted" / digest,
                          seed=config.seed, sample_rate=config.data.audio.sample_rate)  # fmt: skip
    copy = copy.assign(speaker=table["speaker"].to_numpy(), corpus=table["corpus"].to_numpy())
    features, kept, _ = layer_features(config, copy, [], progress=progress)
    if len(kept) != len(table):
        raise ValueError("data.test_corruption: some corrupted clips could not be used")
    return features


def auxiliary_labels(config: ExperimentConfig, table: pd.DataFrame) -> dict[str, np.ndarray]:
    """``head.auxiliary`` columns as integer codes, -1 where a row has no value."""
    result = {}
    for column in config.head.auxiliary:
        if column not in table:
            raise ValueError(f"head.auxiliary: the manifest has no column {column!r}")
        values = table[column].fillna("").astype(str).str.strip()
        known = sorted(v for v in values.unique() if v not in ("", "nan"))
        codes = values.map({v: i for i, v in enumerate(known)}).fillna(-1).astype(int)
        result[column] = codes.to_numpy()
    return result


def run_features(
    config: ExperimentConfig, table: pd.DataFrame, skipped: list, progress: bool
) -> tuple[np.ndarray, pd.DataFrame, Any]:
    """A frozen-feature run's pooled features: ``(N, D)`` of ``features.layer``, or
    ``(N, L + 1, D)`` with ``layer: null`` (for a head that mixes hidden states, refused with
    any other before anything is extracted)."""
    layer = config.features.layer
    head = registry.resolve("head", config.head.name, plugins=config.plugins)
    mixes = bool(getattr(head, "mixes_layers", False))
    if mixes != (layer is None):
        raise ValueError(
            f"head {config.head.name!r} mixes every hidden state: set features.layer: null"
            if mixes else f"features.layer: null (every hidden state) needs a head that mixes "
            f"them (layer_sum); head {config.head.name!r} takes one layer"
        )  # fmt: skip
    features, table, extraction = layer_features(config, table, skipped, progress=progress)
    states = features.shape[1]
    if layer is not None and not -states <= layer < states:
        raise ValueError(
            f"features.layer={layer}: upstream {config.features.upstream!r} gives {states} "
            f"hidden state(s): use 0..{states - 1} or -{states}..-1"
        )
    if config.early_fusion:
        chosen = extraction.normalization["chosen"]
        fused = with_text(config, features, table, chosen, progress=progress)
        extraction.blocks = [features.shape[2], fused.shape[1] - features.shape[2]]
        return fused, table, extraction
    if layer is None:
        return features, table, extraction
    return features[:, layer], table, extraction


def with_text(
    config: ExperimentConfig, audio: np.ndarray, table: pd.DataFrame, normalization: str, *,
    progress: bool,
) -> np.ndarray:  # fmt: skip
    """Early fusion in a frozen run: the audio's hidden state ``features.layer`` and the
    text's ``inputs.text.layer`` (each pooled, and normalised as the audio was:
    ``normalization``), concatenated per clip: ``(N, D_audio + D_text)``; the fold heads
    standardise the columns."""
    from emotransfer.features.text import TextUpstream, extract_text_features

    text = config.inputs["text"]
    if config.features.layer is None or text.layer is None:
        raise ValueError("a frozen run of audio and text concatenates one hidden state of each: "
                         "set features.layer and inputs.text.layer (not null)")  # fmt: skip
    extraction = extract_text_features(table, config.column_of("text"),
                                       TextUpstream(**text.params), cache_root(config),
                                       progress=progress)  # fmt: skip
    words = np.stack([pool_statistics(a, text.pooling) for a in extraction.arrays])
    if not -words.shape[1] <= text.layer < words.shape[1]:  # (the audio's: run_features)
        raise ValueError(f"inputs.text.layer={text.layer}: the text encoder gives "
                         f"{words.shape[1]} hidden state(s)")  # fmt: skip
    words = words[:, text.layer].astype(np.float64)
    if normalization in ("speaker", "corpus"):
        words = speaker_standardize(words, normalization_groups(table, normalization))
    return np.concatenate([audio[:, config.features.layer], words], axis=1)
