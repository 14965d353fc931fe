import numpy as np
import pytest
from sklearn.base import clone

from emotransfer import registry
from emotransfer.analysis.fewshot import build_method
from emotransfer.models.fewshot_baselines import TransferBaseline
from emotransfer.models.maml import MAMLClassifier, SecondOrderMAML, SharedLabelMAML
from emotransfer.models.support_layer import SupportLayerChoice

STUDY = {"ways": 4, "hidden": 8, "meta_steps": 3, "seed": 2, "shots": 2, "queries": 3}


def test_every_method_is_registered_where_its_class_lives():
    assert set(registry.names("fewshot")) >= {
        "maml",
        "maml_shared",
        "maml_second_order",
        "transfer",
        "multitask",
        "scratch",
    }
    for name in registry.names("fewshot"):
        cls = registry.resolve("fewshot", name)
        assert f"{cls.__module__}:{cls.__name__}" == registry.TABLES["fewshot"][name]


@pytest.mark.parametrize("name", registry.names("fewshot"))
def test_study_settings_reach_the_methods_that_take_them(name):
    method = build_method(name, **STUDY)
    params = method.get_params()
    assert (params["hidden"], params["seed"]) == (8, 2)
    if isinstance(method, MAMLClassifier):
        assert (params["ways"], params["meta_steps"], params["shots"], params["queries"]) == (
            4, 3, 2, 3)  # fmt: skip
    else:
        assert "ways" not in params
    assert clone(method).get_params() == params


def test_fixed_flag_classes_are_maml_with_that_flag():
    shared = build_method("maml_shared", **STUDY)
    second = build_method("maml_second_order", **STUDY)
    assert type(shared) is SharedLabelMAML and (shared.relabel, shared.first_order) == (False, True)
    assert type(second) is SecondOrderMAML and (second.relabel, second.first_order) == (True, False)
    assert "relabel" not in shared.get_params() and "first_order" not in second.get_params()
    rng = np.random.default_rng(0)
    labels = np.tile(np.repeat(np.arange(4), 5), 2)
    features = np.eye(4)[labels] + rng.normal(0, 0.5, (40, 4))
    groups = np.repeat([0, 1], 20)
    plain = MAMLClassifier(**STUDY, relabel=False)
    assert shared.meta_fit(features, labels, groups).meta_losses_ == plain.meta_fit(
        features, labels, groups).meta_losses_  # fmt: skip


def test_layer_variants_wrap_the_base_method_and_unknown_names_are_refused():
    method = build_method("transfer_layers", **STUDY, fallback_layer=1)
    assert isinstance(method, SupportLayerChoice) and method.fallback_layer == 1
    assert isinstance(method.method, TransferBaseline) and method.method.hidden == 8
    with pytest.raises(ValueError, match=r"unknown method 'reptile'; known: \['maml', "):
        build_method("reptile", **STUDY)
    with pytest.raises(ValueError, match="unknown method 'reptile'"):
        build_method("reptile_layers", **STUDY)
