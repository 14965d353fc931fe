"""Reliability suite: every bad input of issue 12 driven through the real command line."""
