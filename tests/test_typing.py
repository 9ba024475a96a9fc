"""The public API is typed and documented in one format (issue 21).

Three checks, each over every public module of ``chainrule`` (demos/, bench/,
``__main__`` and modules whose name starts with ``_`` are not public API):

- **mypy** (configured in pyproject.toml's ``[tool.mypy]``) reports 0 errors.
- **Annotations**: every public function, and every public method of every
  public class defined in the module (``__init__`` and ``__call__`` included;
  properties by their getter), annotates each parameter except ``self``/``cls``
  (``*args``/``**kwargs`` too) and its return (``-> None`` included).
- **Docstrings** (Keras' format): each of those callables that takes
  parameters names every one of them in an ``Args:`` section (for ``__init__``
  the class docstring or ``__init__``'s own may hold it; a class may use
  ``Attributes:`` instead); each that returns something other than ``None``
  has a ``Returns:`` (or ``Yields:``) section. Properties need neither. A method
  without a docstring inherits its base class's, as ``inspect.getdoc`` does.

Modules in ``NOT_YET_TYPED`` are skipped by all three checks (mypy does not
report errors in them: it still reads them, silently, where others import
them). Whoever types a module removes it from the set; a module in the set that
already passes the annotation and docstring checks fails the test, so the set
only ever shrinks.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chainrule"
NOT_PUBLIC_PACKAGES = ("chainrule.demos", "chainrule.bench")

# Modules not typed yet: remove a name when its module is typed and documented.
# (A private module, e.g. chainrule.linalg._util, is only checked by mypy.)
NOT_YET_TYPED: set[str] = set()

CHECKED_DUNDERS = ("__init__", "__call__")
NO_RESULT = (None, "None", "NoReturn", "Never", "typing.NoReturn", "typing.Never")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def mypy_files() -> dict[str, Path]:
    """Every module mypy checks with the pyproject config, by name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        if name == "chainrule.__main__" or name.startswith(
                tuple(p + "." for p in NOT_PUBLIC_PACKAGES)) or name in NOT_PUBLIC_PACKAGES:
            continue
        found[name] = path
    return found


def public_modules() -> list[str]:
    return [name for name in mypy_files()
            if not any(part.startswith("_") for part in name.split("."))]


PUBLIC_MODULES = public_modules()


# --------------------------------------------------------------------------- members


def _own_callables(module):
    """(qualified name, kind, function, owner class or None) for each public
    callable the module defines; kind is "function", "method", "static",
    "class" or "property"."""
    seen = set()
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if id(obj) in seen:                  # an alias (MSE = MeanSquaredError)
            continue
        seen.add(id(obj))
        if inspect.isfunction(obj):
            yield f"{module.__name__}.{obj.__qualname__}", "function", obj, None
        elif inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr not in CHECKED_DUNDERS:
                    continue
                qual = f"{module.__name__}.{obj.__qualname__}.{attr}"
                if isinstance(member, staticmethod):
                    yield qual, "static", member.__func__, obj
                elif isinstance(member, classmethod):
                    yield qual, "class", member.__func__, obj
                elif isinstance(member, property):
                    if member.fget is not None:
                        yield qual, "property", member.fget, obj
                elif inspect.isfunction(member):
                    yield qual, "method", member, obj


def _parameters(func, kind):
    """The parameters a caller passes: without self/cls."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):          # a builtin without a signature
        return None
    if kind in ("method", "class", "property") and params:
        params = params[1:]
    return params


def _return_annotation(func):
    try:
        return inspect.signature(func).return_annotation
    except (TypeError, ValueError):
        return None


def annotation_problems(module) -> list[str]:
    problems = []
    for qual, kind, func, _ in _own_callables(module):
        params = _parameters(func, kind)
        if params is None:
            continue
        missing = [("*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD
                    else "") + p.name for p in params if p.annotation is p.empty]
        if missing:
            problems.append(f"{qual}: parameters not annotated: {', '.join(missing)}")
        if _return_annotation(func) is inspect.Signature.empty:
            problems.append(f"{qual}: return not annotated")
    return problems


# ------------------------------------------------------------------------- docstrings

_HEADER = re.compile(r"^(\s*)([A-Z][A-Za-z ]*):\s*$")
_ENTRY = re.compile(r"^\s*\*{0,2}(\w+)\s*(\([^)]*\))?\s*:")


def sections(doc: str) -> dict[str, list[str]]:
    """Google/Keras-style sections: header name -> the entry names under it
    (the lines at the section's first indentation that look like ``name:`` or
    ``name (type):``)."""
    found: dict[str, list[str]] = {}
    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        header = _HEADER.match(lines[i])
        if not header:
            i += 1
            continue
        indent = len(header.group(1))
        body = []
        i += 1
        while i < len(lines) and (not lines[i].strip()
                                  or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        entry_indent = min((len(b) - len(b.lstrip()) for b in body if b.strip()), default=0)
        names = [m.group(1) for b in body
                 if b.strip() and len(b) - len(b.lstrip()) == entry_indent
                 and (m := _ENTRY.match(b))]
        found.setdefault(header.group(2), []).extend(names)
    return found


def _doc_of(qual, kind, func, owner) -> str:
    if owner is None:
        return inspect.getdoc(func) or ""
    attr = qual.rsplit(".", 1)[1]
    if attr == "__init__":                   # the class docstring documents the constructor
        own = func.__doc__ or ""
        return inspect.cleandoc(owner.__doc__ or "") + "\n" + inspect.cleandoc(own)
    return inspect.getdoc(getattr(owner, attr)) or ""


def _shown(annotation) -> str:
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def docstring_problems(module) -> list[str]:
    problems = []
    for qual, kind, func, owner in _own_callables(module):
        if kind == "property":
            continue
        params = _parameters(func, kind)
        if params is None:
            continue
        doc = _doc_of(qual, kind, func, owner)
        if not doc.strip():
            problems.append(f"{qual}: no docstring")
            continue
        found = sections(doc)
        if params:
            documented = set(found.get("Args", []))
            if qual.endswith(".__init__"):
                documented |= set(found.get("Attributes", []))
            missing = [p.name for p in params if p.name not in documented]
            if missing and "Args" not in found and "Attributes" not in found:
                problems.append(f"{qual}: no Args: section (parameters: "
                                f"{', '.join(p.name for p in params)})")
            elif missing:
                problems.append(f"{qual}: Args: does not name {', '.join(missing)}")
        returns = _return_annotation(func)
        if (not qual.endswith(".__init__") and returns not in NO_RESULT
                and returns is not inspect.Signature.empty
                and "Returns" not in found and "Yields" not in found):
            problems.append(f"{qual}: returns {_shown(returns)} "
                            f"but has no Returns: section")
    return problems


# ------------------------------------------------------------------------------ tests


def test_not_yet_typed_names_real_modules():
    unknown = sorted(set(NOT_YET_TYPED) - set(mypy_files()))
    assert not unknown, f"NOT_YET_TYPED names modules mypy does not check: {unknown}"


def _import(name):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:       # an optional extra not installed
        if err.name and not err.name.startswith("chainrule"):
            pytest.skip(f"{name} needs {err.name}, which is not installed")
        raise


@functools.lru_cache(maxsize=None)
def ready_to_leave_not_yet_typed() -> frozenset[str]:
    """The modules in NOT_YET_TYPED that pass all three checks (one mypy run)."""
    candidates = set()
    for name in NOT_YET_TYPED & set(PUBLIC_MODULES):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if not annotation_problems(module) and not docstring_problems(module):
            candidates.add(name)
    if not candidates or importlib.util.find_spec("mypy") is None:
        return frozenset()
    _, report = mypy_report(candidates)
    with_errors = {line.split(":", 1)[0] for line in report.splitlines() if ": error:" in line}
    return frozenset(name for name in candidates
                     if str(mypy_files()[name].relative_to(ROOT)) not in with_errors)


def _check_or_ratchet(name, problems):
    module = _import(name)
    if name in NOT_YET_TYPED:
        if name in ready_to_leave_not_yet_typed():
            pytest.fail(f"{name} now passes the annotation and docstring checks: "
                        f"remove it from NOT_YET_TYPED in tests/test_typing.py")
        pytest.skip(f"{name} is in NOT_YET_TYPED")  # once it passes, the test says so
    found = problems(module)
    assert not found, f"{len(found)} problem(s) in {name}:\n  " + "\n  ".join(found)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_api_is_annotated(name):
    _check_or_ratchet(name, annotation_problems)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_api_has_args_and_returns_docs(name):
    _check_or_ratchet(name, docstring_problems)


def mypy_report(names) -> tuple[int, str]:
    """mypy's exit status and output over the named modules, with pyproject's config."""
    files = [str(mypy_files()[name].relative_to(ROOT)) for name in sorted(names)]
    # silent: the modules they import are read, never reported
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
               "--follow-imports=silent", "--no-error-summary", *files]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if "INTERNAL ERROR" in result.stderr + result.stdout:
        # mypy 2.4's incremental cache can crash after the modules changed under it
        # ("Duplicates in dependencies list"); a fresh cache does not
        with tempfile.TemporaryDirectory() as cache:
            result = subprocess.run(command + ["--cache-dir", cache], cwd=ROOT,
                                    capture_output=True, text=True, timeout=600)
    return result.returncode, (result.stdout + result.stderr).strip()


def _needs_mypy():
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (it is in the test extra: pip install '.[test]')")


def test_mypy_reports_no_errors_in_typed_modules():
    _needs_mypy()
    typed = set(mypy_files()) - NOT_YET_TYPED
    status, report = mypy_report(typed)
    assert status == 0, f"mypy over {len(typed)} modules:\n{report}"


# ------------------------------------------------------- the checks check what they say


def test_checks_find_what_is_missing():
    import types

    module = types.ModuleType("fake_typing_case")
    source = '''
def good(x: int, *rest: int, **options: str) -> int:
    """Adds.

    Args:
        x: a number.
        *rest: more numbers.
        **options: ignored.

    Returns:
        The sum.
    """
    return x

def bare(x, y: int = 1):
    """Nothing about x.

    Args:
        y: the other one.
    """

def no_returns(x: int) -> int:
    """Passes x through.

    Args:
        x: a number.
    """
    return x

class Thing:
    """A thing.

    Args:
        size: how big.
    """
    def __init__(self, size: int) -> None:
        self.size = size
    def __call__(self, other):
        return other
    @property
    def area(self):
        return self.size ** 2
    def _private(self, z):
        return z
'''
    exec(compile(source, "fake_typing_case", "exec"), module.__dict__)
    annotations = annotation_problems(module)
    assert annotations == [
        "fake_typing_case.Thing.__call__: parameters not annotated: other",
        "fake_typing_case.Thing.__call__: return not annotated",
        "fake_typing_case.Thing.area: return not annotated",
        "fake_typing_case.bare: parameters not annotated: x",
        "fake_typing_case.bare: return not annotated",
    ]
    docs = docstring_problems(module)
    assert docs == [
        "fake_typing_case.Thing.__call__: no docstring",
        "fake_typing_case.bare: Args: does not name x",
        "fake_typing_case.no_returns: returns int but has no Returns: section",
    ]


def test_the_installed_package_says_it_is_typed():
    # PEP 561: without the marker, mypy and editors ignore the installed package's hints
    from importlib import resources

    assert resources.files("chainrule").joinpath("py.typed").is_file()
