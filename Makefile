# lstmkit: two commands on a fresh machine — `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  := torch==2.13.0

.PHONY: demo test lint typecheck venv clean bench

# The venv is (re)built when pyproject.toml changes; torch is pinned (CPU build).
$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e ".[dev,data,tensorboard]"
	@# A CJK font so plots show Chinese labels (as root on Debian; plots fall back to numbered labels without one).
	-command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && ! fc-list :lang=zh 2>/dev/null | grep -q . && { apt-get update -qq && apt-get install -y -qq --no-install-recommends fonts-wqy-zenhei fontconfig; } || true
	@# Headless Chromium for the web page's browser test (skipped where it cannot be installed).
	-command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && ! command -v chromium >/dev/null && { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver; } || true
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/lstmkit demo sentiment

test: venv lint typecheck
	$(PY) -m pytest -q -n 2 --dist loadfile

# ruff's settings are in pyproject.toml ([tool.ruff]).
lint: venv
	$(PY) -m ruff check src tests benchmarks

# mypy's settings are in pyproject.toml ([tool.mypy]): the public API as users' code sees it.
typecheck: venv
	$(PY) -m mypy

bench: venv
	$(PY) benchmarks/core.py

clean:
	rm -rf $(VENV) runs build *.egg-info
