"""The package's layout holds: folders import only the folders below them, no import cycle, and network files
import torch and the model contract only (as nanoGPT's model.py), so a newcomer can read the order from the names."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "course_utils"
FLOORS = ("engine", "maths", "models", "training", "evaluation", "teaching", "")
"""From the bottom up: each folder may import its own floor and the floors before it; "" is the top (warmup)."""
CONTRACT = "models.generative"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor(module: str) -> int:
    first = module.split(".")[0] if "." in module else ""
    return FLOORS.index(first if first in FLOORS else "")


def imports_of(path: Path) -> tuple[set[str], set[str]]:
    """(the course_utils modules this file imports, relative to course_utils; the top-level names of the others)."""
    module = module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    internal, external = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            for alias in node.names:       # "from . import exercises" names a module, "from .x import y" a name
                candidate = f"{target}.{alias.name}".lstrip(".")
                internal.add(candidate if _is_module(candidate) else target)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] == "course_utils":
                internal.add(node.module.removeprefix("course_utils").lstrip("."))
            elif node.module != "__future__":
                external.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "course_utils":
                    internal.add(alias.name.removeprefix("course_utils").lstrip("."))
                else:
                    external.add(alias.name.split(".")[0])
    internal.discard(module)
    return internal, external


def _is_module(dotted: str) -> bool:
    path = PACKAGE.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {module: imports_of(path)[0] for module, path in MODULES.items()}


def test_the_top_level_holds_folders_and_the_warmup_command_only():
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "warmup.py"]
    folders = sorted(path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists())
    assert folders == sorted(name for name in FLOORS if name)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_only_downward(module):
    upward = sorted(target for target in GRAPH[module] if floor(target) > floor(module))
    assert not upward, (f"course_utils.{module} (floor {FLOORS[floor(module)] or 'top'}) imports {upward} from a "
                        f"floor above it; the order is {' < '.join(name or 'top' for name in FLOORS)}")


def test_no_import_cycle():
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == "open":
                raise AssertionError(f"import cycle: {' → '.join([*trail[trail.index(target):], target])}")
            if target in GRAPH and target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("models.") and m != CONTRACT))
def test_network_files_import_torch_and_the_contract_only(module):
    internal, external = imports_of(MODULES[module])
    outside = sorted(target for target in internal if not target.startswith("models."))
    assert not outside, f"course_utils.{module} imports {outside}; a network file reaches the package through {CONTRACT}"
    foreign = sorted(name for name in external if name != "torch" and name not in sys.stdlib_module_names)
    assert not foreign, f"course_utils.{module} imports {foreign}; a network file needs torch and the standard library"


def test_the_checks_catch_an_upward_import_and_a_cycle(monkeypatch):
    """The checks themselves can fail: an engine module importing a recipe is upward, and two modules importing
    each other are a cycle."""
    assert floor("training.dcgan") > floor("engine.train")
    monkeypatch.setitem(GRAPH, "engine.train", GRAPH["engine.train"] | {"engine.recipe"})
    with pytest.raises(AssertionError, match="import cycle: .*engine.recipe.*engine.train"):
        test_no_import_cycle()
