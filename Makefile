VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-faults bench system-packages clean

# Fault-injection tests restart PostgreSQL and kill processes; they run on their own (see README).
FAULTS := tests/concurrency/test_database_outage.py tests/concurrency/test_projection_workers.py \
          tests/concurrency/test_multi_worker_server.py

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## seed a small demo city if empty, print demo sign-in tokens, then serve http://127.0.0.1:8000
	$(VENV)/bin/linli seed --scale 0.002 --if-empty
	@if [ -z "$$LINLI_DATABASE_URL" ]; then $(VENV)/bin/linli tokens demo; fi
	$(VENV)/bin/linli serve --host 127.0.0.1 --port 8000

test: $(STAMP)  ## the whole suite, on SQLite and PostgreSQL (fault injection apart)
	$(PY) -m pytest $(addprefix --ignore=,$(FAULTS))

test-faults: $(STAMP)  ## projection workers killed, PostgreSQL restarted, several API processes
	LINLI_REQUIRE_POSTGRES=1 $(PY) -m pytest $(FAULTS)

system-packages:  ## what pip cannot install: wrk (`make bench`), Chromium and a CJK font (the console's browser tests)
	command -v wrk >/dev/null && command -v chromium >/dev/null && fc-list | grep -qi wenquanyi || \
	  (apt-get update -q && apt-get install -y -q --no-install-recommends wrk chromium fonts-wqy-zenhei)

bench: $(STAMP) system-packages  ## claims in three shapes and the command mix under wrk, beside the CRUD peer
	$(PY) -m bench

clean:
	rm -rf $(VENV) var
