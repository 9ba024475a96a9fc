"""The optional libraries the suite compares against, imported if installed.

Each is a :class:`Library` with ``available``, ``version`` and ``module``;
a benchmark adds a library's column only when it is available, so the suite
runs (with fewer columns) on a machine that has none of them.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass
class Library:
    name: str
    available: bool
    version: str
    module: object = None


def _load(name, import_name, describe=None):
    try:
        module = importlib.import_module(import_name)
    except Exception as e:  # noqa: BLE001 - ImportError, or a broken install: skip the column
        return Library(name, False, f"{type(e).__name__}: {e}".splitlines()[0][:80])
    version = getattr(module, "__version__", "installed")
    if describe is not None:
        try:
            version = describe(module)
        except Exception:  # noqa: BLE001, S110 - the version string is only informative
            pass
    return Library(name, True, version, module)


def _torch_description(torch):
    return f"{torch.__version__}, eager, torch.get_num_threads() = {torch.get_num_threads()}"


def _jax_description(jax):
    jax.config.update("jax_platforms", "cpu")
    return f"{jax.__version__}, jit, devices {[d.platform for d in jax.devices()]}"


def _autograd_description(autograd):
    from importlib.metadata import version
    return version("autograd")


def detect(names=("PyTorch", "JAX", "autograd", "scikit-learn")):
    """``{name: Library}`` for the comparison libraries named."""
    loaders = {
        "PyTorch": lambda: _load("PyTorch", "torch", _torch_description),
        "JAX": lambda: _load("JAX", "jax", _jax_description),
        "autograd": lambda: _load("autograd", "autograd", _autograd_description),
        "scikit-learn": lambda: _load("scikit-learn", "sklearn"),
    }
    return {name: loaders[name]() for name in names}
