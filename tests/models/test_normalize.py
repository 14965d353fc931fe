import numpy as np

from emotransfer.models.normalize import Standardizer, speaker_standardize


def test_speaker_standardize_per_speaker():
    rng = np.random.default_rng(0)
    speakers = np.repeat(["c/a", "c/b", "d/a"], [10, 20, 15])
    offsets = np.repeat([[0.0, 100.0], [50.0, -3.0], [-20.0, 7.0]], [10, 20, 15], axis=0)
    features = (offsets + rng.normal(0, [1.0, 5.0], (45, 2))).astype(np.float32)
    result = speaker_standardize(features, speakers)
    assert result.shape == features.shape and result.dtype == np.float64
    for speaker in np.unique(speakers):
        block = result[speakers == speaker]
        np.testing.assert_allclose(block.mean(axis=0), 0.0, atol=1e-9)
        np.testing.assert_allclose(block.std(axis=0), 1.0, rtol=1e-9)


def test_speaker_standardize_keeps_order_within_speaker():
    features = np.array([[1.0], [3.0], [10.0], [2.0], [14.0], [12.0]])
    speakers = np.array(["a", "a", "b", "a", "b", "b"])
    result = speaker_standardize(features, speakers).ravel()
    np.testing.assert_allclose(result[[0, 3, 1]], [-1.2247449, 0.0, 1.2247449])
    np.testing.assert_allclose(result[[2, 5, 4]], [-1.2247449, 0.0, 1.2247449])


def test_constant_features_become_zero():
    features = np.array([[5.0, 1.0], [5.0, 2.0], [5.0, 3.0]])
    result = speaker_standardize(features, np.array(["a", "a", "a"]))
    assert np.all(np.isfinite(result))
    np.testing.assert_array_equal(result[:, 0], 0.0)
    scaler = Standardizer().fit(features)
    np.testing.assert_array_equal(scaler.transform(features)[:, 0], 0.0)


def test_standardizer_uses_training_statistics_only():
    rng = np.random.default_rng(1)
    train = rng.normal([10.0, -5.0], [2.0, 0.5], (200, 2))
    test = rng.normal([0.0, 0.0], [1.0, 1.0], (50, 2))
    scaler = Standardizer().fit(train)
    np.testing.assert_allclose(scaler.mean_, train.mean(axis=0))
    np.testing.assert_allclose(scaler.scale_, train.std(axis=0))
    transformed = scaler.transform(train)
    np.testing.assert_allclose(transformed.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(transformed.std(axis=0), 1.0)
    np.testing.assert_allclose(scaler.transform(test), (test - train.mean(0)) / train.std(0))
    assert scaler.transform(test).mean(axis=0)[0] < -3  # far from 0: not refitted on test
