# Two entry points, each doing its own set-up on a fresh machine:
#   make test  - install into .venv, then ruff, mypy, zizmor and the whole pytest suite
#   make demo  - install, start the local AWS emulator, plan + deploy examples/nami.yaml, stop it
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install test lint typecheck audit unit demo bench clean schema aws-smoke lock iam-audit

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
	$(BIN)/zizmor --offline --persona=pedantic action.yml examples/workflows/nami.yml \
		examples/workflows/nami-drift.yml \
		.github/workflows/ci.yml .github/workflows/action-test.yml .github/workflows/aws-smoke.yml

# The Action's runtime dependencies, pinned with hashes for every platform and Python >= 3.11
# (action.yml installs them with --require-hashes); rerun after changing pyproject's dependencies.
lock: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv>=0.5'
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
		--quiet --custom-compile-command 'make lock' -o requirements/action.lock

unit: install
	$(BIN)/pytest -n 2 --dist loadfile

test: lint typecheck audit iam-audit unit

# The IAM documents and the compiled templates, checked the way the field checks them:
# handler permissions derived from cfn-lint's schemas, cloudsplaining, parliament, checkov.
# checkov gets its own virtualenv: its pinned dependencies (urllib3 1.x, packaging 23)
# would downgrade the test environment's.
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
$(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'
	touch $@

iam-audit: install $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
	NAMI_CHECKOV=$(CHECKOV_VENV)/bin/checkov $(BIN)/pytest -n 0 -p no:randomly \
		tests/security/test_handler_permissions.py tests/security/test_policy_linters.py \
		tests/security/test_checkov.py tests/security/test_iam_documents.py

demo: install
	$(BIN)/python examples/demo.py

# Against a real AWS account (credentials from the environment; docs/aws-smoke.md).
AWS_SMOKE_REGION ?= eu-west-1
aws-smoke: install
	$(BIN)/python -m tests.smoke.aws_smoke --region $(AWS_SMOKE_REGION)

bench: install
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/compile.py
	$(BIN)/python bench/plan_compile.py

schema: install
	$(BIN)/nami schema > schemas/nami.schema.json
	$(BIN)/python -c "import pathlib; from nami_action.config.readme import with_reference as w; p = pathlib.Path('README.md'); p.write_text(w(p.read_text()))"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
