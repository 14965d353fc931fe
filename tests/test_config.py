import textwrap

import pytest

from emotransfer.config import (
    ConfigError,
    ExperimentConfig,
    apply_override,
    load_config,
    save_config,
)

YAML = """
name: trial
seed: 3
data:
  corpora:
    - {name: csv, root: /data/emodb}
    - {name: ravdess, root: /data/ravdess, params: {speech_only: true}}
  labels: {classes: [anger, sadness], merge: {excitement: happiness}}
split: {kind: speaker_kfold, folds: 4}
head: {name: svm, grid: {C: [0.1, 1.0]}}
"""


def write(tmp_path, text=YAML, name="experiment.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_load_yaml(tmp_path):
    config = load_config(write(tmp_path))
    assert isinstance(config, ExperimentConfig)
    assert (config.name, config.seed) == ("trial", 3)
    assert [c.name for c in config.data.corpora] == ["csv", "ravdess"]
    assert config.data.corpora[1].params == {"speech_only": True}
    assert config.data.labels.merge == {"excitement": "happiness"}
    assert (config.split.kind, config.split.folds) == ("speaker_kfold", 4)
    assert config.head.grid == {"C": [0.1, 1.0]}
    assert config.features.upstream == "egemaps"  # default kept


def test_defaults_without_file():
    config = load_config(None)
    assert config == ExperimentConfig()
    assert config.split.kind == "loso" and config.data.audio.sample_rate == 16000


def test_unknown_key_names_dotted_path(tmp_path):
    path = write(tmp_path, "split: {kind: loso, fold: 3}\n")
    with pytest.raises(ConfigError, match=r"experiment.yaml: split.fold: unknown key"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"data.corpora.0.rooot: unknown key"):
        load_config(None, overrides=["data.corpora=[{name: csv, root: /x, rooot: /y}]"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("split.folds=1", "split.folds: Input should be greater than or equal to 2"),
        ("split.kind=random", "split.kind: .*'random' is not a known split"),
        ("features.normalization=zscore", "features.normalization: .*'zscore' is not a valid"),
        ("data.audio.on_error=ignore", "data.audio.on_error: Input should be 'raise' or 'skip'"),
        ("evaluation.confidence=1.5", "evaluation.confidence: Input should be less than 1"),
        ("seed=abc", "seed: Input should be a valid integer"),
        ("finetune.epochs=0", "finetune: .*epochs: 0 trains nothing"),
    ],
)
def test_bad_value_names_key(override, message):
    with pytest.raises(ConfigError, match=rf"^{message}"):
        load_config(None, overrides=[override])


def test_overrides_are_yaml_typed(tmp_path):
    config = load_config(
        write(tmp_path),
        overrides=[
            "seed=7",
            "split.allow_leakage=true",
            "evaluation.confidence=0.9",
            "head.grid={C: [1, 10]}",
            "data.labels.classes=[anger, happiness, neutral]",
            "cache_dir=null",
        ],
    )
    assert config.seed == 7
    assert config.split.allow_leakage is True
    assert config.evaluation.confidence == 0.9
    assert config.head.grid == {"C": [1, 10]}
    assert config.data.labels.classes == ["anger", "happiness", "neutral"]
    assert config.cache_dir is None


def test_override_list_items_by_index(tmp_path):
    config = load_config(
        write(tmp_path),
        overrides=["data.corpora.1.root=/elsewhere", "data.corpora.0.params.file=other.csv"],
    )
    assert config.data.corpora[1].root == "/elsewhere"
    assert config.data.corpora[0].params == {"file": "other.csv"}
    raw = {"items": [1, 2, 3]}
    apply_override(raw, "items.2=x")
    assert raw == {"items": [1, 2, "x"]}


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("split.kind", "must look like key=value"),
        ("=loso", "must look like key=value"),
        ("head.grid={C: [1", "bad value"),
        ("data.corpora.5.root=/x", "'5' is not an index of a list of 2"),
        ("data.corpora.first.root=/x", "'first' is not an index"),
    ],
)
def test_bad_overrides(tmp_path, override, problem):
    with pytest.raises(ConfigError, match=problem):
        load_config(write(tmp_path), overrides=[override])


def test_override_below_a_scalar_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="seed.value"):
        load_config(write(tmp_path), overrides=["seed.value=1"])


def test_unreadable_configs(tmp_path):
    with pytest.raises(ConfigError, match="absent.yaml: cannot read config"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(write(tmp_path, "split: {kind: [loso\n"))
    with pytest.raises(ConfigError, match="must be a mapping, got list"):
        load_config(write(tmp_path, "- a\n- b\n"))
    assert load_config(write(tmp_path, "")) == ExperimentConfig()


def test_digest_is_stable_and_follows_values(tmp_path):
    first = load_config(write(tmp_path))
    second = load_config(write(tmp_path, name="copy.yaml"))
    assert first.digest() == second.digest()
    assert len(first.digest()) == 16
    assert load_config(write(tmp_path), overrides=["seed=4"]).digest() != first.digest()
    assert load_config(write(tmp_path), overrides=["split.folds=5"]).digest() != first.digest()
    reordered = write(
        tmp_path, "seed: 3\nname: trial\n" + YAML.replace("name: trial\nseed: 3\n", "")
    )
    assert load_config(reordered).digest() == first.digest()


def test_save_load_round_trip(tmp_path):
    config = load_config(write(tmp_path), overrides=["split.allow_leakage=true"])
    save_config(config, tmp_path / "saved.yaml")
    again = load_config(tmp_path / "saved.yaml")
    assert again == config
    assert again.to_dict() == config.to_dict()
    assert again.digest() == config.digest()


def test_assignment_is_validated():
    config = ExperimentConfig()
    with pytest.raises(ValueError, match="not a known split"):
        config.split.kind = "random"


def test_every_shipped_config_is_valid():
    """The configs in the repository load (studies: every variant's overrides too)."""
    from pathlib import Path

    from emotransfer.study import load_study

    root = Path(__file__).resolve().parents[1] / "configs"
    paths = sorted(root.rglob("*.yaml"))
    assert paths
    for path in paths:
        if path.parent.name == "studies":
            study = load_study(path)
            base = root.parent / study["base"] if "base" in study else None
            for overrides in study["variants"].values():
                load_config(base, overrides=[*study.get("overrides", []), *overrides])
        else:
            load_config(path)


def test_command_line_plugins_add_to_the_configs_own():
    config = load_config(None, overrides=["plugins=[a.b:C]"], plugins=["d.e:F", "a.b:C"])
    assert config.plugins == ["a.b:C", "d.e:F"]
    with pytest.raises(ConfigError, match="plugins"):
        load_config(None, overrides=["plugins=a.b:C"], plugins=["d.e:F"])
