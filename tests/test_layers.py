"""The layer rules (docs/architecture.md): arrows between our layers point down only, and lower
layers never pull in the GUI, GL or network stacks."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import orkiosk

# Which of our layers each layer may import (besides itself and the shared orkiosk.errors).
# app -> render, touch, sync, store, plan; sync -> store; render/touch/store -> plan;
# planning -> plan.
LAYERS = {
    "plan": set(),
    "render": {"plan"},
    "touch": {"plan"},
    "sync": {"store", "plan"},  # the hub serves from a store, a kiosk commits into one
    "store": {"plan"},
    "planning": {"plan"},
    "edit": {"plan"},
    "node": {"plan", "planning"},
    "app": {"render", "touch", "sync", "store", "plan", "edit"},
    # the command line and the benchmark runner sit on top: they reach every layer
    "cli": {"app", "render", "touch", "sync", "store", "plan", "planning", "edit", "node", "bench"},
    "bench": {"app", "render", "touch", "sync", "store", "plan", "planning", "edit", "node"},
    "__main__": {"cli"},
    "__init__": set(),
    "errors": set(),
}
SHARED = {"errors", "__init__"}

HEAVY = ("kivy", "moderngl", "zmq")
RULES = {
    "orkiosk.plan": HEAVY,
    "orkiosk.plan.package": HEAVY,
    "orkiosk.plan.commands": HEAVY,
    "orkiosk.store": HEAVY,
    "orkiosk.touch": HEAVY,
    "orkiosk.planning": HEAVY,
    "orkiosk.edit": HEAVY,
    "orkiosk.node": HEAVY,
    "orkiosk.render": ("kivy", "zmq"),
    "orkiosk.sync": ("kivy", "moderngl"),
    "orkiosk.cli": HEAVY,
}


@pytest.mark.parametrize(("module", "forbidden"), RULES.items())
def test_module_does_not_import(module, forbidden):
    code = (
        f"import sys, pkgutil, importlib; import {module} as m\n"
        "for info in pkgutil.walk_packages(getattr(m, '__path__', []), m.__name__ + '.'):\n"
        "    if not info.name.endswith('__main__'):\n"
        "        importlib.import_module(info.name)\n"
        f"bad = sorted(n for n in sys.modules if n.split('.')[0] in {forbidden!r})\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{module} imports {result.stdout.strip()}"


def test_only_app_imports_kivy_in_source():
    from pathlib import Path

    import orkiosk

    root = Path(orkiosk.__file__).parent
    offenders = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if p.relative_to(root).parts[0] != "app"
        and any(
            line.lstrip().startswith(("import kivy", "from kivy"))
            for line in p.read_text().splitlines()
        )
    ]
    assert offenders == []


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "orkiosk":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imported(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    """Every orkiosk module that `module`'s source imports (absolute or relative)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + is_package]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            names.append(name)
            if name == "orkiosk":  # from orkiosk import plan (a layer) or __version__ (not one)
                names += [f"orkiosk.{a.name}" for a in node.names if a.name in LAYERS]
    return [n for n in names if n == "orkiosk" or n.startswith("orkiosk.")]


def layer_violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """'a -> b' for each import of `module` that does not follow LAYERS."""
    own = _layer(module)
    if module.count(".") == 2 and module.endswith(".commands"):
        own = "cli"  # a layer's sub-commands belong to the command line, kept beside their layer
    allowed = LAYERS[own] | {own} | SHARED
    bad = []
    for name in _imported(ast.parse(source), module, is_package):
        target = _layer(name)
        if target not in allowed:
            bad.append(f"{module} -> {name}")
    return bad


def _modules():
    root = Path(orkiosk.__file__).parent
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = ["orkiosk", *rel.parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        yield ".".join(parts), path, is_package


def test_every_layer_is_known():
    unknown = {_layer(m) for m, _p, _pkg in _modules()} - set(LAYERS)
    assert not unknown, f"new top-level parts of orkiosk need a rule in LAYERS: {unknown}"


def test_imports_point_down_only():
    bad = []
    for module, path, is_package in _modules():
        bad += layer_violations(module, path.read_text("utf-8"), is_package)
    assert bad == [], "imports against the layer rules:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("orkiosk.plan.model", "from orkiosk.render.camera import Camera"),
        ("orkiosk.render.renderer", "import orkiosk.app.kiosk.app"),
        ("orkiosk.render.renderer", "from orkiosk.touch import Rotate"),
        ("orkiosk.touch.recognizer", "from orkiosk.render import camera"),
        ("orkiosk.store.commit", "from ..sync import messages"),
        ("orkiosk.app.kiosk.app", "from orkiosk.planning.pipeline import run_build"),
        ("orkiosk.planning.pipeline", "from orkiosk import render"),
        ("orkiosk.planning.pipeline", "def f():\n    from orkiosk.app import kiosk\n"),
    ],
)
def test_an_upward_or_sideways_import_is_caught(module, source):
    assert layer_violations(module, source) != []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("orkiosk.app.kiosk.app", "from orkiosk.render.renderer import Renderer"),
        ("orkiosk.render.camera", "from orkiosk.plan.views import NAMED_VIEWS"),
        ("orkiosk.planning.pipeline", "from orkiosk.plan.model import Plan\nfrom . import naming"),
        ("orkiosk.cli", "from orkiosk.planning import commands"),
    ],
)
def test_a_downward_import_is_allowed(module, source):
    assert layer_violations(module, source) == []
