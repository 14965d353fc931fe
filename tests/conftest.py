"""Shared fixtures: a small synthetic corpus generated once per test session."""

from __future__ import annotations

import pandas as pd
import pytest

from emotransfer.data.corpora.synthetic import SyntheticCorpus


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("synthetic")
    SyntheticCorpus(root=root, num_speakers=4, utterances_per_emotion=4).load()
    return str(root)


@pytest.fixture(scope="session")
def synthetic_table(synthetic_root: str) -> pd.DataFrame:
    return SyntheticCorpus(root=synthetic_root, num_speakers=4, utterances_per_emotion=4).load()
