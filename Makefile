VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## seed a small demo city if empty, then serve http://127.0.0.1:8000
	$(VENV)/bin/linli seed --scale 0.002 --if-empty
	$(VENV)/bin/linli serve --host 127.0.0.1 --port 8000

test: $(STAMP)  ## the whole suite, on SQLite and PostgreSQL
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) var
