"""Amaranth components built from the specs in :mod:`zoforge.golden`."""
