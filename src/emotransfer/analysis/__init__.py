"""Analyses that explain transfer: layer probing, distances between corpora."""
