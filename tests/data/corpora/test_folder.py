import pytest
from tests.data.corpora.conftest import write_wav

from emotransfer.data.corpora.folder import FolderCorpus


def test_the_class_folder_is_the_label_and_the_speaker_folder_the_speaker(make_wavs):
    root = make_wavs("angry/s1/a.wav", "angry/s2/b.flac", "sad/s1/c.wav", "Neutral/s2/d.wav")
    (root / "sad" / "notes.txt").write_text("not audio")
    table = FolderCorpus(root=root, speaker="folder").load()
    assert sorted(
        zip(table["file"].str.rsplit("/", n=1).str[-1], table["emotion"], table["speaker"])
    ) == [("a.wav", "anger", "s1"), ("b.flac", "anger", "s2"), ("c.wav", "sadness", "s1"),
          ("d.wav", "neutral", "s2")]  # fmt: skip
    assert set(table["corpus"]) == {root.name} and set(table["domain"]) == {"speech"}


def test_a_speaker_pattern_reads_the_file_name_and_no_speaker_makes_each_clip_its_own(make_wavs):
    root = make_wavs("happy/spk3_take1.wav", "happy/spk4_take1.wav", "sad/spk3_take2.wav")
    table = FolderCorpus(root=root, speaker=r"^(?P<speaker>spk\d+)_").load()
    assert sorted(table["speaker"]) == ["spk3", "spk3", "spk4"]
    alone = FolderCorpus(root=root).load()
    assert alone["speaker"].nunique() == 3 and alone["speaker"].str.startswith("file:").all()
    assert sorted(alone["label"]) == ["happy", "happy", "sad"]  # the folder names as written
    assert sorted(alone["emotion"]) == ["happiness", "happiness", "sadness"]


def test_bad_layouts_are_named(make_wavs, tmp_path):
    root = make_wavs("angry/s1/a.wav", "loose.wav")
    with pytest.raises(ValueError, match="loose.wav' lies directly under the root"):
        FolderCorpus(root=root).load()
    (root / "loose.wav").unlink()
    write_wav(root / "angry" / "b.wav")
    with pytest.raises(ValueError, match="b.wav' has no speaker folder"):
        FolderCorpus(root=root, speaker="folder").load()
    with pytest.raises(ValueError, match="does not match the speaker pattern"):
        FolderCorpus(root=root, speaker=r"^(?P<speaker>x\d)_").load()
    with pytest.raises(ValueError, match="no group named 'speaker'"):
        FolderCorpus(root=root, speaker=r"^(\w+)_").load()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no audio files"):
        FolderCorpus(root=tmp_path / "empty").load()


def test_a_folder_corpus_runs_from_a_config(tmp_path):
    from emotransfer.config import load_config
    from emotransfer.experiment import run

    for speaker in ("s1", "s2", "s3"):
        for number in range(3):
            write_wav(tmp_path / "data" / "angry" / speaker / f"{number}.wav", frequency=2000.0)
            write_wav(tmp_path / "data" / "sad" / speaker / f"{number}.wav", frequency=300.0)
    config = load_config(None, overrides=[
        "name=f", f"output_dir={tmp_path / 'runs'}", f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora=[{{name: folder, root: {tmp_path / 'data'}, params: {{speaker: folder}}}}]",
        "features.upstream=logmel", "head.name=logreg", "evaluation.bootstrap=20",
        "data.labels.column=label",  # the folder names as they are, not emotions
    ])  # fmt: skip
    result = run(config, progress=False)
    assert result.metrics["summary"]["uar"]["value"] == 1.0  # the tone's pitch
    assert result.metrics["classes"] == ["angry", "sad"]
