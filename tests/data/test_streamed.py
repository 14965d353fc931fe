import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emotransfer.config import load_config
from emotransfer.data.audio import AudioError
from emotransfer.data.items import decode_waves
from emotransfer.data.streamed import StreamedWaves
from emotransfer.models.batched import lengths, take


def corpus(tmp_path):
    files = []
    for number, seconds in enumerate([0.5, 1.0, 0.02, 0.75]):  # the third is too short
        path = tmp_path / f"{number}.wav"
        sf.write(path, np.full(int(seconds * 8000), 0.1 * (number + 1)), 8000)
        files.append(str(path))
    files.append(str(tmp_path / "absent.wav"))
    return pd.DataFrame({"file": files, "start": np.nan, "end": np.nan})


def test_streamed_waves_are_the_decoded_ones_without_holding_them(tmp_path):
    table = corpus(tmp_path)
    audio = load_config(None).data.audio  # 16 kHz, 0.1 s .. 600 s
    decoded, problems = decode_waves(table, audio)
    streamed, streamed_problems = decode_waves(table, audio, stream=True)
    assert isinstance(streamed, StreamedWaves) and streamed_problems == problems
    assert [p["file"].rsplit("/", 1)[-1] for p in problems] == ["2.wav", "absent.wav"]
    assert lengths(streamed) == [len(w) if w is not None else 0 for w in decoded]
    for wave, again in zip(decoded, streamed):
        assert (wave is None and again is None) or np.array_equal(wave, again)
    # a subset (a fold's rows) stays streamed, and holds no samples
    fold = take(streamed, [3, 0])
    assert isinstance(fold, StreamedWaves) and fold.lengths() == [12000, 8000]
    assert not any(isinstance(v, np.ndarray) for v in vars(fold).values())
    assert np.array_equal(fold[1], decoded[0])


def test_a_file_that_changes_after_validation_is_named(tmp_path):
    table = corpus(tmp_path)
    streamed, _ = decode_waves(table, load_config(None).data.audio, stream=True)
    (tmp_path / "1.wav").write_bytes(b"not audio any more")
    with pytest.raises(AudioError, match=r"1\.wav: .*readable when the run started"):
        streamed[1]
