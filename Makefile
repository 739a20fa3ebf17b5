# losskit developer commands. Everything runs inside .venv, created on first use.
# torch is pinned to 2.13.0 here: on these machines it is the CPU build on disk,
# while a looser requirement pulls a multi-GB CUDA build. pyproject.toml states
# the real supported range.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH_PIN := torch==2.13.0

.PHONY: venv demo test bench lint clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: venv
	$(PY) examples/train_diabetes.py

test: venv
	$(PY) -m pytest -q -n 2 -p no:cacheprovider

bench: venv
	$(PY) benchmarks/run_all.py $(BENCH)

lint: venv
	$(PY) -m ruff check src tests benchmarks examples

clean:
	rm -rf $(VENV) build dist src/*.egg-info
