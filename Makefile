# dlteach: two commands on a fresh machine with only Python 3.11+
#   make lab   - create .venv, install dlteach with the lab extra, open the notebooks in JupyterLab
#   make test  - create .venv, install everything (lab, test, instructor extras), lint (ruff), run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# JupyterLab refuses to start as root (containers, Binder-like VMs) unless told it is intended
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: lab test test-unit lint test-notebooks sync-lessons student-notebooks execute-notebooks profile-notebooks bench clean

$(VENV)/.lab-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[lab]"
	touch $@

$(VENV)/.all-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[lab,test,instructor]"
	touch $(VENV)/.lab-installed $@

lab: $(VENV)/.lab-installed
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(ALLOW_ROOT) notebooks/student/01_model_loss_functions.ipynb

test: $(VENV)/.all-installed lint
	$(PY) -m pytest tests
	$(PY) -m pytest -p no:cacheprovider --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg notebooks/[0-9]*.ipynb notebooks/examples/*.ipynb

lint: $(VENV)/.all-installed
	$(VENV)/bin/ruff check dlteach tests tools benchmarks

test-unit: $(VENV)/.all-installed
	$(PY) -m pytest tests -m "not binder and not browser"

sync-lessons: $(VENV)/.all-installed
	$(PY) tools/sync_lessons.py

student-notebooks: $(VENV)/.all-installed
	$(PY) tools/generate_student.py

execute-notebooks: $(VENV)/.all-installed
	$(PY) tools/execute_notebooks.py

profile-notebooks: $(VENV)/.all-installed
	$(PY) tools/profile_notebooks.py

bench: $(VENV)/.all-installed
	$(PY) benchmarks/bench_training_step.py
	$(PY) benchmarks/bench_step_overhead.py
	$(PY) benchmarks/bench_spatial.py
	$(PY) benchmarks/bench_monitor.py
	$(PY) benchmarks/bench_lbfgs.py
	$(PY) benchmarks/bench_image_datastore.py

clean:
	rm -rf $(VENV) .pytest_cache
