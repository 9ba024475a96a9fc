"""Build chainrule's documentation site into ``site/``: the API reference from the
docstrings (pdoc), the tour, the architecture page and one page per demo.

    pip install ".[docs]"
    python docs/build_site.py            # then open site/index.html

Docstrings use Keras' ``Args:``/``Returns:`` sections (pdoc's "google" format);
examples written ``>>> ...`` are kept true by ``tests/test_doctests.py``.
The build fails (exit status 1) on any warning, so a broken docstring or a
module that no longer imports shows up in CI instead of as a hole in the site.
"""
import argparse
import importlib
import os
import re
import shutil
import sys
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
TEMPLATES = DOCS / "pdoc_templates"

HOME = """\
# chainrule

A deep-learning library you can read in an afternoon and really train with,
written from scratch in Python on NumPy: a `Tensor` with reverse-mode automatic
differentiation, Keras-style layers, models and `fit`, the Keras optimizers and
scikit-learn estimators.

## Start here

- [A tour of chainrule](tour.html): tensors, gradients three ways, a layer by
  hand, a Keras-style model and a scikit-learn estimator, in five steps.
- [How chainrule is built](architecture.html): the floors, and where each thing lives.
- [The demos](demos.html): what `chainrule demo NAME` runs, one page each.
- [The API reference](chainrule.html), generated from the docstrings.

## The API at a glance

| module | what it holds |
| --- | --- |
{api_rows}

## Notebooks

The repository's `notebooks/` folder has the tour, the backprop walkthrough,
a Keras-style MNIST model and the ship-or-frog attack as Jupyter notebooks that
run top to bottom in a few minutes.
"""

# The modules the home page lists, in the order a learner meets them.
API_MODULES = [
    "tensor", "autodiff", "ops", "layers", "models", "optimizers", "losses", "metrics",
    "callbacks", "activations", "initializers", "regularizers", "datasets", "sklearn",
    "linalg", "attacks", "viz", "explain", "gradcheck", "distributed",
]


def _first_sentence(module_name):
    """The first sentence of a module's docstring, for the home page's table."""
    doc = (importlib.import_module(f"chainrule.{module_name}").__doc__ or "").strip()
    paragraph = " ".join(doc.split("\n\n")[0].split())
    sentence = re.split(r"(?<=\.)\s", paragraph, maxsplit=1)[0]
    return sentence.replace(":mod:", "").replace("``", "`").replace("|", "\\|")


def _demo_pages():
    """Markdown of the demos page: each demo's name, summary, data and links."""
    from chainrule import demos
    lines = ["# The demos", "",
             "`chainrule demo NAME` runs one (`chainrule demo --list` lists them; "
             "`--quick` runs any of them in seconds on a little data). Each has a page "
             "generated from its module, and a short script to read in `examples/`.", ""]
    for name, module_name in demos.DEMOS.items():
        module = importlib.import_module(f"chainrule.demos.{module_name}")
        data = module.DATA or "nothing to download (bundled)"
        lines += [f"## {name}", "", f"{module.SUMMARY[0].upper()}{module.SUMMARY[1:]}.", "",
                  f"- run it: `chainrule demo {name}`",
                  f"- data: {data}",
                  f"- [its page](chainrule/demos/{module_name}.html) "
                  f"(`chainrule.demos.{module_name}`)", ""]
    return "\n".join(lines)


def _markdown_page(env, markdown, title, out_path):
    from pdoc.render_helpers import to_html
    # Links between the Markdown files become links between the pages.
    markdown = re.sub(r"\]\((tour|architecture)\.md(#[^)]*)?\)", r"](\1.html\2)", markdown)
    html = to_html(markdown)
    page = env.get_template("page.html.jinja2").render(
        title=title, body=html, toc=getattr(html, "toc_html", None))
    out_path.write_text(page, encoding="utf-8")


def build(out_dir):
    import pdoc
    import pdoc.render

    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    pdoc.render.configure(docformat="google", template_directory=TEMPLATES, search=True,
                          show_source=True, footer_text=f"chainrule {_version()}")
    # The private modules (`_name`) and the command-line plumbing stay out. pdoc reads the
    # imported package: run from the repository root with a non-editable install, a bare
    # name would also match the ./chainrule folder and pdoc would warn about the choice.
    previous = os.getcwd()
    os.chdir(DOCS)
    try:
        pdoc.pdoc("chainrule", "!chainrule\\..*\\._.*", output_directory=out_dir.resolve())
    finally:
        os.chdir(previous)
    env = pdoc.render.env
    api_rows = "\n".join(f"| [`chainrule.{m}`](chainrule/{m}.html) | {_first_sentence(m)} |"
                         for m in API_MODULES)
    _markdown_page(env, HOME.format(api_rows=api_rows), "chainrule", out_dir / "index.html")
    _markdown_page(env, (DOCS / "tour.md").read_text(encoding="utf-8"), "Tour",
                   out_dir / "tour.html")
    _markdown_page(env, (DOCS / "architecture.md").read_text(encoding="utf-8"),
                   "Architecture", out_dir / "architecture.html")
    _markdown_page(env, _demo_pages(), "Demos", out_dir / "demos.html")
    return out_dir


def chromium_command(chromium, profile_dir):
    """Headless Chromium's command line, with a throwaway profile and no network chatter."""
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", f"--user-data-dir={Path(profile_dir) / 'chromium-profile'}"]


def screenshot_member(site, page, anchor, png, chromium="/usr/bin/chromium", size=(1280, 1100)):
    """Screenshot one documented object as the site shows it: ``page`` with every
    section but ``#anchor`` hidden (headless Chromium does not scroll to ``#anchor``
    before its screenshot). Returns the PNG's path."""
    import subprocess
    import tempfile
    source = Path(site) / page
    with tempfile.TemporaryDirectory() as tmp:
        # A copy beside the page, so its relative links and styles still resolve.
        focused = source.with_name(f".shot-{anchor}-{os.getpid()}.html")
        only = f"<style>main.pdoc > section:not(#{anchor}) {{display: none}}</style></head>"
        focused.write_text(source.read_text(encoding="utf-8").replace("</head>", only, 1),
                           encoding="utf-8")
        try:
            done = subprocess.run(chromium_command(chromium, tmp) + [
                f"--window-size={size[0]},{size[1]}", "--virtual-time-budget=3000",
                f"--screenshot={Path(png).resolve()}", focused.as_uri()],
                capture_output=True, text=True, timeout=120)
        finally:
            focused.unlink()
    if done.returncode != 0 or not Path(png).is_file():
        raise RuntimeError(f"chromium could not take the screenshot: {done.stderr[-2000:]}")
    return Path(png)


def _version():
    import chainrule
    return chainrule.__version__


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "site"), help="output folder (site/)")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="also screenshot the Dense page with headless Chromium "
                             "(docs/screenshots/dense.png)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")      # importing viz must not open a window
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = build(args.out)
    for w in caught:
        print(f"warning: {w.filename}:{w.lineno}: {w.category.__name__}: {w.message}",
              file=sys.stderr)
    pages = sum(1 for _ in out.rglob("*.html"))
    if caught:
        print(f"{len(caught)} warning(s): the site is not clean", file=sys.stderr)
        return 1
    print(f"built {pages} pages into {out} without warnings; open {out / 'index.html'}")
    if args.screenshot:
        print(f"wrote {screenshot_member(out, 'chainrule/layers.html', 'Dense', args.screenshot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
