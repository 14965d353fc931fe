import inspect

import pytest

from emotransfer import registry
from emotransfer.features.logmel import LogMel
from emotransfer.models.heads import SVMHead


@pytest.mark.parametrize("kind", sorted(registry.TABLES))
def test_every_registered_name_resolves_to_a_class(kind):
    assert registry.names(kind) == sorted(registry.TABLES[kind])
    for name in registry.names(kind):
        cls = registry.resolve(kind, name)
        assert inspect.isclass(cls), (kind, name)
        module, _, attribute = registry.TABLES[kind][name].partition(":")
        assert (cls.__module__, cls.__name__) == (module, attribute)


def test_build_passes_parameters():
    head = registry.build("head", "svm", C=0.5, kernel="rbf")
    assert isinstance(head, SVMHead) and (head.C, head.kernel) == (0.5, "rbf")
    upstream = registry.build("upstream", "logmel", num_mels=8)
    assert isinstance(upstream, LogMel) and upstream.num_mels == 8


def test_unknown_name_lists_known_names():
    known = "da_autoencoder, dann, gan, layer_sum, logreg, mlp, multitask, ridge, svm"
    with pytest.raises(KeyError, match=f"unknown head 'forest'; known: {known}"):
        registry.resolve("head", "forest")
    with pytest.raises(KeyError, match="unknown corpus 'emodbb'; known: .*emodb.*ravdess"):
        registry.build("corpus", "emodbb", root="/x")


def test_unknown_kind_lists_known_kinds():
    with pytest.raises(
        KeyError, match="unknown component kind 'widget'; known: body, corpus, corruption, encoder"
    ):
        registry.names("widget")
    with pytest.raises(KeyError, match="'widget'"):
        registry.build("widget", "svm")


def test_class_path_allowed_by_plugins():
    svm = "emotransfer.models.heads:SVMHead"
    assert registry.resolve("head", svm, plugins=[svm]) is SVMHead
    logmel = "emotransfer.features.logmel:LogMel"
    built = registry.build("upstream", logmel, plugins=[logmel], num_mels=4)
    assert isinstance(built, LogMel) and built.num_mels == 4
    # an allowed class path reaches classes that are not registered at all
    from collections import OrderedDict

    allowed = ["collections:OrderedDict"]
    assert registry.resolve("corpus", "collections:OrderedDict", plugins=allowed) is OrderedDict


def test_class_path_not_allowed_is_refused_before_any_import(monkeypatch):
    imported = []
    monkeypatch.setattr(registry.importlib, "import_module", lambda name: imported.append(name))
    for kind, name in [("strategy", "subprocess:Popen"), ("upstream", "this:x"),
                       ("head", "emotransfer.models.heads:SVMHead")]:  # fmt: skip
        with pytest.raises(registry.PluginError, match=f"{kind} '{name}' is a class path"):
            registry.build(kind, name, args="touch marker", shell=True)
        with pytest.raises(KeyError, match=f"--plugin {name}"):
            registry.resolve(kind, name, plugins=["other:Class"])
    assert imported == []


def test_bad_class_path_names_it():
    with pytest.raises(ImportError, match="cannot load head 'no_such_pkg.mod:Head'"):
        registry.resolve("head", "no_such_pkg.mod:Head", plugins=["no_such_pkg.mod:Head"])
    forest = "emotransfer.models.heads:Forest"
    with pytest.raises(ImportError, match=f"from '{forest}'"):
        registry.resolve("head", forest, plugins=[forest])


def test_bad_parameters_name_the_component():
    with pytest.raises(TypeError, match="bad parameters for head 'svm'.*'depth'"):
        registry.build("head", "svm", depth=3)
    with pytest.raises(TypeError, match="bad parameters for upstream 'logmel'.*'mels'"):
        registry.build("upstream", "logmel", mels=40)


def test_every_named_plugin_must_import_even_if_unused():
    registry.check_plugins(["emotransfer.models.heads:RidgeHead"])
    for plugin, said in [("no.such:Module", "cannot import module 'no.such'"),
                         ("justaname", "must be module:Class"),
                         ("json:NoSuchClass", "module 'json' has no 'NoSuchClass'")]:  # fmt: skip
        with pytest.raises(ImportError, match=f"--plugin '{plugin}': {said}"):
            registry.check_plugins([plugin])
