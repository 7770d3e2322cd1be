# Two entry points, each doing its own set-up on a fresh machine:
#   make test  - install into .venv, then ruff, mypy, zizmor and the whole pytest suite
#   make demo  - install, start the local AWS emulator, plan + deploy examples/nami.yaml, stop it
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install test lint typecheck audit unit demo bench clean schema

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

lint: install
	$(BIN)/ruff check nami_action tests bench examples
	$(BIN)/ruff format --check nami_action bench examples

typecheck: install
	$(BIN)/mypy

audit: install
	@if [ -f action.yml ]; then $(BIN)/zizmor --offline action.yml examples/workflows/nami.yml; fi

unit: install
	$(BIN)/pytest -n 2 --dist loadfile

test: lint typecheck audit unit

demo: install
	$(BIN)/python examples/demo.py

bench: install
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/compile.py
	$(BIN)/python bench/plan_compile.py

schema: install
	$(BIN)/nami schema > schemas/nami.schema.json
	$(BIN)/python -c "import pathlib; from nami_action.config.readme import with_reference as w; p = pathlib.Path('README.md'); p.write_text(w(p.read_text()))"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
