# Two entry points, each doing its own set-up on a fresh machine:
#   make test  - install into .venv, then ruff, mypy, zizmor, the docs site and the whole pytest suite
#   make demo  - install, start the local AWS emulator, plan + deploy examples/nami.yaml, stop it
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Everything `make install` puts into .venv comes from the hashed locks in requirements/
# (`make lock` writes them): pip installs only uv (uv.lock), uv installs test.lock exactly,
# then the project itself without resolving. A changed lock or pyproject gives a new venv.
LOCKS := requirements/uv.lock requirements/test.lock
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCKS) | cksum | cut -d' ' -f1)
UV := $(BIN)/uv
UV_PIP := $(UV) pip install --quiet --python $(BIN)/python --no-deps
# checkov's own virtualenv (below, before `unit` names its stamp).
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cat requirements/checkov.lock | cksum | cut -d' ' -f1)

.PHONY: install test lint typecheck audit unit demo bench clean schema aws-smoke lock iam-audit \
	browser dev docs

install: $(STAMP)

$(STAMP): pyproject.toml $(LOCKS)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-input \
		--require-hashes --no-deps -r requirements/uv.lock
	$(UV_PIP) --require-hashes -r requirements/test.lock
	$(UV_PIP) --no-build-isolation -e .
	touch $@

lint: install
	$(BIN)/ruff check nami_action tests bench examples docs/_hooks
	$(BIN)/ruff format --check nami_action tests bench examples docs/_hooks

typecheck: install
	$(BIN)/mypy
	$(BIN)/mypy docs/_hooks

audit: install
	$(BIN)/zizmor --offline --persona=pedantic action.yml examples/workflows/nami.yml \
		examples/workflows/nami-drift.yml \
		.github/workflows/ci.yml .github/workflows/action-test.yml .github/workflows/aws-smoke.yml \
		.github/workflows/latest-deps.yml .github/workflows/docs.yml .github/dependabot.yml

# The hashed locks, for every platform and Python >= 3.11: action.lock (what action.yml
# installs), test.lock (what `make install` installs, with the `test` and `docs` extras: the
# suite runs the versions the Action ships), uv.lock (the installer itself) and checkov.lock
# (checkov's own venv).
# Rerun after changing pyproject's dependencies; UPGRADE=1 moves every pin to the newest
# version the ranges allow (the latest-deps workflow does that weekly).
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)
lock: install
	$(UV) pip compile $(LOCK_FLAGS) pyproject.toml -o requirements/action.lock
	$(UV) pip compile $(LOCK_FLAGS) pyproject.toml requirements/test.in --extra test --extra docs \
		-c requirements/action.lock -o requirements/test.lock
	$(UV) pip compile $(LOCK_FLAGS) requirements/uv.in -o requirements/uv.lock
	$(UV) pip compile $(LOCK_FLAGS) requirements/checkov.in -o requirements/checkov.lock

unit: install $(CHECKOV_STAMP)
	NAMI_CHECKOV=$(CHECKOV_VENV)/bin/checkov $(BIN)/pytest -n 2 --dist loadfile

# The `nami dev` inspector's browser test drives a system Chromium (NAMI_CHROMIUM, or one on
# PATH); without one, on Debian/Ubuntu as root, this installs the distribution's package.
BROWSERS := chromium chromium-browser google-chrome google-chrome-stable
browser:
	@if [ -n "$$NAMI_CHROMIUM" ]; then exit 0; fi; \
	for b in $(BROWSERS); do command -v $$b >/dev/null && exit 0; done; \
	{ apt-get -o DPkg::Lock::Timeout=300 update && \
	  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y chromium; } || \
	{ echo "make browser: no Chromium, and apt-get could not install one (root needed);" \
	       "install Chromium, or set NAMI_CHROMIUM=/path/to/chrome" >&2; exit 1; }

test: lint typecheck audit docs browser unit

# The manual (mkdocs.yml, docs/) as a static site in site/; --strict: a broken link or anchor,
# here or to a repository file outside docs/, fails the build. Not --quiet: mkdocs 1.6 does
# not count the warnings it hides, so --strict would pass. NO_MKDOCS_2_WARNING: the theme's
# notice about its end of life (9.x is kept until May 2027) on every build.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# checkov (CloudFormation checks of the compiled templates, tests/security/test_checkov.py) gets
# its own virtualenv, from its own hashed lock: its pinned dependencies (urllib3 1.x,
# packaging 23) would downgrade the test environment's.
$(CHECKOV_STAMP): requirements/checkov.lock | install
	rm -rf $(CHECKOV_VENV)
	$(UV) venv --quiet --python $(BIN)/python $(CHECKOV_VENV)
	$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python --no-deps --require-hashes \
		-r requirements/checkov.lock
	touch $@

# The IAM documents and the compiled templates alone, checked the way the field checks them:
# handler permissions derived from cfn-lint's schemas, cloudsplaining, parliament, checkov
# (`make test` runs them with the rest of the suite).
iam-audit: install $(CHECKOV_STAMP)
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
	$(BIN)/python -c "import pathlib; from nami_action.config.reference import with_reference as w; p = pathlib.Path('docs/reference.md'); p.write_text(w(p.read_text()))"

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis site

# The examples on this machine until Ctrl-C: the AWS emulator with them deployed, and `nami dev`.
dev: install
	$(BIN)/python examples/dev.py
