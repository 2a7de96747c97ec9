# Two commands matter: `make demo` and `make test`. Everything else supports them.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
DATE   ?=

.PHONY: install demo demo-loop test test-fast lint sandbox airflow airflow-prod bench lock clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (see README)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

demo: install
	@tools/system-deps runtime
	$(BIN)/python tools/demo.py $(if $(DATE),--date $(DATE))

# The loop: the forecast for D (default: the day before the last seeded day), then forecast_monitoring for D+1.
demo-loop: install
	@tools/system-deps runtime
	$(BIN)/python tools/demo.py --monitor $(if $(DATE),--date $(DATE))

# Debian packages (Chromium for the UI test, ...) come from tools/system-packages.txt, installed when missing.
# Workers for `make test`: the e2e and scheduler groups mostly wait on jobs and servers, so 4 workers keep
# 2 cores busy. `make test TEST_WORKERS=0` runs everything in one process.
TEST_WORKERS ?= 4
FAST_DIRS := tests/unit tests/dags tests/jobs tests/deploy tests/sandbox tests/integration

test: install
	@tools/system-deps runtime test
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# The fast tier (no Airflow runs, no scheduler): under 3 minutes. See README "Tests and benchmarks".
test-fast: install
	@tools/system-deps runtime
	$(BIN)/python -m pytest -n 2 $(FAST_DIRS)

# cfn-lint on infra/ (the template alone and with each environment's parameter file), then ruff.
lint: install
	$(BIN)/python tools/lint_infra.py
	$(BIN)/ruff check .

sandbox: install
	$(BIN)/python -m sandbox serve

# The sandbox and a real Airflow (scheduler, dag-processor, triggerer, api-server); Ctrl-C stops both.
airflow: install
	$(BIN)/python tools/stack.py

# The production shape of docker-compose.yaml without Docker: private PostgreSQL and Redis, CeleryExecutor with
# two workers, each Airflow component a process of its own, and the sandbox; Ctrl-C stops everything.
airflow-prod: install
	@tools/system-deps runtime prod
	$(BIN)/python tools/prod_stack.py

bench: install
	$(BIN)/python bench/sandbox_bench.py
	@# A dag-processor parses with bytecode caching on; some machines switch it off for every process.
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python bench/pipeline_bench.py
	@tools/system-deps runtime prod
	$(BIN)/python bench/prod_backfill_bench.py

# Re-resolve the full dependency set and rewrite the lock (needs network; takes minutes).
lock:
	rm -rf /tmp/lock-venv && $(PYTHON) -m venv /tmp/lock-venv
	/tmp/lock-venv/bin/pip install --quiet -r requirements-dev.txt
	{ echo "# Full lock of the dependency set (pip freeze of requirements-dev.txt on Python 3.11)."; \
	  echo "# Regenerate with: make lock"; \
	  /tmp/lock-venv/bin/pip freeze | grep -v -i -E '^(pip|setuptools|wheel)=='; } > constraints.txt

clean:
	rm -rf $(VENV) .sandbox .airflow .stack .stack-prod .pytest_cache .ruff_cache test-artifacts
