"""Config and command-line cases: each must stop with an error naming the key or file."""

from __future__ import annotations

from tests.reliability.case import Attempt, Registry
from tests.reliability.harness import Observation, Workspace, expect_error, invoke

cases = Registry()


def _overrides(*overrides: str, flags: tuple[str, ...] = ()) -> Attempt:
    """An attempt: the clean corpus' run with ``overrides``; an error is due."""

    def attempt(workspace: Workspace, case_id: str) -> Observation:
        return expect_error(workspace.run(workspace.clean, case_id, *overrides, flags=flags))

    return attempt


def _config_file(text: str | bytes) -> Attempt:
    """An attempt: the clean corpus' run from a config file holding ``text``."""

    def attempt(workspace: Workspace, case_id: str) -> Observation:
        path = workspace.folder(case_id) / "broken.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        args = workspace.run_args(workspace.clean, case_id)
        args[1] = str(path)
        return expect_error(invoke(args))

    return attempt


cases.add("config-unknown-key", "a typo'd key in the config file", "error",
          "head.nam: unknown key")(_config_file("head: {nam: svm}\n"))  # fmt: skip
cases.add("config-unknown-override", "a typo'd key in an -o override", "error",
          "evaluation.bootstrapp")(_overrides("evaluation.bootstrapp=3"))  # fmt: skip
cases.add("config-bad-yaml", "a config file that is not YAML", "error",
          "broken.yaml")(_config_file("name: [unclosed\nhead: {\n"))  # fmt: skip
cases.add("config-not-mapping", "a config file holding a list", "error",
          "broken.yaml", "mapping")(_config_file("- a\n- b\n"))  # fmt: skip
cases.add("config-binary", "a config file of binary bytes", "error",
          "broken.yaml")(_config_file(b"\xff\xfe\x00\x01garbage"))  # fmt: skip
cases.add("config-bad-override-syntax", "an -o without key=value", "error",
          "key=value")(_overrides("justtext"))  # fmt: skip
cases.add("config-bad-value", "an unknown split kind", "error",
          "split.kind")(_overrides("split.kind=random"))  # fmt: skip
cases.add("config-name-absolute", "-o name=/tmp/x (an absolute path)", "error",
          "is not a plain run name")(_overrides("name=/tmp/emotransfer-x"))  # fmt: skip
cases.add("config-seed-negative", "seed -1", "error", "seed")(_overrides("seed=-1"))
cases.add("config-seed-huge", "seed 99999999999", "error", "seed")(_overrides("seed=99999999999"))
cases.add("config-min-not-below-max", "data.audio.min_duration >= max_duration", "error",
          "min_duration")(_overrides("data.audio.min_duration=5",
                                     "data.audio.max_duration=2"))  # fmt: skip
cases.add("config-layer-negative", "-o features.layer=-99 (logmel has 1 hidden state)", "error",
          "features.layer=-99", "hidden state")(_overrides("features.layer=-99"))  # fmt: skip
cases.add("config-layer-past-end", "-o features.layer=5 (logmel has 1 hidden state)", "error",
          "features.layer=5", "hidden state")(_overrides("features.layer=5"))  # fmt: skip
cases.add("config-typo-upstream", "features.upstream=logmell", "error",
          "logmell", "egemaps")(_overrides("features.upstream=logmell"))  # fmt: skip
cases.add("config-typo-head", "head.name=logregg", "error",
          "logregg", "svm")(_overrides("head.name=logregg"))  # fmt: skip
cases.add("config-class-path-head", "head.name=some.module:Class, not in plugins", "error",
          "is a class path")(_overrides("head.name=some.module:Class"))  # fmt: skip
cases.add("config-class-path-upstream", "features.upstream=os:system, not in plugins",
          "error", "is a class path")(_overrides("features.upstream=os:system"))  # fmt: skip
cases.add("config-plugin-not-importable", "--plugin some.module:Class that does not exist",
          "error", "some.module")(_overrides("head.name=some.module:Class",
                                            flags=("--plugin", "some.module:Class")))  # fmt: skip


@cases.add("config-typo-corpus", "a corpus adapter name csvv", "error", "csvv", "emodb")
def _typo_corpus(workspace: Workspace, case_id: str) -> Observation:
    corpus = f"data.corpora=[{{name: csvv, root: {workspace.clean}}}]"
    return expect_error(workspace.run(workspace.clean, case_id, corpus))


@cases.add("config-class-path-corpus", "a corpus named some.module:Class, not in plugins",
           "error", "is a class path")  # fmt: skip
def _class_path_corpus(workspace: Workspace, case_id: str) -> Observation:
    corpus = f"data.corpora=[{{name: 'some.module:Class', root: {workspace.clean}}}]"
    return expect_error(workspace.run(workspace.clean, case_id, corpus))


@cases.add("config-name-traversal", "-o name=../../x (a run folder outside output_dir)",
           "error", "is not a plain run name")  # fmt: skip
def _name_traversal(workspace: Workspace, case_id: str) -> Observation:
    output = workspace.folder(case_id) / "a" / "runs"
    escaped = output.parent.parent / "x"
    call = workspace.run(workspace.clean, case_id, "name=../../x", output=output)
    if escaped.exists():
        return Observation("silent", f"{escaped} was written outside output_dir {output}")
    return expect_error(call)


@cases.add("config-missing-file", "a config path that does not exist", "error", "nowhere.yaml")
def _missing_config(workspace: Workspace, case_id: str) -> Observation:
    args = workspace.run_args(workspace.clean, case_id)
    args[1] = str(workspace.folder(case_id) / "nowhere.yaml")
    return expect_error(invoke(args))


def _study(text: str | bytes) -> Attempt:
    """An attempt: ``emotransfer study`` of a study file holding ``text`` ({config} is
    replaced by the clean corpus' inline experiment)."""

    def attempt(workspace: Workspace, case_id: str) -> Observation:
        config = (f"{{output_dir: {workspace.root / 'runs'}, cache_dir: {workspace.cache}, "
                  f"data: {{corpora: [{{name: csv, root: {workspace.clean}}}]}}, "
                  "features: {upstream: logmel, workers: 1}, evaluation: {bootstrap: 0}, "
                  "head: {name: logreg, grid: {C: [1.0]}}}")  # fmt: skip
        data = text if isinstance(text, bytes) else text.replace("{config}", config).encode()
        path = workspace.folder(case_id) / "study.yaml"
        path.write_bytes(data)
        return expect_error(invoke(["study", str(path), "--quiet"]))

    return attempt


cases.add("study-variant-traversal", "a study variant named ../../x", "error",
          "is not a plain run name")(_study(
              "name: s\nconfig: {config}\nvariants: {'../../x': [seed=1]}\n"))  # fmt: skip
cases.add("study-name-traversal", "a study named ../x", "error", "study.yaml",
          "not a plain name")(_study(
              "name: ../x\nconfig: {config}\nvariants: {a: [seed=1]}\n"))  # fmt: skip
cases.add("study-unknown-key", "a study file with a typo'd key", "error", "study.yaml",
          "variantz")(_study("name: s\nconfig: {config}\nvariantz: {a: []}\n"))  # fmt: skip
cases.add("study-list", "a study file holding a list of mappings", "error", "study.yaml")(
    _study("- name: s\n- variants: {a: []}\n")
)
cases.add("study-binary", "a study file of binary bytes", "error", "study.yaml")(
    _study(b"\xff\xfe\x00\x01garbage")
)


def _bomb(levels: int = 9) -> str:
    """A "billion laughs" YAML flow mapping: ``levels`` anchors of nine aliases each (9**9
    values once expanded, from 400 characters)."""
    names = "abcdefghij"[: levels + 1]
    items = [f"{names[0]}: &{names[0]} [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    items += [f"{name}: &{name} [{', '.join(['*' + before] * 9)}]"
              for before, name in zip(names, names[1:])]  # fmt: skip
    return "{" + ", ".join(items) + "}"


cases.add("config-yaml-bomb-params", "a billion-laughs alias bomb in head.params (config file)",
          "error", "broken.yaml", "head.params", "alias bomb")(
              _config_file(f"head:\n  name: logreg\n  params: {_bomb()}\n"))  # fmt: skip
cases.add("config-yaml-bomb-override", "a billion-laughs alias bomb in -o head.params=...",
          "error", "override", "head.params", "alias bomb", "characters)")(
              _overrides(f"head.params={_bomb()}"))  # fmt: skip
cases.add("config-yaml-circular-override", "-o 'head.params=&a {x: *a}' (a value holding "
          "itself)", "error", "head.params.x", "contains itself")(
              _overrides("head.params=&a {x: *a}"))  # fmt: skip
cases.add("config-yaml-circular-file", "a config file whose head.params holds itself", "error",
          "broken.yaml", "head.params.x", "contains itself")(
              _config_file("head: {name: logreg, params: &a {x: *a}}\n"))  # fmt: skip
cases.add("config-yaml-deep", "a config file of 100,000 nested lists", "error", "broken.yaml",
          "nested")(_config_file("[" * 100_000 + "]" * 100_000))  # fmt: skip
cases.add("config-long-value", "-o name=<10,000 characters>", "error", "name",
          "(10000 characters)")(_overrides("name=" + "x" * 10_000))  # fmt: skip
cases.add("config-long-override-syntax", "an -o of 10,000 characters without =", "error",
          "key=value", "(10000 characters)")(_overrides("y" * 10_000))  # fmt: skip
STUDY_BOMB = f"name: s\nconfig: {{config}}\nvariants: {{a: [seed=1]}}\nx: {_bomb()}\n"
cases.add("study-yaml-bomb", "a study file that holds an alias bomb", "error", "study.yaml",
          "alias bomb")(_study(STUDY_BOMB))  # fmt: skip
