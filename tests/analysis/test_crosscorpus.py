import json

from emotransfer.cli import main


def test_crosscorpus_matrix_and_leave_one_corpus_out(tmp_path, synthetic_root):
    # Two "corpora": the synthetic corpus read by its own adapter and through the csv adapter.
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: cc\noutput_dir: {tmp_path}\ncache_dir: {tmp_path}/cache\n"
        # the same clips twice: allowed explicitly (duplicate rows are refused by default)
        "data:\n  allow_duplicates: true\n  corpora:\n"
        f"    - {{name: synthetic, root: {synthetic_root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}\n"
        f"    - {{name: csv, root: {synthetic_root}}}\n"
        "features: {workers: 1}\nevaluation: {bootstrap: 50}\nhead: {grid: {C: [0.1]}}\n"
    )
    assert main(["crosscorpus", str(config), "--quiet"]) == 0
    result = json.loads((tmp_path / "cc" / "crosscorpus" / "crosscorpus.json").read_text())
    assert len(result["corpora"]) == 2 and len(result["matrix"]) == 2
    diagonal = result["matrix"][0][0]
    assert diagonal["train"] == [diagonal["test"]] and diagonal["uar"] > 0.4
    assert len(result["leave_one_corpus_out"]) == 2
    assert (tmp_path / "cc" / "crosscorpus" / "crosscorpus.png").is_file()


def test_domain_adversarial_head_gets_the_unlabelled_target(tmp_path, synthetic_root, monkeypatch):
    from emotransfer.models import dann as domain

    seen = []
    original = domain.DANNHead.fit

    def spy(self, features, labels, *, domains=None, target_features=None):
        seen.append((len(labels), None if target_features is None else len(target_features)))
        return original(self, features, labels, domains=domains, target_features=target_features)

    monkeypatch.setattr(domain.DANNHead, "fit", spy)
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: dann\noutput_dir: {tmp_path}\ncache_dir: {tmp_path}/cache\n"
        # the same clips twice: allowed explicitly (duplicate rows are refused by default)
        "data:\n  allow_duplicates: true\n  corpora:\n"
        f"    - {{name: synthetic, root: {synthetic_root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}\n"
        f"    - {{name: csv, root: {synthetic_root}}}\n"
        "features: {workers: 1}\nevaluation: {bootstrap: 20}\n"
        "head: {name: dann, params: {epochs: 3, hidden: 16}}\n"
    )
    assert main(["crosscorpus", str(config), "--quiet"]) == 0
    assert (64, 64) in seen  # train on one corpus, adapt to the other's 64 unlabelled clips


def test_corpus_normalisation_removes_a_channel_shift_between_corpora(tmp_path, synthetic_root):
    # Corpus "channel": the same clips through a telephone band at -12 dB. Trained on the
    # clean corpus, a globally standardised SVM meets shifted spectral and loudness features;
    # z-scoring each corpus with its own (unlabelled) statistics removes the shift.
    import pandas as pd

    from emotransfer.data.corpora.synthetic import SyntheticCorpus
    from emotransfer.data.corrupt_corpus import corrupt_corpus

    table = SyntheticCorpus(root=synthetic_root, num_speakers=4, utterances_per_emotion=4).load()
    corruption = [
        {"name": "band_limit", "low_hz": 300, "high_hz": 3400},
        {"name": "gain", "db": -12},
    ]
    corrupt_corpus(table, corruption, out_dir=tmp_path / "channel")
    metadata = pd.read_csv(tmp_path / "channel" / "metadata.csv")
    metadata.assign(corpus="channel").to_csv(tmp_path / "channel" / "metadata.csv", index=False)
    uars = {}
    for normalization in ("global", "corpus"):
        config = tmp_path / f"{normalization}.yaml"
        config.write_text(
            f"name: {normalization}\noutput_dir: {tmp_path}\ncache_dir: {tmp_path}/cache\n"
            "data:\n  corpora:\n"
            f"    - {{name: csv, root: {synthetic_root}}}\n"
            f"    - {{name: csv, root: {tmp_path / 'channel'}}}\n"
            f"features: {{workers: 1, normalization: {normalization}}}\n"
            "evaluation: {bootstrap: 20}\nhead: {grid: {C: [0.1]}}\n"
        )
        assert main(["crosscorpus", str(config), "--quiet"]) == 0
        path = tmp_path / normalization / "crosscorpus" / "crosscorpus.json"
        result = json.loads(path.read_text())
        uars[normalization] = {r["test"]: r["uar"] for r in result["leave_one_corpus_out"]}
    assert uars["corpus"]["channel"] > uars["global"]["channel"] + 0.1, uars


def test_a_trained_model_is_sent_to_run_with_a_cross_corpus_split(tmp_path, capsys):
    config = tmp_path / "t.yaml"
    config.write_text("name: t\nfinetune: {strategy: full}\n"
                      "data: {corpora: [{name: synthetic, root: /x}]}\n")  # fmt: skip
    assert main(["crosscorpus", str(config), "--quiet"]) == 2
    assert "split.kind=cross_corpus" in capsys.readouterr().err
