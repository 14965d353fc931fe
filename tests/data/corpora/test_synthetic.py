"""SyntheticCorpus: manifest, determinism, caching, and the emotion structure in the audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emotransfer.data.corpora.synthetic import EMOTIONS, SyntheticCorpus
from emotransfer.data.manifest import COLUMNS
from emotransfer.registry import build

TRAIN_SPEAKERS = ["s01", "s02", "s03", "s04"]


@pytest.fixture(scope="module")
def corpus_table(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """6 speakers x 4 emotions x 3 utterances, shared by the structure tests."""
    root = tmp_path_factory.mktemp("synthetic")
    return SyntheticCorpus(root=root, utterances_per_emotion=3).load()


@pytest.fixture(scope="module")
def egemaps(corpus_table: pd.DataFrame) -> pd.DataFrame:
    """eGeMAPS functionals of every file of ``corpus_table``, one row per file."""
    opensmile = pytest.importorskip("opensmile")
    smile = opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile.FeatureLevel.Functionals,
    )
    features = [smile.process_file(path) for path in corpus_table["file"]]
    return pd.concat(features).reset_index(drop=True)


def _file_bytes(table: pd.DataFrame) -> list[bytes]:
    return [Path(path).read_bytes() for path in table["file"]]


def _pitch_and_level(path: str) -> tuple[float, float]:
    """Median F0 (semitones re 27.5 Hz, autocorrelation) and RMS level (dB) of voiced frames."""
    samples, rate = sf.read(path)
    frame, hop = int(0.04 * rate), int(0.01 * rate)
    starts = np.arange(0, len(samples) - frame, hop)
    frames = samples[starts[:, None] + np.arange(frame)]
    rms = np.sqrt(np.mean(frames**2, axis=1))
    voiced = frames[rms > 0.2 * rms.max()]
    spectrum = np.fft.rfft(voiced - voiced.mean(axis=1, keepdims=True), n=2 * frame, axis=1)
    autocorrelation = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)
    low, high = int(rate / 400), int(rate / 70)
    lags = low + np.argmax(autocorrelation[:, low:high], axis=1)
    pitch = 12 * np.log2(rate / lags / 27.5)
    level = 10 * np.log10(np.mean(voiced**2))
    return float(np.median(pitch)), float(level)


def test_constructor_only_stores(tmp_path):
    corpus = SyntheticCorpus(root=tmp_path / "nowhere", num_speakers=2, emotions=("fear",))
    assert corpus.root == tmp_path / "nowhere"
    assert (corpus.num_speakers, corpus.emotions, corpus.seed) == (2, ("fear",), 0)
    assert not (tmp_path / "nowhere").exists()


def test_registry_builds_it(tmp_path):
    assert isinstance(build("corpus", "synthetic", root=tmp_path), SyntheticCorpus)


def test_manifest_columns_counts_and_balance(corpus_table):
    table = corpus_table
    assert list(table.columns) == COLUMNS + ["text_id"]
    assert len(table) == 6 * 4 * 3
    assert set(table.groupby(["speaker", "emotion"]).size()) == {3}
    assert sorted(table["emotion"].unique()) == ["anger", "happiness", "neutral", "sadness"]
    assert sorted(table["text_id"].unique()) == ["t01", "t02", "t03"]
    assert set(table["corpus"]) == {"synthetic"} and set(table["domain"]) == {"speech"}
    assert set(table["language"]) == {"xx"}
    assert all(Path(path).is_absolute() and Path(path).is_file() for path in table["file"])
    assert Path(table["file"][0]).name == "s01_anger_01.wav"
    anger = table[table["emotion"] == "anger"]
    assert set(anger["valence"]) == {-0.6} and set(anger["arousal"]) == {0.8}
    assert table["dominance"].isna().all() and table["start"].isna().all()


def test_speakers_and_gender(corpus_table):
    genders = corpus_table.groupby("speaker")["gender"].first()
    assert genders.index.tolist() == ["s01", "s02", "s03", "s04", "s05", "s06"]
    assert genders.tolist() == ["f", "m", "f", "m", "f", "m"]


def test_audio_is_clean(corpus_table):
    for path in corpus_table["file"][::5]:
        samples, rate = sf.read(path)
        assert rate == 16000
        assert 1.0 <= len(samples) / rate <= 2.5
        assert np.isfinite(samples).all() and 0.01 < np.abs(samples).max() < 0.9


def test_metadata_and_parameter_files(tmp_path):
    table = SyntheticCorpus(root=tmp_path, num_speakers=1, utterances_per_emotion=1).load()
    metadata = pd.read_csv(tmp_path / "metadata.csv")
    assert metadata["file"].tolist() == [f"audio/{Path(f).name}" for f in table["file"]]
    assert (tmp_path / "synthetic.json").is_file()
    assert not list(tmp_path.rglob("*.tmp"))


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    params = {"num_speakers": 2, "utterances_per_emotion": 2}
    first = SyntheticCorpus(root=tmp_path / "a", **params).load()
    second = SyntheticCorpus(root=tmp_path / "b", **params).load()
    other = SyntheticCorpus(root=tmp_path / "c", seed=1, **params).load()
    assert _file_bytes(first) == _file_bytes(second)
    assert all(a != c for a, c in zip(_file_bytes(first), _file_bytes(other)))
    assert (tmp_path / "a" / "metadata.csv").read_bytes() == (
        tmp_path / "b" / "metadata.csv"
    ).read_bytes()


def test_more_speakers_leave_existing_files_unchanged(tmp_path):
    small = SyntheticCorpus(root=tmp_path / "a", num_speakers=2, utterances_per_emotion=1)
    large = SyntheticCorpus(root=tmp_path / "b", num_speakers=3, utterances_per_emotion=1)
    assert _file_bytes(small.load()) == _file_bytes(large.load())[:8]


def test_regeneration_skipped_when_parameters_match(tmp_path):
    params = {"root": tmp_path, "num_speakers": 2, "utterances_per_emotion": 1}
    table = SyntheticCorpus(**params).load()
    files = list(table["file"]) + [str(tmp_path / "synthetic.json")]
    before = [Path(path).stat().st_mtime_ns for path in files]
    again = SyntheticCorpus(**params).load()
    assert [Path(path).stat().st_mtime_ns for path in files] == before
    pd.testing.assert_frame_equal(table, again)


def test_regenerates_on_new_parameters_or_missing_file(tmp_path):
    table = SyntheticCorpus(root=tmp_path, num_speakers=2, utterances_per_emotion=1).load()
    Path(table["file"][0]).unlink()
    SyntheticCorpus(root=tmp_path, num_speakers=2, utterances_per_emotion=1).load()
    assert Path(table["file"][0]).is_file()
    old = _file_bytes(table)
    smaller = SyntheticCorpus(root=tmp_path, num_speakers=1, utterances_per_emotion=1, seed=5)
    new = smaller.load()
    assert len(new) == 4 and _file_bytes(new) != old[:4]
    assert sorted(path.name for path in (tmp_path / "audio").iterdir()) == sorted(
        Path(path).name for path in new["file"]
    )


def test_every_known_emotion_and_rate(tmp_path):
    table = SyntheticCorpus(
        root=tmp_path, num_speakers=1, utterances_per_emotion=1, emotions=tuple(EMOTIONS),
        sample_rate=8000,
    ).load()  # fmt: skip
    assert len(table) == len(EMOTIONS)
    assert sf.info(table["file"][0]).samplerate == 8000


@pytest.mark.parametrize("bad", [{"emotions": ("rage",)}, {"num_speakers": 0}, {"seed": -1}])
def test_bad_parameters_raise_on_load(tmp_path, bad):
    with pytest.raises(ValueError, match="synthetic"):
        SyntheticCorpus(root=tmp_path, **bad).load()


def test_aroused_emotions_higher_and_louder_than_sadness_numpy(corpus_table):
    measured = corpus_table[["speaker", "emotion"]].copy()
    measured[["pitch", "level"]] = [_pitch_and_level(path) for path in corpus_table["file"]]
    means = measured.groupby(["speaker", "emotion"])[["pitch", "level"]].mean().unstack()
    for column in ("pitch", "level"):
        assert (means[column]["anger"] > means[column]["sadness"] + 1.0).all()
        assert (means[column]["happiness"] > means[column]["sadness"] + 1.0).all()
    assert (means["pitch"]["neutral"] > means["pitch"]["sadness"]).mean() >= 0.8


def test_aroused_emotions_higher_and_louder_than_sadness_egemaps(corpus_table, egemaps):
    measured = corpus_table[["speaker", "emotion"]].assign(
        pitch=egemaps["F0semitoneFrom27.5Hz_sma3nz_amean"], loudness=egemaps["loudness_sma3_amean"]
    )
    means = measured.groupby(["speaker", "emotion"])[["pitch", "loudness"]].mean().unstack()
    for column in ("pitch", "loudness"):
        assert (means[column]["anger"] > means[column]["sadness"]).all()
        assert (means[column]["happiness"] > means[column]["sadness"]).all()


def test_classifier_generalises_to_unseen_speakers(corpus_table, egemaps):
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import recall_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = corpus_table["speaker"].isin(TRAIN_SPEAKERS).to_numpy()
    features, labels = egemaps.to_numpy(), corpus_table["emotion"].to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(features[train], labels[train])
    uar = recall_score(labels[~train], model.predict(features[~train]), average="macro")
    assert uar >= 0.6  # chance is 0.25
