# Two entry points on a fresh machine: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean system-packages

# Servers the tests start for themselves, from Debian's packages, installed here when missing
# (the tests fail without them): an SSH server and rsync for tests/test_cluster_launcher.py
# (`ray up` over SSH to 127.0.0.1), PostgreSQL for tests/test_postgres_storage.py.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

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

system-packages:
	@test -x /usr/sbin/sshd && command -v ssh >/dev/null && command -v rsync >/dev/null \
	  && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing openssh-server, openssh-client, rsync, postgresql (Debian packages) for the tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends openssh-server openssh-client rsync postgresql >/dev/null; }

test: $(STAMP) system-packages
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) bench/data_gen.py
	$(PY) bench/study_overhead.py --append docs/benchmarks.md
	$(PY) bench/step_speed.py --append docs/benchmarks.md
	$(PY) bench/cpu_recipe.py --append docs/benchmarks.md

clean:
	rm -rf $(VENV) runs .axiomatic_cache
