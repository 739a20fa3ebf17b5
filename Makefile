# losskit developer commands. Everything runs inside .venv, created on first use.
# torch is pinned to 2.13.0 here: on these machines it is the CPU build on disk,
# while a looser requirement pulls a multi-GB CUDA build. pyproject.toml states
# the real supported range.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH_PIN := torch==2.13.0

.PHONY: venv demo figures test bench lint clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# The demo grids (benchmarks/bench_compare_batched.py reads these two lines too).
DEMO_DIABETES := --dataset diabetes --losses mse,mae,huber,log_cosh --corruption 0,0.1,0.2 --noise-kind gross --seeds 10 --epochs 100 --lr 2e-3 --batch-size 64
DEMO_DIGITS := --dataset digits --losses cross_entropy,kl_div,softmax_mae --corruption 0,0.2,0.4 --noise-kind symmetric --seeds 10 --epochs 60 --lr 1e-3 --batch-size 64

# --force only replaces results of a different configuration; the same one resumes (or just reports).
demo: venv
	$(PY) -m losskit compare $(DEMO_DIABETES) --out runs/demo-diabetes --force
	$(PY) -m losskit compare $(DEMO_DIGITS) --out runs/demo-digits --force

# The README's figures, regenerated from the demo's output by losskit itself.
figures: demo
	mkdir -p docs/figures
	for f in learning_curves final_vs_corruption; do \
		cp runs/demo-diabetes/figures/$$f.png docs/figures/diabetes_$$f.png; \
		cp runs/demo-digits/figures/$$f.png docs/figures/digits_$$f.png; \
	done
	$(PY) -m losskit plot --losses mse,mae,huber,log_cosh,cross_entropy,softmax_mae --out docs/figures/loss_curves.png

test: venv
	$(PY) -m pytest -q -n 2 -p no:cacheprovider

bench: venv
	$(PY) benchmarks/run_all.py $(BENCH)

lint: venv
	$(PY) -m ruff check src tests benchmarks examples

clean:
	rm -rf $(VENV) build dist src/*.egg-info
