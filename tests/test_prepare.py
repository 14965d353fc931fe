"""The normalisation a run applies: `auto` reads the data's design, `speaker` is refused where
it would remove the emotion (issue 28)."""

import json

import pandas as pd
import pytest

from emotransfer.config import load_config
from emotransfer.experiment import run
from emotransfer.prepare import choose_normalization


def corpus_of(tmp_path, table, keep):
    """A csv corpus of the synthetic clips for which ``keep(speaker, emotion)`` holds."""
    rows = table[[keep(s, e) for s, e in zip(table["speaker"], table["emotion"])]]
    root = tmp_path / "corpus"
    root.mkdir(exist_ok=True)
    rows[["file", "speaker", "emotion", "gender"]].to_csv(root / "metadata.csv", index=False)
    return root


def config_of(tmp_path, root, *overrides):
    return load_config(None, overrides=[
        f"output_dir={tmp_path / 'runs'}", f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora=[{{name: csv, root: {root}}}]", "data.labels.classes=[anger, sadness]",
        "features.workers=1", "evaluation.bootstrap=20", "head.grid={C: [0.01, 1.0]}",
        *overrides,
    ])  # fmt: skip


# Each emotion is shown by two women and two men, each speaker showing one.
ONE_EACH = {"s01": "anger", "s02": "anger", "s05": "anger", "s06": "anger",
            "s03": "sadness", "s04": "sadness", "s07": "sadness", "s08": "sadness"}  # fmt: skip


@pytest.fixture(scope="module")
def eight_speakers(tmp_path_factory):
    from emotransfer.data.corpora.synthetic import SyntheticCorpus

    corpus = SyntheticCorpus(root=tmp_path_factory.mktemp("eight"), num_speakers=8,
                             utterances_per_emotion=6, emotions=("anger", "sadness"))  # fmt: skip
    return corpus.load()


def test_speakers_of_one_emotion_refuse_speaker_and_auto_learns_with_global(
    tmp_path, eight_speakers
):  # fmt: skip
    root = corpus_of(tmp_path, eight_speakers, lambda s, e: ONE_EACH[s] == e)
    with pytest.raises(ValueError, match=r"speaker removes the emotion here: 8 of 8 speakers"):
        run(config_of(tmp_path, root, "name=spk", "features.normalization=speaker"),
            progress=False)  # fmt: skip
    assert not (tmp_path / "runs" / "spk" / "config.yaml").exists()
    auto = run(config_of(tmp_path, root, "name=auto"), progress=False)
    chosen = auto.metrics["features"]["normalization_chosen"]
    assert chosen["requested"] == "auto" and chosen["chosen"] == "global"
    assert "8 of 8 speakers" in chosen["reason"]
    assert auto.metrics["confounds"]["warn"]
    assert json.loads((auto.run_dir / "model.json").read_text())["normalization"] == "global"
    forced = run(config_of(tmp_path, root, "name=forced", "features.normalization=speaker",
                           "split.allow_confounded=true"), progress=False)  # fmt: skip
    assert auto.metrics["summary"]["uar"]["value"] >= 0.75  # the emotions are learnable
    assert forced.metrics["summary"]["uar"]["value"] <= 0.6  # per speaker: erased


def test_speakers_with_every_emotion_keep_speaker_normalisation(tmp_path, synthetic_table):
    root = corpus_of(tmp_path, synthetic_table, lambda s, e: True)
    auto = run(config_of(tmp_path, root, "name=auto"), progress=False)
    speaker = run(config_of(tmp_path, root, "name=spk", "features.normalization=speaker"),
                  progress=False)  # fmt: skip
    assert auto.metrics["features"]["normalization_chosen"]["chosen"] == "speaker"
    assert auto.metrics["summary"] == speaker.metrics["summary"]  # the same figures
    assert not auto.metrics["confounds"]["warn"]


def test_a_mixed_design_warns_keeps_speaker_when_asked_and_auto_goes_global(
    tmp_path, synthetic_table, caplog
):  # fmt: skip
    keep = {"s01": "anger", "s02": "sadness"}
    root = corpus_of(tmp_path, synthetic_table, lambda s, e: keep.get(s, e) == e)
    result = run(config_of(tmp_path, root, "name=spk", "features.normalization=speaker"),
                 progress=False)  # fmt: skip
    assert result.metrics["features"]["normalization_chosen"]["chosen"] == "speaker"
    assert "confound: 2 of 4 speakers (50 %" in caplog.text
    table = pd.read_csv(root / "metadata.csv").assign(corpus="c")
    assert choose_normalization("auto", table)[0] == "global"


def test_one_speaker_or_none_is_a_clear_message_for_speaker_and_global_for_auto():
    one = pd.DataFrame({"corpus": "c", "file": ["a.wav", "b.wav"], "speaker": "x",
                        "emotion": ["anger", "sadness"]})  # fmt: skip
    with pytest.raises(ValueError, match="features.normalization: speaker: speaker: one speaker"):
        choose_normalization("speaker", one)
    assert choose_normalization("auto", one)[0] == "global"
    none = one.assign(speaker="")
    with pytest.raises(ValueError, match="2 of 2 rows have no value"):
        choose_normalization("speaker", none, key="features.normalization")
    chosen, reason = choose_normalization("auto", none.assign(corpus=["c", "d"]))
    assert chosen == "corpus" and "no value" in reason
    assert choose_normalization("global", none) == ("global", "as configured")


def test_fine_tuning_follows_the_same_rule(tmp_path, eight_speakers):
    root = corpus_of(tmp_path, eight_speakers, lambda s, e: ONE_EACH[s] == e)
    overrides = ["features.upstream=logmel", "finetune={strategy: full, epochs: 1}"]
    with pytest.raises(ValueError, match="finetune.normalization: speaker removes the emotion"):
        run(config_of(tmp_path, root, "name=ft", *overrides, "finetune.normalization=speaker"),
            progress=False)  # fmt: skip
    auto = run(config_of(tmp_path, root, "name=ft", *overrides, "finetune.normalization=auto",
                         "split.only_folds=[speaker=s01]"), progress=False)  # fmt: skip
    assert auto.metrics["features"]["normalization_chosen"]["chosen"] == "global"
    assert json.loads((auto.run_dir / "model.json").read_text())["speaker_norm"] is False
