"""The package layout stays a pipeline: no import circles, and imports only go down the layers.

Walks every ``scanflow`` module's imports with ``ast`` (imports inside functions count:
a lazy import is still a dependency). The layers are the ones ``docs/architecture.md``
draws; change both together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "scanflow"

# Lowest first: a package may import its own modules and those of any package listed
# before it, never one listed after it. Top-level modules (errors, progress) are layer 0.
LAYERS = ["", "archive", "ocr", "intake", "scoring", "exports", "evaluation", "training",
          "review", "cli"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The scanflow modules ``path`` imports (``from scanflow.x import y`` counts y when y
    is itself a module)."""
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("scanflow"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("scanflow"):
                continue
            subs = {f"{target}.{a.name}" for a in node.names} & known
            found.update(subs or {target})
    found.discard(this)
    return {m for m in found if m in known}


def graph() -> dict[str, set[str]]:
    paths = sorted(ROOT.rglob("*.py"))
    known = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, known) for p in paths}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def layer(module: str) -> int:
    if module == "scanflow.__main__":  # the entry point sits above everything
        return len(LAYERS)
    parts = module.split(".")
    package = parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else ""
    return LAYERS.index(package)


def test_no_import_circles():
    cycle = find_cycle(graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_imports_go_down_the_layers():
    wrong = [f"{mod} imports {dep}" for mod, deps in graph().items() for dep in sorted(deps)
             if layer(dep) > layer(mod)]
    assert not wrong, ("these imports go up the layers in docs/architecture.md:\n"
                       + "\n".join(wrong))


def test_every_package_says_what_comes_in_and_goes_out():
    for init in sorted(ROOT.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert len(doc.split()) >= 15, f"{init} needs a docstring: what comes in, goes out"
        assert init.parent.name in LAYERS, f"{init.parent.name} is missing from LAYERS"


def test_the_checks_can_fail():
    """The cycle finder finds a planted circle, and the layer rule catches an upward import."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert layer("scanflow.archive.store") < layer("scanflow.intake.ingest")
    assert layer("scanflow.errors") == 0 and layer("scanflow.cli") == LAYERS.index("cli")


@pytest.mark.parametrize("doc", ["docs/architecture.md"])
def test_architecture_doc_lists_the_layers(doc):
    text = (ROOT.parent / doc).read_text(encoding="utf-8")
    for package in LAYERS[1:]:
        assert f"`{package}/`" in text, f"{doc} does not mention {package}/"
