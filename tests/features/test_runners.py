import numpy as np
import pandas as pd
import soundfile as sf

from emotransfer.features import runners
from emotransfer.features.cache import FeatureCache
from emotransfer.features.extract import extract_features

RATE = 16000


class CountingUpstream:
    """A batched upstream that records, at each call, its clips' lengths and how many clips
    had been decoded by then."""

    sample_rate = RATE
    batch_size = 2

    def __init__(self, decoded):
        self.decoded, self.calls = decoded, []

    def identity(self):
        return {"upstream": "counting"}

    def extract_batch(self, waves):
        self.calls.append(([len(wave) for wave in waves], self.decoded[0]))
        return [np.tile(wave[:4].reshape(1, 1, 4), (2, 3, 1)) for wave in waves]


def test_batches_run_shortest_first_and_decoding_stays_two_batches_ahead(tmp_path, monkeypatch):
    lengths = [9, 3, 7, 1, 5, 2, 8, 4, 6, 10, 11, 12]  # tenths of a second
    files = []
    for number, tenths in enumerate(lengths):
        path = tmp_path / f"{number}.wav"
        sf.write(path, np.full(tenths * 1600, 0.1 + number / 100), RATE)
        files.append(str(path))
    decoded = [0]
    load = runners.load_audio

    def counting_load(*args, **options):
        decoded[0] += 1
        return load(*args, **options)

    monkeypatch.setattr(runners, "load_audio", counting_load)
    upstream = CountingUpstream(decoded)
    table = pd.DataFrame({"file": files, "start": np.nan, "end": np.nan})
    result = extract_features(table, upstream, cache=FeatureCache(root=tmp_path / "c",
                              identity=upstream.identity()), audio_options={"sample_rate": RATE},
                              progress=False, level="pooled")  # fmt: skip
    assert not result.errors and all(a.shape == (2, 2, 4) for a in result.arrays)
    seen = [n for sizes, _ in upstream.calls for n in sizes]
    assert seen == sorted(seen) and len(upstream.calls) == 6
    # when batch k (0-based) runs, at most batches k..k+2 have been decoded beyond those done
    for k, (_, count) in enumerate(upstream.calls):
        assert count <= 2 * (k + 3), (k, count)
    assert upstream.calls[0][1] < len(lengths)  # the corpus is not decoded up front
    # every clip keeps the statistics of its own audio (rows in the manifest's order)
    means = [float(array[0, 0, 0]) for array in result.arrays]
    assert np.allclose(means, [0.1 + number / 100 for number in range(len(lengths))], atol=1e-4)


def test_frames_are_stored_only_by_a_pass_that_asks_for_them(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, np.full(8000, 0.2), RATE)
    table = pd.DataFrame({"file": [str(path)], "start": [np.nan], "end": [np.nan]})
    upstream = CountingUpstream([0])
    cache = FeatureCache(root=tmp_path / "c", identity=upstream.identity())
    stored = lambda: sorted(p.parent.parent == cache.folder  # noqa: E731 (a frame entry?)
                            for p in (tmp_path / "c").rglob("*.safetensors"))  # fmt: skip
    pooled = extract_features(table, upstream, cache=cache, audio_options={"sample_rate": RATE},
                              progress=False, level="pooled")  # fmt: skip
    assert pooled.arrays[0].shape == (2, 2, 4) and stored() == [False]  # statistics only
    frames = extract_features(table, upstream, cache=cache, audio_options={"sample_rate": RATE},
                              progress=False, level="frames")  # fmt: skip
    assert frames.misses == 1 and frames.arrays[0].shape == (2, 3, 4)
    assert stored() == [False, True]  # the frames beside the statistics
