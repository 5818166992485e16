# Two entry points on a fresh machine: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	# torch first: the pinned CPU build lies on this disk; an unpinned torch pulls CUDA wheels.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/platform data generate --preset TS2 --size 20000 --seed 0 --out runs/demo/ts2
	$(VENV)/bin/platform data suites
	$(VENV)/bin/platform study studies/quickstart.yaml

test: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) bench/data_gen.py
	$(PY) bench/study_overhead.py --append docs/benchmarks.md
	$(PY) bench/step_speed.py --append docs/benchmarks.md
	$(PY) bench/cpu_recipe.py --append docs/benchmarks.md

clean:
	rm -rf $(VENV) runs .axiomatic_cache
