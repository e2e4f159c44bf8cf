"""What imports what: the test kit stays outside the product, the two PII modes depend one way.

* ``anka_testkit`` (the simulator, the PII fuzzer) is reached from ``anka_assets`` only through
  ``anka_assets/simulated.py``, lazily (inside a function or for type checkers), and loading the
  definitions imports none of it;
* ``anka_assets.text``: ``pii`` -> ``pii_egress`` -> ``pii_rules``, no import back (no cycle);
* the distribution ships ``anka_testkit`` and its ``anka-simulator`` console script.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import setuptools

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ROOT / "anka_assets"
DOOR = PRODUCT / "simulated.py"


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import in ``path``; ``if TYPE_CHECKING`` is not module level."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((alias.name, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module, top))
                found.extend((f"{child.module}.{alias.name}", top) for alias in child.names)
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                visit(child, False)
            else:
                visit(child, top)

    visit(tree, True)
    return found


def _uses(path: Path, package: str) -> list[tuple[str, bool]]:
    return [(m, top) for m, top in _imports(path) if m == package or m.startswith(package + ".")]


def test_only_the_simulated_door_imports_the_test_kit_and_only_lazily() -> None:
    product = sorted(PRODUCT.rglob("*.py"))
    assert DOOR in product and len(product) > 20
    outside = {str(p.relative_to(ROOT)): m for p in product if p != DOOR for m, _ in _uses(p, "anka_testkit")}
    assert not outside, f"product modules import the test kit (go through anka_assets/simulated.py): {outside}"
    door = _uses(DOOR, "anka_testkit")
    assert door, "anka_assets/simulated.py no longer reaches the simulator"
    assert not [m for m, top in door if top], "anka_assets/simulated.py imports the test kit at module level"


def test_loading_the_definitions_and_the_door_imports_no_test_kit() -> None:
    code = (
        "import sys, anka_assets.definitions, anka_assets.simulated, anka_assets.text.pii\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'anka_testkit'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", f"importing the product loaded the test kit: {out.stdout.strip()}"


def test_the_door_hands_out_the_test_kits_simulator() -> None:
    import anka_assets.simulated as door
    import anka_testkit.simulator as simulator

    assert door.SimulatorServer is simulator.SimulatorServer and door.FaultConfig is simulator.FaultConfig
    with pytest.raises(AttributeError, match="no attribute 'generate_completion'"):
        door.generate_completion  # noqa: B018 - only the server and its fault settings go through the door
    assert simulator.is_simulated_model is door.is_simulated_model  # one definition of "simulated"


TEXT = PRODUCT / "text"


def test_the_pii_modes_depend_one_way_on_one_rule_table() -> None:
    deps = {name: {m for m, _ in _uses(TEXT / f"{name}.py", "anka_assets")}
            for name in ("pii", "pii_egress", "pii_rules")}
    assert not deps["pii_rules"], f"pii_rules must import no product module: {deps['pii_rules']}"
    back = {m for m in deps["pii_egress"] if m == "anka_assets.text.pii" or m.startswith("anka_assets.text.pii.")}
    assert not back, f"pii_egress imports back into pii (an import cycle): {back}"
    assert {"anka_assets.text.pii_egress", "anka_assets.text.pii_rules"} <= deps["pii"]
    assert "anka_assets.text.pii_rules" in deps["pii_egress"]

def test_the_distribution_ships_the_test_kit_and_its_console_script() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = set(setuptools.find_packages(where=str(ROOT), include=include))
    assert {"anka_assets", "anka_testkit", "anka_testkit.simulator"} <= packages, sorted(packages)
    assert not {p for p in packages if p.startswith(("tests", "bench"))}
    module, _, attr = project["project"]["scripts"]["anka-simulator"].partition(":")
    assert module.split(".")[0] == "anka_testkit"
    assert callable(getattr(importlib.import_module(module), attr))
