"""The Keras 3 developer guides and the "Simple MNIST convnet" example, ported
to chainrule in examples/keras_guides/ with the import changed (issue 16).

Each guide runs in a subprocess through examples/keras_guides/run_sections.py,
section by section. A section is skipped here only for a named reason:

* layers of the layers issue (issue 17) that chainrule does not have yet;
  the section runs by itself as soon as they exist;
* another library the guide itself calls (``tf.data``, a PyTorch
  ``DataLoader``) when it is not installed;
* something else chainrule does not have (named).

Every other section must pass. The README's table lists the same.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule as cr

ROOT = Path(__file__).resolve().parent.parent
GUIDES = ROOT / "examples" / "keras_guides"
SHARED_DATA = ROOT.parent / "shared" / "data"

PLOT_MODEL = {"programs": ["dot"]}       # keras.utils.plot_model draws with Graphviz
NEEDS_TF = {"modules": ["tensorflow"]}            # tf.data: TensorFlow's own API


def needs(*layer_names, modules=(), attrs=(), programs=(), missing=None):
    """What a section needs: layers of issue 17, other chainrule names
    (``attrs``, dotted under ``cr``), importable modules, programs on the
    PATH, or something chainrule lacks (``missing``, always skipped)."""
    return {"layers": list(layer_names), "modules": list(modules), "attrs": list(attrs),
            "programs": list(programs), "missing": missing}


# guide file -> {"slow": bool, "data": [datasets], "sections": {title: needs(...)}}
GUIDE_SPECS = {
    "sequential_model.py": {"slow": False, "data": [], "sections": {}},
    "functional_api.py": {
        "slow": True, "data": ["mnist", "cifar10"],
        "sections": {
            "Model summary & plot (plot_model)": needs(**PLOT_MODEL),
            "Use the same graph of layers to define multiple models":
                needs("Conv2DTranspose", "UpSampling2D"),
            "All models are callable, just like layers":
                needs("Conv2DTranspose", "UpSampling2D", "average"),
            "Models with multiple inputs and outputs (plot_model)": needs(**PLOT_MODEL),
            "A toy ResNet model (plot_model)": needs(**PLOT_MODEL),
            "Extract and reuse nodes in the graph of layers":
                needs(missing="keras.applications.VGG19 (pretrained ImageNet models) is not "
                              "in chainrule"),
            "Mix-and-match API styles: a custom RNN in a functional model": needs("Conv1D"),
        }},
    "mnist_convnet.py": {"slow": True, "data": ["mnist"], "sections": {}},
    "making_new_layers_and_models_via_subclassing.py": {
        "slow": True, "data": ["mnist"], "sections": {}},
    "writing_your_own_callbacks.py": {"slow": False, "data": ["mnist"], "sections": {}},
    "writing_a_training_loop_from_scratch.py": {
        "slow": True, "data": ["mnist"],
        "sections": {
            "A first end-to-end example: torch.optim and torch.nn":
                needs(missing="torch.optim.Adam(model.parameters()) and torch.nn.CrossEntropyLoss "
                              "work on PyTorch parameters, which chainrule weights are not; the "
                              "next section is the same loop with keras.optimizers/keras.losses"),
        }},
    "customizing_what_happens_in_fit.py": {
        "slow": False, "data": [],
        "sections": {
            "Wrapping up: an end-to-end GAN example":
                needs(missing="the GAN calls PyTorch itself (torch.utils.data.DataLoader, "
                              "torch.tensor(device=...), torch.concat, torch.cuda), which "
                              "chainrule does not imitate"),
        }},
    "training_with_built_in_methods.py": {
        "slow": True, "data": ["mnist"],
        "sections": {
            "Training & evaluation using tf.data Datasets": needs(modules=["tensorflow"]),
            "Training & evaluation using PyTorch DataLoader objects": needs(modules=["torch"]),
            "Using sample weighting and class weighting: a tf.data Dataset":
                needs(modules=["tensorflow"]),
            "Passing data to multi-input, multi-output models": needs("Conv1D"),
            "Passing data to multi-input, multi-output models (plot_model)":
                needs("Conv1D", **PLOT_MODEL),
            "Passing data to multi-input, multi-output models: losses, metrics and data":
                needs("Conv1D", attrs=["metrics.MeanAbsolutePercentageError"]),
            "Passing data to multi-input, multi-output models: a tf.data Dataset":
                needs("Conv1D", modules=["tensorflow"]),
        }},
}


def _importable(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _has(dotted):
    obj = cr
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return False
    return True


def _skips(spec):
    """{section title: reason} for the sections not to run now."""
    skips = {}
    for title, need in spec["sections"].items():
        reasons = []
        if need["missing"]:
            reasons.append(need["missing"])
        absent = [n for n in need["layers"] if not hasattr(cr.layers, n)]
        if absent:
            reasons.append(f"needs {', '.join(absent)} (layers issue 17)")
        names = [a for a in need["attrs"] if not _has(a)]
        if names:
            reasons.append(f"needs cr.{', cr.'.join(names)} (not in chainrule yet)")
        programs = [p for p in need["programs"] if shutil.which(p) is None]
        if programs:
            reasons.append(f"needs the program {', '.join(programs)} (Graphviz) on the PATH")
        modules = [m for m in need["modules"] if not _importable(m)]
        if modules:
            reasons.append(f"needs {', '.join(modules)} installed")
        if reasons:
            skips[title] = "; ".join(reasons)
    return skips


def _data_env(datasets):
    """The environment for the subprocess; skips the test when a dataset is absent."""
    env = dict(os.environ)
    if SHARED_DATA.is_dir() and "CHAINRULE_DATA" not in env:
        env["CHAINRULE_DATA"] = str(SHARED_DATA)
    env.setdefault("CHAINRULE_OFFLINE", "1")
    for name in datasets:
        module = getattr(cr.datasets, name)
        old = os.environ.get("CHAINRULE_DATA")
        os.environ["CHAINRULE_DATA"] = env.get("CHAINRULE_DATA", "")
        try:
            module.load_data(download=False)
        except FileNotFoundError:
            pytest.skip(f"{name} data not found (set $CHAINRULE_DATA to a folder holding it)")
        finally:
            if old is None:
                os.environ.pop("CHAINRULE_DATA", None)
            else:
                os.environ["CHAINRULE_DATA"] = old
    env["MPLBACKEND"] = "Agg"
    return env


def _params():
    for name, spec in GUIDE_SPECS.items():
        marks = [pytest.mark.slow] if spec["slow"] else []
        yield pytest.param(name, marks=marks, id=name.removesuffix(".py"))


@pytest.mark.parametrize("guide", list(_params()))
def test_guide_runs(guide, tmp_path):
    spec = GUIDE_SPECS[guide]
    env = _data_env(spec["data"])
    skips = _skips(spec)
    work = tmp_path / "guide"
    work.mkdir()
    # run a copy, so files the guide writes (my_model.keras, checkpoints) stay in tmp
    for f in GUIDES.glob("*.py"):
        (work / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    report = tmp_path / "report.json"
    cmd = [sys.executable, str(work / "run_sections.py"), str(work / guide),
           "--json", str(report)]
    for title in skips:
        cmd += ["--skip", title]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert report.exists(), proc.stderr[-3000:]
    results = json.loads(report.read_text())
    titles = [r["section"] for r in results]
    unknown = [t for t in spec["sections"] if t not in titles]
    assert not unknown, f"sections named in the test but not in {guide}: {unknown}"
    failed = {r["section"]: r["error"] for r in results if r["status"] == "failed"}
    assert not failed, f"{guide}: sections failed:\n" + "\n".join(
        f"  {t}: {e}" for t, e in failed.items())
    assert sum(r["status"] == "passed" for r in results) >= 2


def test_section_runner_reports_each_section(tmp_path):
    script = tmp_path / "g.py"
    script.write_text("a = 1\n# %% First\nb = a + 1\n# %% Broken\nraise ValueError('no')\n"
                      "# %% After\nc = b + 1\nprint(c)\n")
    report = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, str(GUIDES / "run_sections.py"), str(script),
                           "--json", str(report), "--skip", "Nothing"],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    results = {r["section"]: r for r in json.loads(report.read_text())}
    assert [r for r in results] == ["Setup", "First", "Broken", "After"]
    assert results["Broken"]["status"] == "failed" and "ValueError: no" in results["Broken"]["error"]
    assert results["After"]["status"] == "passed"
