"""The acoustic corruptions, one file each, and what they share (``base``, ``sources``).

:mod:`emotransfer.data.corrupt` is the public entry point: it re-exports every corruption and
builds them from config specs (:func:`~emotransfer.data.corrupt.build_corruption`).
"""
