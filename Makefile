# Touchup: `make demo` and `make test` are the whole quick start.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-postgres lint bench clean

# Install into .venv once per change of pyproject.toml. mediapipe 0.10.21 is the last
# release whose wheel carries its face-landmark models; its declared dependencies
# (jax, jaxlib, a second OpenCV) add ~600 MB we never import, so it goes in --no-deps
# and pyproject.toml lists what it really needs.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps 'mediapipe==0.10.21'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/touchup demo

test: $(STAMP)
	bash scripts/ensure-chromium
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

# The same suite on PostgreSQL (the server on 127.0.0.1:5432 here).
test-postgres: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/touchup} $(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var
