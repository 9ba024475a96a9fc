"""Optimizers with Keras 3 update rules (filled in by the optimizers work)."""
