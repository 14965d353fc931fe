"""N-way K-shot episodes from labelled source tasks, for meta-learning (MAML).

Shapes: ``features`` ``(N, D)`` float, ``labels`` ``(N,)`` int, ``groups`` ``(N,)`` any
hashable ids (source task of each row).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Episode:
    """One N-way K-shot task drawn from a single source group.

    ``support_*`` hold ``ways * shots`` rows and ``query_*`` ``ways * queries`` rows; labels
    are episode-local in ``[0, ways)`` and ``classes[i]`` is the original label of class ``i``.
    ``*_indices`` point into the arrays given to :func:`episodes`.
    """

    support_features: np.ndarray
    support_labels: np.ndarray
    query_features: np.ndarray
    query_labels: np.ndarray
    group: Hashable
    classes: np.ndarray
    support_indices: np.ndarray
    query_indices: np.ndarray


def episodes(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    ways: int,
    shots: int,
    queries: int,
    rng: np.random.Generator,
    relabel: bool = True,
) -> Iterator[Episode]:
    """Endless N-way K-shot episodes, each from one source group chosen uniformly.

    A group takes part if it has at least ``ways`` classes with ``shots + queries`` rows each.
    Classes of an episode are drawn at random and relabelled ``0..ways-1`` in random order,
    so no output unit can memorise an emotion. With ``relabel=False`` (sources and target
    share one label space, e.g. harmonised emotions) every episode holds all ``ways`` classes
    under their own ids ``0..ways-1``, so the output layer learns the emotions themselves.

    Raises:
        ValueError: if no group can fill an episode, or ``relabel=False`` and the labels are
            not exactly ``0..ways-1``.

    Example:
        >>> labels = np.repeat(np.arange(3), 4)
        >>> groups = np.tile(["de", "en"], 6)
        >>> sampler = episodes(np.zeros((12, 2)), labels, groups, ways=2, shots=1, queries=1,
        ...                    rng=np.random.default_rng(0))
        >>> episode = next(sampler)
        >>> episode.support_features.shape, sorted(episode.support_labels.tolist())
        ((2, 2), [0, 1])
    """
    features, labels, groups = np.asarray(features), np.asarray(labels), np.asarray(groups)
    if not relabel and sorted(np.unique(labels).tolist()) != list(range(ways)):
        raise ValueError(f"relabel=False needs labels 0..{ways - 1} (ways = the number of "
                         f"shared classes); have {np.unique(labels).tolist()}")  # fmt: skip
    needed = shots + queries
    pools: dict[Hashable, dict[int, np.ndarray]] = {}
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        by_class = {int(c): rows[labels[rows] == c] for c in np.unique(labels[rows])}
        usable = {c: members for c, members in by_class.items() if len(members) >= needed}
        if len(usable) >= ways:
            pools[group.item() if hasattr(group, "item") else group] = usable
    if not pools:
        raise ValueError(
            f"no group has {ways} classes with {needed} rows each (shots={shots}, "
            f"queries={queries})"
        )
    if not relabel:
        pools = {name: pool for name, pool in pools.items() if len(pool) == ways}
        if not pools:
            raise ValueError(f"no group has all {ways} classes with {needed} rows each")
    return _episode_stream(features, pools, ways, shots, queries, rng, relabel)


def _episode_stream(
    features: np.ndarray,
    pools: dict[Hashable, dict[int, np.ndarray]],
    ways: int,
    shots: int,
    queries: int,
    rng: np.random.Generator,
    relabel: bool = True,
) -> Iterator[Episode]:
    names = list(pools)
    while True:
        group = names[rng.integers(len(names))]
        available = np.array(sorted(pools[group]))
        classes = rng.choice(available, size=ways, replace=False) if relabel else available
        picks = [rng.choice(pools[group][int(c)], shots + queries, replace=False) for c in classes]
        support = np.concatenate([rows[:shots] for rows in picks])
        query = np.concatenate([rows[shots:] for rows in picks])
        yield Episode(
            support_features=features[support],
            support_labels=np.repeat(np.arange(ways), shots),
            query_features=features[query],
            query_labels=np.repeat(np.arange(ways), queries),
            group=group,
            classes=classes,
            support_indices=support,
            query_indices=query,
        )
