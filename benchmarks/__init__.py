"""Benchmarks of chainrule against PyTorch and hand-written NumPy.

Run ``python -m benchmarks`` (``--quick`` for a smoke run, ``--no-write`` to
leave ``BENCHMARKS.md`` alone). See :mod:`benchmarks.core`.
"""
