"""Every module imports on its own terms: no import cycle that only a lucky order hides."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("shared", "satellite_node", "ground_station", "workbench")
SCRIPT = """
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc(limit=3))
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def _modules(package: str) -> list[str]:
    names = []
    for path in sorted((REPO / package).rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_each_package_imports_module_by_module_in_a_fresh_interpreter() -> None:
    # one interpreter per package, modules in file order: a module that only imports after a
    # sibling has (a cycle through a package __init__) fails here
    for package in PACKAGES:
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT, *_modules(package)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"{package}:\n{result.stdout}{result.stderr[-2000:]}"
