#!/usr/bin/env bash
# Runs the test suite. pytest's exit code 5 ("no tests collected") is a failure here:
# a suite that silently collects nothing must never look green.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-artifacts
# The layering the package names promise (pyproject.toml [tool.importlinter]); a crossed layer
# fails the run before any test starts.
.venv/bin/lint-imports --no-cache || exit 1
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
