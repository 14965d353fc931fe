from emotransfer.cli import main


def test_corpora_lists_every_adapter(capsys):
    assert main(["corpora"]) == 0
    out = capsys.readouterr().out
    for name in ["emodb", "ravdess", "crema_d", "tess", "savee", "emovo", "shemo", "urdu",
                 "iemocap", "msp_podcast", "csv", "synthetic"]:  # fmt: skip
        assert name in out


def test_bad_config_key_is_named(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("name: x\nhead: {nam: svm}\n")
    assert main(["run", str(config)]) == 2
    assert "head.nam: unknown key" in capsys.readouterr().err


def test_bad_override_value_is_named(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("name: x\n")
    assert main(["run", str(config), "-o", "split.kind=random"]) == 2
    assert "split.kind" in capsys.readouterr().err


def test_run_from_the_command_line(tmp_path, synthetic_root, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: cli\noutput_dir: {tmp_path}/runs\ncache_dir: {tmp_path}/cache\n"
        f"data:\n  corpora:\n    - {{name: synthetic, root: {synthetic_root},"
        " params: {num_speakers: 4, utterances_per_emotion: 4}}\n"
        "features: {workers: 1}\nevaluation: {bootstrap: 100}\nhead: {grid: {C: [0.1]}}\n"
    )
    assert main(["run", str(config), "--quiet", "-o", "seed=3"]) == 0
    out = capsys.readouterr().out
    assert "cli: UAR" in out and (tmp_path / "runs" / "cli" / "report.html").is_file()
    assert "seed: 3" in (tmp_path / "runs" / "cli" / "config.yaml").read_text()
    # --resume continues the same config (its saved folds are reused) ...
    assert main(["run", str(config), "--quiet", "-o", "seed=3", "--resume"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == out.splitlines()[0]
    # ... and refuses a different config or a folder with no run, naming the problem.
    assert main(["run", str(config), "--quiet", "-o", "seed=4", "--resume"]) == 2
    assert "holds a run of other inputs: the config changed: seed" in capsys.readouterr().err
    assert main(["run", str(config), "--quiet", "-o", "name=none", "--resume"]) == 2
    assert "holds no run" in capsys.readouterr().err


def test_corrupt_writes_a_loadable_corpus_copy(tmp_path, synthetic_root, capsys):
    out = tmp_path / "noisy"
    spec = "{name: noise, snr_db: 5, noise: pink}"
    # the synthetic corpus folder also holds a metadata.csv: read it with the csv adapter
    assert main(["corrupt", "--root", synthetic_root, "--spec", spec, "--out", str(out)]) == 0
    assert "wrote 64 files" in capsys.readouterr().out
    from emotransfer.data.corpora.csv import CsvCorpus

    table = CsvCorpus(root=out).load()
    assert len(table) == 64 and set(table["condition"]) == {"corrupted"}


def test_help_and_the_corpus_list_load_no_heavy_library():
    """`emotransfer --help` and `emotransfer corpora` start fast: neither imports torch,
    pandas, scipy or transformers (the corpus list reads the adapters' docstrings from
    source)."""
    import subprocess
    import sys

    probe = (
        "import sys\nfrom emotransfer.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'pandas', 'scipy', 'transformers', 'numpy')\n"
        "print('LOADED', sorted(m for m in heavy if m in sys.modules))\n"
    )
    for argv in (["--help"], ["corpora"]):
        done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True,
                              text=True, check=True)  # fmt: skip
        assert done.stdout.strip().splitlines()[-1] == "LOADED []", argv
