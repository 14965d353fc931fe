"""YAML with limits: aliases are fine until they expand past the bound; a value that holds
itself and absurd nesting are refused at once, naming the key."""

import time

import pytest
import yaml

from emotransfer.config import ConfigError, load_config
from emotransfer.safe_yaml import YAMLLimitError, load_yaml


def bomb(levels):
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, levels + 1)]
    return "\n".join(lines)


def test_ordinary_aliases_load_as_shared_values():
    value = load_yaml("grid: &g {C: [0.1, 1.0]}\nother: *g")
    assert value == {"grid": {"C": [0.1, 1.0]}, "other": {"C": [0.1, 1.0]}}


def test_expansion_is_counted_and_bounded():
    assert len(load_yaml(bomb(3))["l3"]) == 10  # 10**3 values: fine
    with pytest.raises(YAMLLimitError, match="aliases expand to more than 1000 values"):
        load_yaml(bomb(3), max_values=1000)
    began = time.perf_counter()
    with pytest.raises(YAMLLimitError, match=r"^l4\..*: aliases expand to more than 100000"):
        load_yaml(bomb(9))  # 10**9 values once expanded
    assert time.perf_counter() - began < 1.0


@pytest.mark.parametrize("text, key", [
    ("&a {x: *a}", "head.params.x"),
    ("&a [1, *a]", "head.params.1"),
    ("{y: &a {z: [*a]}}", "head.params.y.z.0"),
])  # fmt: skip
def test_a_value_that_holds_itself_is_named_by_its_key(text, key):
    with pytest.raises(YAMLLimitError, match=f"^{key}: contains itself"):
        load_yaml(text, key="head.params")


def test_depth_is_bounded():
    assert load_yaml("[" * 10 + "]" * 10, max_depth=10) == [[[[[[[[[[]]]]]]]]]]
    with pytest.raises(YAMLLimitError, match="nested deeper than 10 levels"):
        load_yaml("[" * 11 + "]" * 11, max_depth=10)
    with pytest.raises(YAMLLimitError, match="nested deeper"):
        load_yaml("[" * 100_000 + "]" * 100_000)


def test_configs_and_overrides_answer_at_once_naming_where(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(
        "head:\n  params:\n" + "\n".join("    " + line for line in bomb(9).splitlines())
    )
    with pytest.raises(ConfigError, match=r"bomb.yaml: cannot read config: head\.params\.l4"):
        load_config(path)
    override = "head.params=" + "{" + bomb(9).replace("\n", ", ") + "}"
    with pytest.raises(ConfigError, match=r"override 'head.params=\{l0.*characters\)': head"):
        load_config(None, overrides=[override])
    with pytest.raises(ConfigError, match=r"head\.params\.x: contains itself"):
        load_config(None, overrides=["head.params=&a {x: *a}"])
    with pytest.raises(yaml.YAMLError):
        load_yaml("a: [")
