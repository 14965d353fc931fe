"""Serving trained runs: the HTTP service (:mod:`emotransfer.serving.app`)."""
