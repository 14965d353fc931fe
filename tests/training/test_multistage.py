import numpy as np
import pandas as pd
import pytest
import soundfile
from tests.tiny_models import TINY_BERT_WORDS

from emotransfer.config import load_config
from emotransfer.data.split_disjoint import inner_disjoint_splits
from emotransfer.data.splits import Fold
from emotransfer.evaluation.metrics import ccc
from emotransfer.experiment import run
from emotransfer.training.multistage import multistage_fold
from emotransfer.training.regression import run_regression_fold

COMMON = {"inner_folds": 3, "seed": 0}


def split_dimensions(rows=150, seed=0):
    """Arousal only in input A, valence only in input B, dominance from both."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(rows, 5)), rng.normal(size=(rows, 5))
    values = np.stack([a[:, 0], b[:, 0], a[:, 0] + b[:, 0]], axis=1)
    values += 0.2 * rng.normal(size=values.shape)
    return a, b, values, np.repeat(np.arange(15), rows // 15)


def test_each_dimension_is_learned_from_the_input_that_carries_it():
    a, b, values, groups = split_dimensions()
    fold = Fold("f", np.arange(100), np.arange(100, 150))
    found = multistage_fold(np.hstack([a, b]), values, groups, fold, blocks=[5, 5], **COMMON)
    scores = [ccc(values[rows, k], guess) for k, (rows, guess) in enumerate(found)]
    assert min(scores) > 0.9
    # either input alone misses a dimension (and half of the third)
    alone = [run_regression_fold(a, values[:, k], groups, fold, alphas=[1.0], **COMMON)
             for k in range(3)]  # fmt: skip
    assert ccc(values[alone[1][0], 1], alone[1][1]) < 0.3
    assert scores[2] > ccc(values[alone[2][0], 2], alone[2][1]) + 0.2


def test_an_input_of_pure_noise_does_not_hurt():
    a, _, values, groups = split_dimensions(seed=1)
    noise = np.random.default_rng(2).normal(size=(len(a), 300))
    fold = Fold("f", np.arange(100), np.arange(100, 150))
    fused = multistage_fold(np.hstack([a, noise]), values, groups, fold, blocks=[5, 300],
                            **COMMON)  # fmt: skip
    for k in (0, 2):
        rows, alone, _ = run_regression_fold(a, values[:, k], groups, fold, alphas=[1.0, 10.0],
                                             **COMMON)  # fmt: skip
        assert ccc(values[rows, k], fused[k][1]) > ccc(values[rows, k], alone) - 0.05


def test_unknown_values_are_left_out_of_training_and_of_the_test():
    a, b, values, groups = split_dimensions(seed=3)
    values[::4, 1] = np.nan
    fold = Fold("f", np.arange(100), np.arange(100, 150))
    found = multistage_fold(np.hstack([a, b]), values, groups, fold, blocks=[5, 5], **COMMON)
    rows, guess = found[1]
    assert len(rows) == np.isfinite(values[100:, 1]).sum() and np.isfinite(guess).all()
    assert len(found[0][0]) == 50 and ccc(values[rows, 1], guess) > 0.85


def test_a_disjoint_split_predicts_every_training_row_out_of_fold_once():
    speakers, words = np.repeat(np.arange(9), 9), np.tile(np.arange(9), 9)
    splits = inner_disjoint_splits(speakers, words, folds=3, seed=0, every_pair=True)
    validated = np.concatenate([valid for _, valid in splits])
    assert sorted(validated.tolist()) == list(range(81))
    for train, valid in splits:  # speakers and words of a validated row are never trained on
        assert not set(speakers[train]) & set(speakers[valid])
        assert not set(words[train]) & set(words[valid])
    a, b, values, _ = split_dimensions(rows=81)
    fold = Fold("f", np.arange(81), np.arange(81))
    found = multistage_fold(np.hstack([a, b]), values, speakers, fold, blocks=[5, 5],
                            content=words, **COMMON)  # fmt: skip
    assert all(len(rows) == 81 for rows, _ in found)


def test_bad_blocks_and_a_single_training_speaker_are_refused():
    a, b, values, groups = split_dimensions()
    fold = Fold("f", np.arange(100), np.arange(100, 150))
    with pytest.raises(ValueError, match="two or more inputs"):
        multistage_fold(a, values, groups, fold, blocks=[5], **COMMON)
    with pytest.raises(ValueError, match="add up"):
        multistage_fold(np.hstack([a, b]), values, groups, fold, blocks=[5, 4], **COMMON)
    lonely = Fold("one", np.arange(10), np.arange(100, 150))
    with pytest.raises(ValueError, match="fold one trains on one speaker"):
        multistage_fold(np.hstack([a, b]), values, groups, lonely, blocks=[5, 5], **COMMON)


@pytest.fixture(scope="module")
def loud_words(tmp_path_factory):
    """Arousal is the clip's loudness, valence the word said, dominance both."""
    root = tmp_path_factory.mktemp("loud_words")
    (root / "audio").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for speaker in ("s1", "s2", "s3", "s4", "s5", "s6"):
        for number in range(12):
            word = TINY_BERT_WORDS[number % 6]
            valence = -1.0 if number % 6 < 3 else 1.0
            arousal = rng.uniform(-1, 1)
            name = f"{speaker}_{number}"
            wave = 10 ** (arousal - 1.5) * rng.normal(size=8000)
            soundfile.write(root / "audio" / f"{name}.wav", wave, 16000)
            rows.append({"file": f"audio/{name}.wav", "speaker": speaker, "text": word,
                         "emotion": "anger" if valence < 0 else "joy", "arousal": arousal,
                         "valence": valence, "dominance": arousal + valence})  # fmt: skip
    pd.DataFrame(rows).to_csv(root / "metadata.csv", index=False)
    return root


def test_a_frozen_run_of_audio_and_text_fuses_its_dimensions_in_two_stages(
    tmp_path, loud_words, tiny_bert
):
    def config(*overrides):
        return load_config(None, overrides=[
            "name=staged", f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}",
            f"data.corpora=[{{name: csv, root: {loud_words}}}]", "head.name=logreg",
            "head.grid={C: [1.0]}", "evaluation.bootstrap=20", "features.upstream=logmel",
            "features.normalization=global",
            f"inputs={{text: {{upstream: hf_text, params: {{model: {tiny_bert}}}, layer: -1, "
            "pooling: mean}}", "evaluation.dimensions=[arousal, valence, dominance]",
            *overrides,
        ])  # fmt: skip

    staged = run(config("evaluation.dimension_fusion=multistage"), progress=False).metrics
    report = staged["dimensional"]
    assert report["arousal"]["model"].startswith("multistage")
    assert report["arousal"]["ccc"]["value"] > 0.8  # loudness, from the audio
    assert report["valence"]["ccc"]["value"] > 0.8  # the word, from the text
    assert report["dominance"]["ccc"]["value"] > 0.8  # both
    predictions = pd.read_csv(tmp_path / "staged" / "predictions.csv")
    assert predictions["pred_valence"].notna().all()
    with pytest.raises(ValueError, match="multistage fuses the dimensional predictions"):
        config("evaluation.dimension_fusion=multistage", "inputs={}")
    with pytest.raises(ValueError, match="this run has no dimensions"):
        config("evaluation.dimension_fusion=multistage", "evaluation.dimensions=[]")
