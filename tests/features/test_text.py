import numpy as np
import pandas as pd
import pytest
import torch
from tests.tiny_models import TINY_BERT_WORDS

from emotransfer.config import load_config
from emotransfer.encoders.hf_text import HFTextEncoder
from emotransfer.experiment import run
from emotransfer.features.cache import FeatureCache
from emotransfer.features.text import TextUpstream, extract_text_features, text_key

ANGER, SADNESS = TINY_BERT_WORDS[:3], TINY_BERT_WORDS[3:6]


def test_statistics_are_each_texts_own_token_mean_and_spread(tiny_bert):
    texts = ["calm", "furious livid enraged gloomy", "tearful"]
    together = TextUpstream(model=tiny_bert, batch_size=8).statistics(texts)
    alone = [TextUpstream(model=tiny_bert).statistics([text])[0] for text in texts]
    for joint, single in zip(together, alone):
        np.testing.assert_allclose(joint, single, atol=1e-5)  # padding changes nothing
    encoder = HFTextEncoder(model=tiny_bert).eval()
    with torch.no_grad():
        states = encoder(encoder.prepare([texts[1]])).states[0].numpy()  # (L + 1, T, D)
    np.testing.assert_allclose(together[1][:, 0], states.mean(axis=1), atol=1e-5)
    np.testing.assert_allclose(together[1][:, 1], states.std(axis=1), atol=1e-5)


def test_texts_are_encoded_once_and_then_read_from_the_cache(tiny_bert, tmp_path):
    table = pd.DataFrame({"file": list("abcd"), "text": ["calm", "livid", "calm", "gloomy"]})
    upstream = TextUpstream(model=tiny_bert)
    first = extract_text_features(table, "text", upstream, tmp_path)
    assert (first.hits, first.misses) == (0, 4)
    np.testing.assert_array_equal(first.arrays[0], first.arrays[2])
    again = extract_text_features(table, "text", upstream, tmp_path)
    assert (again.hits, again.misses) == (4, 0)
    for old, new in zip(first.arrays, again.arrays):
        np.testing.assert_array_equal(old, new)
    # a damaged entry is found, deleted and encoded again
    cache = FeatureCache(root=tmp_path, identity=upstream.identity(), modality="text")
    cache.path(text_key("livid")).write_bytes(b"not safetensors")
    repaired = extract_text_features(table, "text", upstream, tmp_path)
    assert repaired.corrupt == 1 and repaired.misses == 1
    np.testing.assert_array_equal(repaired.arrays[1], first.arrays[1])


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            pd.DataFrame({"file": ["a", "b"], "text": ["calm", " "]}),
            r"1 row\(s\) have no text.*'b'",
        ),
        (pd.DataFrame({"file": ["a"]}), "no column 'text'|not have"),
    ],
)
def test_rows_without_text_are_refused_by_name(tiny_bert, tmp_path, table, message):
    with pytest.raises(ValueError, match=message):
        extract_text_features(table, "text", TextUpstream(model=tiny_bert), tmp_path)


def test_a_model_that_cannot_load_is_named():
    with pytest.raises(ValueError, match="cannot load the text model '/no/such/model'"):
        TextUpstream(model="/no/such/model").statistics(["calm"])


@pytest.fixture
def said_words(tmp_path):
    """Four speakers each say six words twice; the word tells the class. No audio exists."""
    rows = [
        {
            "file": f"{s}_{w}_{k}.wav",
            "speaker": s,
            "text": w,
            "text_id": w,
            "emotion": "anger" if w in ANGER else "sadness",
        }
        for s in ("s1", "s2", "s3", "s4")
        for w in ANGER + SADNESS
        for k in (1, 2)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "metadata.csv", index=False)
    return tmp_path


def text_config(tmp_path, root, model, *overrides):
    return load_config(None, overrides=[
        "name=text", f"output_dir={tmp_path / 'runs'}", f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora=[{{name: csv, root: {root}}}]",
        f"inputs={{text: {{upstream: hf_text, params: {{model: {model}}}, layer: -1, "
        "pooling: mean}}", "head.name=logreg", "head.grid={C: [1.0]}",
        "evaluation.bootstrap=20", *overrides,
    ])  # fmt: skip


def test_a_frozen_text_run_learns_the_words_and_the_disjoint_split_shows_it(
    tmp_path, said_words, tiny_bert
):
    # Leave-one-speaker-out tests words seen in training: a lookup scores.
    seen = run(text_config(tmp_path, said_words, tiny_bert), progress=False)
    assert seen.metrics["summary"]["uar"]["value"] == 1.0
    assert seen.metrics["data"]["n_files"] == 48  # no audio file exists, none is needed
    # Holding the words out too, a random (untrained) encoder knows nothing of unseen words.
    unseen = run(text_config(tmp_path, said_words, tiny_bert, "name=disjoint",
                             "split.kind=disjoint", "split.folds=2", "split.content_folds=3",
                             "split.content=text"), progress=False)  # fmt: skip
    assert unseen.metrics["summary"]["uar"]["value"] < 0.8


def test_a_frozen_text_run_needs_hf_text_and_audio_makes_it_early_fusion(
    tmp_path, said_words, tiny_bert
):
    with pytest.raises(ValueError, match="frozen text run encodes with hf_text"):
        text_config(tmp_path, said_words, tiny_bert, "inputs.text.upstream=egemaps")
    fused = text_config(tmp_path, said_words, tiny_bert, "features.upstream=egemaps")
    assert fused.early_fusion and not fused.text_only  # audio (the old way) and text
    with pytest.raises(ValueError, match="frozen text input encodes with hf_text"):
        text_config(tmp_path, said_words, tiny_bert, "features.upstream=egemaps",
                    "inputs.text.upstream=logmel")  # fmt: skip
    with pytest.raises(ValueError, match="cannot corrupt its text"):
        text_config(tmp_path, said_words, tiny_bert, "features.upstream=egemaps",
                    "data.test_corruption={name: noise, snr_db: 10}")  # fmt: skip
    # the config a run folder keeps (features repeating the text) reads back as text alone
    again = load_config(None, overrides=[])
    again = type(again).model_validate(text_config(tmp_path, said_words, tiny_bert).to_dict())
    assert again.text_only
