"""``python -m benchmarks``: the same as ``chainrule bench`` (see :mod:`chainrule.bench`).

The suite lives in the package so that an installed chainrule can run it;
this folder keeps the old entry point and the hand-written profile notes
(``PROFILE.md``).
"""
