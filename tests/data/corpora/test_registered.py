import inspect

import pytest

from emotransfer.registry import TABLES, build, resolve

ADAPTERS = sorted(set(TABLES["corpus"]) - {"synthetic"})


@pytest.mark.parametrize("name", ADAPTERS)
def test_registry_builds_adapter_without_work(name, tmp_path):
    corpus = build("corpus", name, root=tmp_path / "not-read-yet")
    assert corpus.root == tmp_path / "not-read-yet"
    assert callable(corpus.load)


@pytest.mark.parametrize("name", ADAPTERS)
def test_constructor_is_keyword_only_and_documented(name):
    cls = resolve("corpus", name)
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert parameters and all(p.kind is p.KEYWORD_ONLY for p in parameters)
    assert ".wav" in cls.__doc__ or "metadata csv" in cls.__doc__
