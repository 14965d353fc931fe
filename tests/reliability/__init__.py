"""Reliability suite (issue 12): every bad input driven through the real command line.

* :mod:`~tests.reliability.corpus` generates the tiny clean corpus and every broken file;
* :mod:`~tests.reliability.harness` calls ``emotransfer.cli.main`` in-process and reads
  what it did (exit code, stderr, warnings, metrics.json);
* ``*_cases.py`` hold the cases, one :class:`~tests.reliability.case.Case` per table row
  (id, what is broken, expected outcome, the text the outcome must hold);
* ``test_bad_inputs.py`` runs each case as a test, ``test_fuzz.py`` fuzzes the csv reader
  and the ``-o`` parser with hypothesis;
* ``python -m tests.reliability.table [--cases]`` prints the counts table for RESULTS.md.
"""
