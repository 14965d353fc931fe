"""Corpus adapters: one class per corpus, each reading the corpus in its own layout."""
