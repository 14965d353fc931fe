import json

from emotransfer.cli import main


def test_crosscorpus_matrix_and_leave_one_corpus_out(tmp_path, synthetic_root):
    # Two "corpora": the synthetic corpus read by its own adapter and through the csv adapter.
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: cc\noutput_dir: {tmp_path}\ncache_dir: {tmp_path}/cache\n"
        "data:\n  corpora:\n"
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
    from emotransfer.models import domain

    seen = []
    original = domain.DANNHead.fit

    def spy(self, features, labels, *, domains=None, target_features=None):
        seen.append((len(labels), None if target_features is None else len(target_features)))
        return original(self, features, labels, domains=domains, target_features=target_features)

    monkeypatch.setattr(domain.DANNHead, "fit", spy)
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: dann\noutput_dir: {tmp_path}\ncache_dir: {tmp_path}/cache\n"
        "data:\n  corpora:\n"
        f"    - {{name: synthetic, root: {synthetic_root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}\n"
        f"    - {{name: csv, root: {synthetic_root}}}\n"
        "features: {workers: 1}\nevaluation: {bootstrap: 20}\n"
        "head: {name: dann, params: {epochs: 3, hidden: 16}}\n"
    )
    assert main(["crosscorpus", str(config), "--quiet"]) == 0
    assert (64, 64) in seen  # train on one corpus, adapt to the other's 64 unlabelled clips
