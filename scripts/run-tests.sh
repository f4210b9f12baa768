#!/usr/bin/env bash
# Runs the test suite. pytest's exit code 5 ("no tests collected") is a failure here:
# a suite that silently collects nothing must never look green.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-artifacts
# Static checks first, each failing the run before any test starts: lint (with the annotation
# and docstring rules), the layering the package names promise (pyproject.toml
# [tool.importlinter]) and the types of `shared/` (mypy, strict; pyproject.toml [tool.mypy]).
.venv/bin/ruff check shared satellite_node ground_station workbench tests || exit 1
.venv/bin/lint-imports --no-cache || exit 1
.venv/bin/mypy || exit 1
if [ "$#" -eq 0 ]; then
  set -- -m "not slow"
fi
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
