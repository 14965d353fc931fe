"""YAML read with limits: configs, overrides and study files are answered at once.

PyYAML's safe loader builds no objects but plain ones, yet an alias shares its node, so a
short document can stand for billions of values ("billion laughs": ten anchors of ten
aliases each) and a value can contain itself (``&a {x: *a}``). Nothing goes wrong while
loading; whatever walks the result later (validation, a digest of the config, a copy)
expands it and runs until the machine is out of memory, or fails far from the cause. So
the loaded value is walked once here, counting every value as an alias expands it, and
refused past :data:`MAX_VALUES` values or :data:`MAX_DEPTH` levels, or at the first value
that contains itself, naming its key.

Example:
    >>> load_yaml("a: &x [1, 2]\\nb: *x")
    {'a': [1, 2], 'b': [1, 2]}
    >>> load_yaml("&a {x: *a}")
    Traceback (most recent call last):
    ...
    emotransfer.safe_yaml.YAMLLimitError: x: contains itself (a circular YAML alias)
    >>> bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\\n" + "".join(
    ...     f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\\n" for p, n in zip("abcdefgh", "bcdefghi"))
    >>> load_yaml(bomb)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    emotransfer.safe_yaml.YAMLLimitError: e.7...: aliases expand to more than 100000 values ...
"""

from __future__ import annotations

from typing import Any

import yaml

# Far above any config (the largest shipped one has under 200 values), far below a bomb.
MAX_VALUES = 100_000
MAX_DEPTH = 64


class YAMLLimitError(ValueError):
    """A YAML document that is not a plain tree of bounded size (the message names where)."""


def load_yaml(
    text: str, *, key: str = "", max_values: int = MAX_VALUES, max_depth: int = MAX_DEPTH
) -> Any:
    """``yaml.safe_load(text)``, refused unless it is a tree of at most ``max_values`` values
    (aliases counted as often as they are used) and ``max_depth`` levels.

    Args:
        text: the document.
        key: where the document goes (an override's ``a.b``), the start of named keys.

    Raises:
        yaml.YAMLError: not YAML (PyYAML's message).
        YAMLLimitError: too many values, too deep, or a value that contains itself; the
            message begins with the key (``a.b.0.c``) where it was found.
    """
    try:
        value = yaml.safe_load(text)
    except RecursionError:
        message = f"nested deeper than Python can read (limit {max_depth} levels)"
        raise YAMLLimitError(message) from None
    _Walk(max_values, max_depth).visit(value, key.split(".") if key else [], set())
    return value


class _Walk:
    """One pass over a loaded value: counts values, tracks the open containers."""

    def __init__(self, max_values: int, max_depth: int) -> None:
        self.max_values = max_values
        self.max_depth = max_depth
        self.count = 0

    def visit(self, value: Any, path: list[str], open_ids: set[int]) -> None:
        self.count += 1
        if self.count > self.max_values:
            raise YAMLLimitError(f"{where(path)}: aliases expand to more than "
                                 f"{self.max_values} values (an alias bomb?); write the values "
                                 "out, or use fewer aliases")  # fmt: skip
        if not isinstance(value, dict | list):
            return
        if id(value) in open_ids:
            raise YAMLLimitError(f"{where(path)}: contains itself (a circular YAML alias)")
        if len(open_ids) >= self.max_depth:
            raise YAMLLimitError(f"{where(path)}: nested deeper than {self.max_depth} levels")
        open_ids.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            self.visit(item, [*path, str(key)], open_ids)
        open_ids.discard(id(value))


def where(path: list[str], *, limit: int = 60) -> str:
    """A dotted key, shortened to ``limit`` characters (``...`` in the middle).

    Example:
        >>> where([]), where(["head", "params", "C"]), where(["k"] * 40, limit=20)
        ('the top level', 'head.params.C', 'k.k.k.k...k.k.k.k')
    """
    if not path:
        return "the top level"
    text = ".".join(path)
    if len(text) <= limit:
        return text
    half = (limit - 3) // 2
    return text[:half].rstrip(".") + "..." + text[-half:].lstrip(".")
