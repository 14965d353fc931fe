import math

import pytest

from emotransfer.data.corpora.csv import CsvCorpus
from emotransfer.data.load import load_corpora

SPEECH = (
    "file,corpus,language,speaker,gender,emotion,duration_s,text_id\n"
    "audio/03a01Fa.wav,emodb,de,03,m,happiness,1.898,a01\n"
    "audio/08a01Wa.wav,emodb,de,08,f,Angry,,01\n"
)
MUSIC = (
    "file,corpus,language,speaker,gender,emotion,valence,arousal,duration_s,song_id,title,pquad\n"
    "audio/MT01.wav,,,Charlie Poole,,q3,,,10.0,MT01,Bulldog,0.66\n"
    "audio/MT02.wav,,,Gipsy Kings,,Q1,,,10.0,MT02,Flamencos,\n"
)


def write_csv(root, text, name="metadata.csv"):
    (root / name).write_text(text)
    return root


def test_speech_csv(make_wavs, tmp_path, files_exist):
    root = write_csv(make_wavs("audio/03a01Fa.wav", "audio/08a01Wa.wav"), SPEECH)
    table = CsvCorpus(root=root).load()
    assert len(table) == 2
    assert table["speaker"].tolist() == ["03", "08"]
    assert table["emotion"].tolist() == ["happiness", "anger"]
    assert table["text_id"].tolist() == ["a01", "01"]
    assert table["duration_s"][0] == 1.898 and math.isnan(table["duration_s"][1])
    assert set(table["corpus"]) == {"emodb"} and set(table["domain"]) == {"speech"}
    assert table["file"][0] == str(root / "audio/03a01Fa.wav")
    assert files_exist(table)


def test_music_csv_keeps_extras(make_wavs, tmp_path, files_exist):
    root = write_csv(make_wavs("audio/MT01.wav", "audio/MT02.wav", root=tmp_path / "mer4q"), MUSIC)
    table = CsvCorpus(root=root).load()
    assert set(table["domain"]) == {"music"}
    assert set(table["corpus"]) == {"mer4q"}
    assert table["emotion"].tolist() == ["q3", "q1"]
    assert table["title"].tolist() == ["Bulldog", "Flamencos"]
    assert table["song_id"].tolist() == ["MT01", "MT02"]
    assert table["pquad"][0] == 0.66 and math.isnan(table["pquad"][1])
    assert table["valence"].isna().all()
    assert files_exist(table)


def test_domain_column_and_argument(make_wavs, tmp_path):
    root = make_wavs("audio/a.wav", "audio/b.wav")
    write_csv(root, "file,emotion,domain\naudio/a.wav,q1,speech\naudio/b.wav,q2,\n")
    assert CsvCorpus(root=root).load()["domain"].tolist() == ["speech", "music"]
    write_csv(root, "file,emotion\naudio/a.wav,q1\n", name="other.csv")
    assert CsvCorpus(root=root, file="other.csv", domain="speech").load()["domain"][0] == "speech"


def test_missing_column_names_csv(make_wavs):
    root = write_csv(make_wavs("audio/a.wav"), "file,speaker\naudio/a.wav,s1\n")
    with pytest.raises(ValueError, match=r"metadata\.csv.*'emotion'"):
        CsvCorpus(root=root).load()


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        CsvCorpus(root=tmp_path / "absent").load()
    with pytest.raises(FileNotFoundError, match="metadata.csv"):
        CsvCorpus(root=tmp_path).load()
    write_csv(tmp_path, "file,speaker,emotion\naudio/gone.wav,s1,anger\n")
    # Rows whose audio is missing are kept: the experiment lists them all, or skips them.
    assert CsvCorpus(root=tmp_path).load()["file"].iloc[0].endswith("gone.wav")
    with pytest.raises(FileNotFoundError, match="gone.wav"):
        load_corpora([{"name": "csv", "root": str(tmp_path)}])


def test_missing_speakers_can_become_their_own_groups(tmp_path):
    (tmp_path / "audio").mkdir()
    write_csv(tmp_path, "file,speaker,emotion\naudio/a.wav,,q1\naudio/b.wav,artist,q2\n")
    table = CsvCorpus(root=tmp_path, missing_speaker="file").load()
    assert table["speaker"].tolist() == ["file:a", "artist"]
    assert CsvCorpus(root=tmp_path).load()["speaker"].tolist() == ["", "artist"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "the file is empty (0 bytes)"),
        (b"\n \n", "the file has no header line"),
        (b"file,emotion\n\x89PNG\x00\x1a\xff", "the file holds NUL bytes: binary data, not a csv"),
        (b"file,emotion\n\xff\xfea.wav,anger\n", "not UTF-8 text ("),
        (b'file,emotion\n"a.wav,anger\nb.wav,sad\n', "bad quoting near line 3: "),
        (b"file,emotion\na.wav,anger,loud\n", "line 2 has 3 cells, the header 2"),
        (b"file,emotion\na.wav,anger\nb.wav,sad,x\n", "line 3 has 3 cells, the header 2"),
        (b"file,emotion,emotion\na.wav,anger,sad\n", "the header repeats the column(s)"),
        (b"file,emotion\na.wav,anger\n ,sad\n", "line 3 has no file"),
    ],
)
def test_unreadable_metadata_names_the_file_and_the_problem(tmp_path, content, problem):
    path = tmp_path / "metadata.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError) as caught:
        CsvCorpus(root=tmp_path).load()
    assert str(caught.value).startswith(f"csv: cannot read metadata file {str(path)!r}: {problem}")


def test_metadata_with_quoted_commas_and_a_byte_order_mark(make_wavs):
    root = make_wavs("audio/a.wav")
    (root / "metadata.csv").write_bytes(
        '\ufefffile,emotion,text\naudio/a.wav,anger,"no, never"\n'.encode()
    )
    table = CsvCorpus(root=root).load()
    assert table["text"].tolist() == ["no, never"] and table["emotion"].tolist() == ["anger"]


def test_a_dataframe_becomes_a_csv_corpus_that_a_config_runs(tmp_path):
    """The public way to run a pandas DataFrame: write_corpus, then its data.corpora entry."""
    import numpy as np
    import pandas as pd
    from tests.data.corpora.conftest import write_wav

    from emotransfer.config import load_config
    from emotransfer.data.corpora.csv import write_corpus
    from emotransfer.experiment import run

    rows = []
    for speaker in ("s1", "s2", "s3"):
        for number, (emotion, pitch) in enumerate([("anger", 2000.0), ("sadness", 300.0)] * 2):
            path = write_wav(tmp_path / "clips" / f"{speaker}_{number}.wav", frequency=pitch)
            rows.append({"file": str(path), "emotion": emotion, "speaker": speaker,
                         "score": np.float64(number)})  # fmt: skip
    outside = write_wav(tmp_path / "elsewhere" / "x.wav")
    entry = write_corpus(pd.DataFrame(rows), tmp_path / "clips")
    written = pd.read_csv(tmp_path / "clips" / "metadata.csv")
    assert written["file"][0] == "s1_0.wav" and "score" in written.columns  # relative, kept
    config = load_config(None, overrides=[
        "name=df", f"output_dir={tmp_path / 'runs'}", f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora=[{{name: {entry['name']}, root: {entry['root']}}}]",
        "features.upstream=logmel", "head.name=logreg", "evaluation.bootstrap=20",
    ])  # fmt: skip
    assert run(config, progress=False).metrics["summary"]["uar"]["value"] == 1.0
    mixed = write_corpus(pd.DataFrame([{"file": str(outside), "emotion": "anger"}]),
                         tmp_path / "clips", file="other.csv")  # fmt: skip
    assert pd.read_csv(tmp_path / "clips" / "other.csv")["file"][0] == str(outside)
    assert mixed["params"] == {"file": "other.csv"}
    with pytest.raises(FileNotFoundError, match="1 file\\(s\\) do not exist"):
        write_corpus(pd.DataFrame([{"file": "gone.wav", "emotion": "anger"}]), tmp_path)
    with pytest.raises(ValueError, match="no 'emotion' column"):
        write_corpus(pd.DataFrame([{"file": str(outside)}]), tmp_path)
