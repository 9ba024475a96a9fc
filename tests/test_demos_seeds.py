"""The seed demos (backprop, perceptron, logistic, lstsq, conv-as-matrix) in quick mode,
their example scripts, and the tour's code blocks.

Each demo's printed numbers are checked against a computation done here
independently (NumPy, SciPy, scikit-learn, or the seeds' own printed values).
"""
import importlib
import os
import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED_DEMOS = ["backprop", "perceptron", "logistic", "lstsq", "conv_as_matrix"]


def demo(name):
    return importlib.import_module(f"chainrule.demos.{name}")


def check_pngs(result, out_dir, expected):
    from PIL import Image
    assert len(result["pngs"]) == expected
    for path in result["pngs"]:
        assert Path(path).parent == Path(out_dir)
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            width, height = image.size
        assert 300 <= width <= 2000 and 200 <= height <= 1500, (path, image.size)


@pytest.mark.parametrize("name", SEED_DEMOS)
def test_demo_module_follows_the_contract(name):
    module = demo(name)
    assert isinstance(module.NAME, str) and module.NAME == name.replace("_", "-")
    assert isinstance(module.SUMMARY, str) and len(module.SUMMARY) > 20
    assert module.DATA is None                       # everything here runs offline
    assert callable(module.run)


def test_backprop_demo(capsys, tmp_path):
    result = demo("backprop").run(quick=True, out_dir=str(tmp_path))
    out = capsys.readouterr().out
    a, b = 2.0, 3.0
    assert result["explain"] == {"a": 3 * b, "b": 3 * a, "c": 3.0}
    assert result["backward"] == result["explain"] and result["agree"]
    for line in ["dJ/da = 3b = 9", "dJ/db = 3a = 6", "dJ/dc = 3", "∂u/∂a = b = 3"]:
        assert line in out
    # the sigmoid neuron: central differences of the loss, computed here
    def loss(w, bias, x=1.5, y=1.0):
        phi = 1 / (1 + np.exp(-(w * x + bias)))
        return -(y * np.log(phi) + (1 - y) * np.log(1 - phi))
    h = 1e-6
    assert result["neuron"]["w"] == pytest.approx((loss(0.8 + h, -0.3) - loss(0.8 - h, -0.3)) / (2 * h), rel=1e-6)
    assert result["neuron"]["b"] == pytest.approx((loss(0.8, -0.3 + h) - loss(0.8, -0.3 - h)) / (2 * h), rel=1e-6)
    assert result["neuron_agree"] and result["pngs"] == []


def test_perceptron_demo(capsys, tmp_path):
    from chainrule.datasets import make_income_debt
    result = demo("perceptron").run(quick=True, seed=0, out_dir=str(tmp_path))
    out = capsys.readouterr().out
    # the seeds' loop, written out again here
    X, y = make_income_debt(40, seed=0)
    w, b, accuracy = np.zeros(2), 0.0, []
    for i in range(len(X)):
        if np.sign(w[0] * X[i, 0] + w[1] * X[i, 1] + b) != y[i]:
            b = b + 1e5 * 1e-5 * y[i]
            w = w + 1e-5 * y[i] * X[i]
        accuracy.append(np.mean(np.sign(X @ w + b) == y))
    np.testing.assert_allclose(result["w"], w)
    assert result["b"] == b
    np.testing.assert_allclose(result["accuracy_per_iteration"], accuracy)
    assert f"after the single pass: accuracy {accuracy[-1]:.2f}" in out
    # one printed line per iteration of the seeds' pass
    assert len(re.findall(r"^\s*\d+\s+\d+\s+\d+\s+[+-]1\s+[+-]?[01]", out, re.MULTILINE)) == 40
    # part 2 separates the data: check the returned line on the data, here
    scaled = X / 1e5
    assert np.all(np.sign(scaled @ result["scaled_w"] + result["scaled_b"]) == y)
    assert result["final_accuracy"] == 1.0 and "no mistakes" in out
    check_pngs(result, tmp_path, 1)


def test_logistic_demo(capsys, tmp_path):
    from sklearn.metrics import log_loss

    from chainrule.datasets import load_iris
    result = demo("logistic").run(quick=True, out_dir=str(tmp_path))
    out = capsys.readouterr().out
    X, y = load_iris()
    X, y = X[y > 0][:, 2:4], (y[y > 0] == 2).astype(float)
    X = (X - X.mean(0)) / X.std(0)
    phi = 1 / (1 + np.exp(-(X @ result["w"] + result["b"])))
    assert result["final_loss"] == pytest.approx(log_loss(y, phi), rel=1e-9)
    accuracy = np.mean((phi > 0.5) == (y == 1))
    assert result["accuracy"] == accuracy >= 0.9
    assert f"training accuracy {accuracy:.3f}" in out
    assert result["gradient_check"] < 1e-12                       # hand formula = autodiff
    np.testing.assert_allclose(result["keras_w"], result["w"], atol=1e-6)   # Keras-style = by hand
    assert "same as by hand: True" in out
    assert result["losses"][0] == pytest.approx(np.log(2)) and result["losses"][-1] < 0.2
    check_pngs(result, tmp_path, 1)


SEEDS_DIABETES = [152.1, -10.0, -239.8, 519.8, 324.4, -792.2, 476.7, 101.0, 177.1, 751.3, 67.6]


def test_lstsq_demo(capsys, tmp_path):
    from sklearn.linear_model import LinearRegression

    from chainrule.datasets import load_diabetes
    result = demo("lstsq").run(quick=True, out_dir=str(tmp_path))
    out = capsys.readouterr().out
    X, y = load_diabetes()
    reference = LinearRegression().fit(X, y)
    expected = np.concatenate([[reference.intercept_], reference.coef_])
    np.testing.assert_allclose(result["coefficients_qr"], expected, rtol=1e-8)
    np.testing.assert_allclose(result["coefficients_normal"], expected, rtol=1e-6)
    np.testing.assert_allclose(np.round(result["coefficients_qr"], 1), SEEDS_DIABETES)   # the seeds' table
    assert re.search(r"bmi\s+519\.8\s+519\.8", out) and re.search(r"tc\s+-792\.2\s+-792\.2", out)
    rows = {r["degree"]: r for r in result["vandermonde"]}
    for degree, row in rows.items():           # cond(A) and the errors, computed here
        A = np.vander(np.linspace(0, 1, 50), degree + 1, increasing=True)
        assert row["cond"] == pytest.approx(np.linalg.cond(A), rel=1e-6)
    assert not rows[3]["warned"] and rows[11]["warned"]
    assert rows[11]["error_normal"] > 1e4 * rows[11]["error_qr"]   # squared condition number
    assert rows[11]["error_qr"] < 1e-6
    check_pngs(result, tmp_path, 1)


def test_conv_as_matrix_demo(capsys, tmp_path):
    from scipy.signal import correlate2d
    result = demo("conv_as_matrix").run(quick=True, out_dir=str(tmp_path))
    out = capsys.readouterr().out
    x, k = np.arange(1.0, 10.0).reshape(3, 3), np.array([[1.0, 2.0], [3.0, 4.0]])
    seeds_result = [[37, 47], [67, 77]]
    seeds_matrix = [[1, 2, 0, 3, 4, 0, 0, 0, 0], [0, 1, 2, 0, 3, 4, 0, 0, 0],
                    [0, 0, 0, 1, 2, 0, 3, 4, 0], [0, 0, 0, 0, 1, 2, 0, 3, 4]]
    for key in ("conv2d", "matrix_product", "by_hand"):
        np.testing.assert_allclose(result[key], correlate2d(x, k, mode="valid"))
        np.testing.assert_allclose(result[key], seeds_result)
    np.testing.assert_allclose(result["matrix"], seeds_matrix)
    assert "y1 = 1·1 + 2·2 + 3·4 + 4·5 = 37" in out and "y4 = 1·5 + 2·6 + 3·8 + 4·9 = 77" in out
    assert result["agree"] and result["backward_matches"] and result["random_check"] < 1e-12
    check_pngs(result, tmp_path, 1)


def test_demos_run_without_matplotlib(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # import matplotlib -> ImportError
    result = demo("conv_as_matrix").run(quick=True, out_dir=str(tmp_path))
    assert result["pngs"] == [] and not list(tmp_path.iterdir())
    assert "(install chainrule[viz] to save the plots)" in capsys.readouterr().out


@pytest.mark.parametrize("script, expected", [
    ("backprop.py", "a.grad = 9, b.grad = 6, c.grad = 3"),
    ("perceptron.py", "iteration 100:"),
    ("logistic.py", "accuracy 0.94"),
    ("lstsq.py", "bmi    519.8    519.8"),
    ("conv_as_matrix.py", "37 47 67 77"),
])
def test_example_scripts_run(script, expected, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [script])
    runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")
    assert expected in capsys.readouterr().out


def tour_blocks():
    text = (ROOT / "docs" / "tour.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def test_tour_has_the_promised_sections():
    text = (ROOT / "docs" / "tour.md").read_text(encoding="utf-8").lower()
    for topic in ("tensor", "gradient", "layer by hand", "keras", "scikit-learn"):
        assert topic in text
    assert len(tour_blocks()) >= 5


def test_tour_code_blocks_run(capsys, monkeypatch, tmp_path):
    """Every python block of docs/tour.md, in order, in one namespace (as a reader would
    paste them into one session)."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__tour__"}
    for number, block in enumerate(tour_blocks(), 1):
        try:
            exec(compile(block, f"docs/tour.md block {number}", "exec"), namespace)  # noqa: S102
        except Exception as e:                      # name the block that broke
            raise AssertionError(f"docs/tour.md python block {number} failed: {e!r}\n{block}") from e
    assert os.listdir(tmp_path) is not None
