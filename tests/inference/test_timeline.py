"""Long recordings: windows, a timeline of probabilities and the events it shows."""

import numpy as np
import pandas as pd
import pytest
import soundfile

from emotransfer.inference.timeline import Event, events, windows

RATE = 16000


def test_windows_cover_the_recording_and_the_last_one_ends_at_its_end():
    assert windows(5.0, window_s=2.0, hop_s=1.5) == [(0.0, 2.0), (1.5, 3.5), (3.0, 5.0)]
    assert windows(1.0, window_s=2.0, hop_s=1.0) == [(0.0, 1.0)]
    with pytest.raises(ValueError, match="hop_s <= window_s"):
        windows(5.0, window_s=1.0, hop_s=2.0)


def test_consecutive_windows_of_a_target_class_merge_into_one_event():
    table = pd.DataFrame({
        "start": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "end": [2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        "predicted": ["speech", "laughing", "laughing", "speech", "laughing", "laughing"],
        "laughing": [0.1, 0.8, 0.6, 0.2, 0.4, 0.9], "speech": [0.9, 0.2, 0.4, 0.8, 0.6, 0.1],
    })  # fmt: skip
    found = events(table, ["laughing"], threshold=0.5)
    assert found == [Event("laughing", 1.0, 4.0, pytest.approx(0.7)),
                     Event("laughing", 5.0, 7.0, 0.9)]  # fmt: skip
    with pytest.raises(ValueError, match="not classes of this run"):
        events(table, ["crying"])


def tones_corpus(root):
    """Three speakers x 8 one-second clips: a 1 kHz tone in low noise (`beep`) or the noise
    alone (`hush`), label column `sound`."""
    (root / "audio").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for speaker in ("a", "b", "c"):
        for number in range(8):
            label = ["beep", "hush"][number % 2]
            wave = 0.02 * rng.normal(size=RATE)
            if label == "beep":
                wave += 0.3 * np.sin(2 * np.pi * 1000 * np.arange(RATE) / RATE)
            name = f"audio/{speaker}{number}.wav"
            soundfile.write(root / name, wave, RATE)
            rows.append({"file": name, "speaker": speaker, "emotion": "", "sound": label})
    pd.DataFrame(rows).to_csv(root / "metadata.csv", index=False)
    return root


def tones_run(root, output, *overrides, name="tones"):
    """A frozen log-mel run on :func:`tones_corpus` (logistic regression unless overridden)."""
    from emotransfer.config import load_config
    from emotransfer.experiment import run

    config = load_config(None, overrides=[
        f"name={name}", f"output_dir={output}", f"cache_dir={output / 'cache'}",
        f"data.corpora=[{{name: csv, root: {root}}}]", "data.labels.column=sound",
        "features.upstream=logmel", "features.normalization=global", "head.name=logreg",
        "evaluation.bootstrap=20", *overrides,
    ])  # fmt: skip
    return run(config, progress=False).run_dir


@pytest.fixture(scope="module")
def tone_run(tmp_path_factory):
    """A frozen log-mel run that tells a 1 kHz tone (`beep`) from low noise (`hush`)."""
    root = tones_corpus(tmp_path_factory.mktemp("tones"))
    return tones_run(root, tmp_path_factory.mktemp("runs"))


def recording(path, tone_from=4.0, tone_to=6.0, seconds=10.0):
    rng = np.random.default_rng(1)
    wave = 0.02 * rng.normal(size=int(seconds * RATE))
    span = np.arange(int(tone_from * RATE), int(tone_to * RATE))
    wave[span] += 0.3 * np.sin(2 * np.pi * 1000 * span / RATE)
    soundfile.write(path, wave, RATE)
    return str(path)


def test_a_tone_inside_a_long_recording_is_found_with_its_times(tone_run, tmp_path, capsys):
    from emotransfer.cli import main
    from emotransfer.inference import Predictor

    long = recording(tmp_path / "long.wav")
    predictor = Predictor.from_run(tone_run)
    table = predictor.predict_long(long, window_s=1.0, hop_s=0.5)
    assert table["start"].tolist()[:3] == [0.0, 0.5, 1.0] and table["end"].iloc[-1] == 10.0
    assert list(table.columns) == ["start", "end", "predicted", "beep", "hush"]
    (found,) = events(table, ["beep"])
    assert 3.0 <= found.start <= 4.5 and 5.5 <= found.end <= 7.0 and found.score > 0.5
    assert main(["predict", str(tone_run), long, "--events", "beep", "--window", "1",
                 "--hop", "0.5"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "file,label,start,end,score" and len(lines) == 2
    assert lines[1].startswith(f"{long},beep,{found.start:.2f},{found.end:.2f},")
    assert main(["predict", str(tone_run), long, str(tmp_path / "gone.wav"), "--long",
                 "--window", "1", "--hop", "0.5"]) == 1  # fmt: skip
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1 + len(table) and "gone.wav" in err


def test_a_runs_posteriors_are_an_upstream_and_stack_with_other_features(tone_run, tmp_path):
    from emotransfer.features.stack import StackedUpstream
    from emotransfer.inference.posteriors import RunPosteriors
    from emotransfer.run_files import file_digest

    wave, _ = soundfile.read(recording(tmp_path / "long.wav"), dtype="float32")
    posteriors = RunPosteriors(run=str(tone_run), window_s=1.0, hop_s=0.5)
    frames = posteriors.extract(wave)
    assert frames.shape == (1, 19, 2) and posteriors.classes == ["beep", "hush"]
    beep = frames[0, :, 0]
    assert beep.max() > 0.9 and beep.mean() < 0.5  # the tone fills 2 of 10 s
    identity = posteriors.identity()
    assert identity["files"] == file_digest(tone_run / "files.json")
    stack = StackedUpstream(upstreams=[
        {"name": "logmel", "params": {"num_mels": 8}},
        {"name": "posteriors", "params": {"run": str(tone_run), "window_s": 1.0}},
    ], pooling="stats")  # fmt: skip
    vector = stack.extract(wave)[0, 0]
    assert vector.shape == (4 * 8 + 4 * 2,)
    assert vector[32 + 2 * 2] == pytest.approx(beep.max(), abs=1e-6)  # the beep's maximum


def test_a_run_on_stacked_features_with_posteriors_trains_and_predicts(tone_run, tmp_path):
    from emotransfer.config import load_config
    from emotransfer.experiment import run
    from emotransfer.inference import Predictor

    config = load_config(tone_run / "config.yaml", overrides=[
        "name=stacked", f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}",
        "features.upstream=stack", "features.params={upstreams: [{name: logmel, params: "
        f"{{num_mels: 8}}}}, {{name: posteriors, params: {{run: '{tone_run}'}}}}], "
        "pooling: stats}",
    ])  # fmt: skip
    result = run(config, progress=False)
    assert result.metrics["summary"]["uar"]["value"] == 1.0
    assert result.metrics["features"]["dim"] == 4 * 8 + 4 * 2
    guess = Predictor.from_run(result.run_dir).predict_long(recording(tmp_path / "l.wav"),
                                                            window_s=1.0, hop_s=0.5)  # fmt: skip
    assert guess["predicted"].iloc[10] == "beep" and guess["predicted"].iloc[0] == "hush"


def test_predictions_go_to_a_csv_or_json_file_with_full_precision(tone_run, tmp_path, capsys):
    import json

    from emotransfer.cli import main

    long = recording(tmp_path / "long.wav")
    out = tmp_path / "events.json"
    assert main(["predict", str(tone_run), long, "--events", "beep", "--window", "1",
                 "--hop", "0.5", "--out", str(out)]) == 0  # fmt: skip
    assert capsys.readouterr().out == ""
    (event,) = json.loads(out.read_text())
    assert event["file"] == long and event["label"] == "beep" and 3.0 <= event["start"] <= 4.5
    clips = tmp_path / "clips.csv"
    assert main(["predict", str(tone_run), long, "--long", "--out", str(clips)]) == 0
    table = pd.read_csv(clips)
    assert list(table.columns) == ["file", "start", "end", "predicted", "beep", "hush"]
    assert main(["predict", str(tone_run), long, "--out", str(tmp_path / "x.txt")]) == 2
    assert "name a .csv or .json file" in capsys.readouterr().err


def voiced_in_silence(path, start=1.0, end=2.5, seconds=5.0):
    """Silence (faint noise) with a buzzy harmonic voice from ``start`` to ``end``."""
    t = np.arange(int(seconds * RATE)) / RATE
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 12))
    wave = 0.001 * np.random.default_rng(2).normal(size=len(t))
    inside = (t >= start) & (t < end)
    wave[inside] += 0.2 * voice[inside] * (1 + 0.5 * np.sin(2 * np.pi * 4 * t[inside]))
    soundfile.write(path, wave, RATE)
    return str(path), wave.astype(np.float32)


def test_voice_activity_detection_keeps_the_voiced_stretch(tmp_path):
    from emotransfer.inference.timeline import voiced

    _, wave = voiced_in_silence(tmp_path / "v.wav")
    ((start, end),) = voiced(wave, RATE)
    assert abs(start - 1.0) < 0.1 and abs(end - 2.5) < 0.15
    assert voiced(np.zeros(RATE, dtype=np.float32), RATE) == []
    with pytest.raises(ValueError, match="8, 16, 32 or 48 kHz"):
        voiced(wave, 22050)


def test_silero_finds_where_the_voice_starts_and_nothing_in_silence(tmp_path):
    """Silero is a speech detector: on the synthetic buzz it finds the onset (and part of the
    stretch), in faint noise nothing; rates other than 8 or 16 kHz are refused."""
    pytest.importorskip("silero_vad")
    from emotransfer.inference.timeline import voiced_silero

    _, wave = voiced_in_silence(tmp_path / "v.wav")
    found = voiced_silero(wave, RATE)
    assert found and abs(found[0][0] - 1.0) < 0.1 and all(1.0 - 0.1 <= a < b <= 2.5 + 0.15
                                                          for a, b in found)  # fmt: skip
    quiet = 0.001 * np.random.default_rng(3).normal(size=3 * RATE).astype(np.float32)
    assert voiced_silero(quiet, RATE) == []
    with pytest.raises(ValueError, match="8 or 16 kHz"):
        voiced_silero(wave, 22050)


def test_smoothing_and_the_duration_weighted_summary():
    from emotransfer.inference.timeline import summary

    table = pd.DataFrame({"start": [0.0, 1.0, 2.0], "end": [2.0, 3.0, 3.5],
                          "predicted": ["a", "b", "a"], "a": [0.9, 0.2, 0.8],
                          "b": [0.1, 0.8, 0.2]})  # fmt: skip
    whole = summary(table)
    assert whole["a"] == pytest.approx((0.9 * 2 + 0.2 * 2 + 0.8 * 1.5) / 5.5)
    assert whole["predicted"] == "a" and whole["seconds"] == 5.5


def test_long_recordings_with_vad_smoothing_and_a_summary_on_the_command_line(
    tone_run, tmp_path, capsys
):  # fmt: skip
    from emotransfer.cli import main
    from emotransfer.inference import Predictor

    path, _ = voiced_in_silence(tmp_path / "v.wav")
    predictor = Predictor.from_run(tone_run)
    table = predictor.predict_long(path, window_s=1.0, hop_s=0.5, vad=True, smooth=3)
    assert table["start"].min() >= 0.9 and table["end"].max() <= 2.7  # silence has no row
    np.testing.assert_allclose(table[["beep", "hush"]].sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="odd"):
        predictor.predict_long(path, smooth=2)
    assert main(["predict", str(tone_run), path, "--summary", "--vad", "--window", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "file,predicted,seconds,beep,hush" and len(lines) == 2
    silero = predictor.predict_long(path, window_s=1.0, hop_s=0.5, vad="silero")
    assert len(silero) and silero["start"].min() >= 0.9 and silero["end"].max() <= 2.7
    assert main(["predict", str(tone_run), path, "--long", "--vad", "silero", "--window",
                 "1"]) == 0  # fmt: skip
    assert capsys.readouterr().out.splitlines()[0] == "file,start,end,predicted,beep,hush"
    with pytest.raises(ValueError, match="vad 'loud': use webrtc or silero"):
        predictor.predict_long(path, vad="loud")
