"""The documentation: the examples in the docstrings hold, the site builds
without warnings, and a real browser shows the signature and the example of
``Dense``, ``cr.grad`` and ``MLPClassifier``.

The browser is Debian's ``chromium`` (``apt-get install chromium``), run
headless; without it those tests are skipped, saying so. Building the site
takes about 8 s (pdoc imports and renders every module), once per run.
"""
import doctest
import html
import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))
CHROMIUM = "/usr/bin/chromium"

# Every module's docstring examples run here. They assume, as NumPy's docs
# assume ``np``, that ``import numpy as np`` and ``import chainrule as cr`` were done.
def _modules_with_examples():
    import pkgutil
    names = ["chainrule"]
    for info in pkgutil.walk_packages([str(ROOT / "chainrule")], prefix="chainrule."):
        names.append(info.name)
    found = []
    for name in sorted(names):
        path = ROOT / (name.replace(".", "/") + ".py")
        if not path.exists():
            path = ROOT / name.replace(".", "/") / "__init__.py"
        if path.exists() and ">>>" in path.read_text(encoding="utf-8"):
            found.append(name)
    return found


DOCTEST_MODULES = _modules_with_examples()


@pytest.mark.parametrize("module_name", DOCTEST_MODULES)
def test_docstring_examples_hold(module_name, tmp_path, monkeypatch):
    if module_name.startswith("chainrule.sklearn"):
        pytest.importorskip("sklearn")
    if module_name.startswith("chainrule.distributed"):
        pytest.importorskip("mpi4py")
    monkeypatch.chdir(tmp_path)                # an example that writes a file writes it here
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, module_name, extraglobs={"np": np, "cr": cr})
             # only the module's own objects, not what it imports from elsewhere
             if t.examples and (t.filename or "").startswith(str(ROOT / "chainrule"))]
    assert tests, f"{module_name} has no docstring example: drop it from DOCTEST_MODULES"
    import io
    from contextlib import redirect_stdout
    report = io.StringIO()
    with redirect_stdout(report):
        for test in tests:
            runner.run(test, out=report.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, report.getvalue()


# ---------------------------------------------------------------- the site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("pdoc", reason="the site needs pdoc: pip install '.[docs]'")
    pytest.importorskip("sklearn", reason="the site documents chainrule.sklearn")
    out = tmp_path_factory.mktemp("docs") / "site"
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "build_site.py"), "--out",
                           str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, f"the site build failed:\n{done.stdout}\n{done.stderr}"
    assert "without warnings" in done.stdout and "warning" not in done.stderr, done.stderr
    return out


def test_site_has_the_guides_the_api_and_a_page_per_demo(site):
    from chainrule import demos
    for page in ("index.html", "tour.html", "architecture.html", "demos.html",
                 "chainrule.html", "chainrule/layers.html", "chainrule/autodiff.html",
                 "chainrule/sklearn.html", "chainrule/models.html"):
        assert (site / page).is_file(), f"{page} was not built"
    for module in demos.DEMOS.values():
        assert (site / "chainrule" / "demos" / f"{module}.html").is_file(), module
    demos_page = (site / "demos.html").read_text(encoding="utf-8")
    for name in demos.DEMOS:
        assert f"chainrule demo {name}" in demos_page
    # The tour's headings come through, and its links point at pages, not .md files.
    tour = (site / "tour.html").read_text(encoding="utf-8")
    first_heading = re.search(r"^## (.+)$", (ROOT / "docs" / "tour.md").read_text(),
                              re.M).group(1)
    assert html.escape(first_heading, quote=False) in tour
    assert ".md\"" not in tour


def _chromium_dom(url, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium "
                    "(apt-get install chromium) to open the site in a browser")
    from build_site import chromium_command
    done = subprocess.run(chromium_command(CHROMIUM, tmp_path) + ["--dump-dom", url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _text(fragment):
    """What a reader sees of an HTML fragment: tags dropped, entities decoded, spaces folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _compact(text):
    """Text without any white space: syntax highlighting splits code into many spans."""
    return re.sub(r"\s+", "", text)


def _section(dom, anchor):
    """The rendered section of one documented object (pdoc gives it ``id=anchor``)."""
    start = dom.find(f'<section id="{anchor}">')
    assert start >= 0, f"no section #{anchor} in the page"
    end = dom.find("<section id=", start + 1)
    return dom[start:end if end > 0 else len(dom)]


def _examples(obj):
    """The docstring's example lines (``>>> ...``) as they are written."""
    lines = [line.strip()[4:] for line in inspect.getdoc(obj).splitlines()
             if line.strip().startswith(">>> ")]
    assert lines, f"{obj.__qualname__} has no example in its docstring"
    return lines


def test_index_opens_in_chromium(site, tmp_path):
    dom = _chromium_dom((site / "index.html").as_uri(), tmp_path)
    text = _text(dom)
    for words in ("A tour of chainrule", "How chainrule is built", "The API reference"):
        assert words in text
    assert 'href="chainrule/layers.html"' in dom and 'href="tour.html"' in dom


@pytest.mark.parametrize("page, anchor, obj", [
    ("chainrule/layers.html", "Dense", cr.layers.Dense),
    ("chainrule/autodiff.html", "grad", cr.grad),
    ("chainrule/sklearn.html", "MLPClassifier", "chainrule.sklearn.MLPClassifier"),
])
def test_api_page_shows_signature_and_example_in_chromium(site, tmp_path, page, anchor, obj):
    if isinstance(obj, str):
        module, name = obj.rsplit(".", 1)
        obj = getattr(importlib.import_module(module), name)
    dom = _chromium_dom((site / page).as_uri(), tmp_path)
    section = _section(dom, anchor)
    # The signature: the name, then every parameter with its default, in order.
    start = section.find('<span class="signature')
    assert start >= 0, f"{anchor} has no signature on {page}"
    signature = _compact(_text(section[start:])).split("ViewSource")[0]
    assert f"{anchor}(" in _compact(_text(section)), f"{anchor}'s name is not on {page}"
    # (a type hint may stand between a parameter and its default: "units: int")
    where = 0
    for p in inspect.signature(obj).parameters.values():
        pieces = [p.name] + ([f"={p.default!r}"] if p.default is not p.empty else [])
        for piece in pieces:
            found = signature.find(_compact(piece), where)
            assert found >= 0, f"{piece!r} (of {p.name}) is missing from {anchor}'s " \
                               f"signature on {page}"
            where = found + len(_compact(piece))
    # The example, line by line as the docstring has it.
    shown = _compact(_text(section))
    for line in _examples(obj):
        assert _compact(line) in shown, f"example line {line!r} is not on {page}"


@pytest.mark.slow      # how docs/screenshots/dense.png is made; the pages are checked above
def test_dense_screenshot_reads(site, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install "
                    "chromium) to take the screenshot")
    from build_site import screenshot_member
    png = screenshot_member(site, "chainrule/layers.html", "Dense", tmp_path / "dense.png",
                            chromium=CHROMIUM)
    import matplotlib.image
    image = matplotlib.image.imread(png)
    assert image.shape[:2] == (1100, 1280)
    # Not blank: text and code blocks give many distinct shades.
    assert len(np.unique(image[..., :3].reshape(-1, 3), axis=0)) > 50
