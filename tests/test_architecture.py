"""The floors of docs/architecture.md, checked: nothing low imports something high."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "chainrule"

FLOORS = {
    1: ["tensor", "graph", "rules", "scratch", "ops", "errors", "random", "registry", "masks",
        "typing"],
    2: ["autodiff", "gradcheck", "compiled"],
    3: ["initializers", "regularizers", "constraints", "variables", "activations", "losses",
        "metrics", "optimizers", "layers"],
    4: ["models", "callbacks", "saving", "utils"],
    5: ["linalg", "sklearn", "datasets", "attacks", "viz", "explain", "distributed", "bench",
        "explain_cli", "demos", "cli", "__main__"],
}
FLOOR_OF = {name: floor for floor, names in FLOORS.items() for name in names}


def _top(module_path):
    """`chainrule/layers/core.py` -> `layers`."""
    rel = module_path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imported_tops(path):
    """The chainrule top-level modules a file imports (relative or absolute)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package_parts = path.relative_to(PACKAGE).parts[:-1]
    tops = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package_parts[:len(package_parts) - (node.level - 1)])
                parts = base + (node.module.split(".") if node.module else [])
                if parts:
                    tops.add(parts[0])
                else:   # `from . import x, y` at the package root
                    tops.update(alias.name for alias in node.names)
            elif node.module and node.module.split(".")[0] == "chainrule":
                rest = node.module.split(".")[1:]
                tops.update([rest[0]] if rest else [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "chainrule" and len(parts) > 1:
                    tops.add(parts[1])
    return tops


FILES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_module_has_a_floor():
    tops = {_top(p) for p in FILES}
    assert tops <= set(FLOOR_OF), f"modules without a floor: {sorted(tops - set(FLOOR_OF))}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    floor = FLOOR_OF[_top(path)]
    upward = {t for t in _imported_tops(path) if t in FLOOR_OF and FLOOR_OF[t] > floor}
    assert not upward, (f"{path.relative_to(PACKAGE)} (floor {floor}) imports "
                        f"{sorted(upward)} from a higher floor")
