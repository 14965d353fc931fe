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
