# `make demo` and `make test` bootstrap everything on a fresh machine: Debian's OpenJPEG
# library (and, for the tests, two independent JPEG 2000 decoders), then .venv.
# Both are idempotent: a second run only checks stamps and goes straight to the job.

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SYSSTAMP := .make/system-deps
TESTSTAMP := .make/test-deps
BROWSERSTAMP := .make/browser-deps
PYTEST_ARGS ?=

.PHONY: demo test compose-test install system-deps test-deps browser-deps lint clean

demo: install
	$(VENV)/bin/eodl demo --exit

test: install test-deps browser-deps
	bash scripts/run-tests.sh $(PYTEST_ARGS)

# The docker-compose downlink on a real engine (as root, with Debian's docker.io,
# docker-compose and debootstrap): its own dockerd, a build, `up`, a kill, `down`; see
# tests/deploy/test_compose_up.py. Skips, saying why, where no engine can start.
compose-test: install
	$(PY) -m pytest -m slow -s tests/deploy/test_compose_up.py

install: system-deps $(STAMP)

# Reinstall only when the project's dependency list changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

system-deps: $(SYSSTAMP)
$(SYSSTAMP): scripts/system-deps.sh
	bash scripts/system-deps.sh runtime
	@mkdir -p .make && touch $(SYSSTAMP)

test-deps: $(TESTSTAMP)
$(TESTSTAMP): scripts/system-deps.sh
	bash scripts/system-deps.sh test
	@mkdir -p .make && touch $(TESTSTAMP)

# Debian's chromium for the dashboard's end-to-end test (Playwright drives it; it never
# downloads a browser of its own).
browser-deps: $(BROWSERSTAMP)
$(BROWSERSTAMP): scripts/system-deps.sh
	bash scripts/system-deps.sh browser
	@mkdir -p .make && touch $(BROWSERSTAMP)

lint: install
	$(VENV)/bin/ruff check shared satellite_node ground_station workbench tests

clean:
	rm -rf $(VENV) .make .pytest_cache
