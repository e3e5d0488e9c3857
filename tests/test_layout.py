"""The package's layout: its imports run downward, from the commands to the contract, and never in a circle."""

import ast
from pathlib import Path

import pytest

from autograder.fingerprint import PACKAGE_DIR

# Lower layers never import higher ones: commands -> instructor -> reports, suite -> boundary, launch -> contract.
# launch starts gradings, for students and instructors alike: as low as the boundary, which it does not import.
LAYERS = {"contract": 0, "fingerprint": 0, "boundary": 1, "launch": 1, "reports": 2, "suite": 2, "instructor": 3}
COMMANDS = 4  # __main__, conftest and cell: what users run


def module_name(path: Path) -> str:
    """``autograder/boundary/worker.py`` -> ``autograder.boundary.worker``."""
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    """The layer of a module of the package, by its folder (or its own name at the package's root)."""
    name = module.split(".")[1] if module.count(".") else "contract"
    return LAYERS.get(name, COMMANDS)


def package_imports(path: Path) -> set[str]:
    """The package's modules that ``path`` imports anywhere in its body (inside functions too)."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("autograder"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                imported.add(candidate if candidate in MODULES else node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names if alias.name.startswith("autograder"))
    return imported & set(MODULES)


MODULES = {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}
GRAPH = {module: package_imports(path) for module, path in MODULES.items()}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_module_imports_only_its_own_layer_or_lower(module: str) -> None:
    """No module imports a module of a higher layer."""
    upward = sorted(m for m in GRAPH[module] if layer(m) > layer(module))
    assert not upward, f"{module} (layer {layer(module)}) imports {upward} from a higher layer"


def test_no_module_imports_itself_back_through_others() -> None:
    """The package's import graph has no cycle."""
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            pytest.fail("import cycle: " + " -> ".join((*path[path.index(module):], module)))
        if module in done:
            return
        for imported in sorted(GRAPH[module]):
            visit(imported, (*path, module))
        done.add(module)

    for module in sorted(GRAPH):
        visit(module, ())
