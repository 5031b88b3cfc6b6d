"""The import rules of ARCHITECTURE.md: lower layers never pull in the GUI, GL or network stacks."""

import subprocess
import sys

import pytest

HEAVY = ("kivy", "moderngl", "zmq")
RULES = {
    "orkiosk.plan": HEAVY,
    "orkiosk.plan.package": HEAVY,
    "orkiosk.plan.commands": HEAVY,
    "orkiosk.store": HEAVY,
    "orkiosk.touch": HEAVY,
    "orkiosk.planning": HEAVY,
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
