# CMM collaborative evaluation workbench. `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
UV_VERSION := 0.13.8
STAMP  := $(VENV)/.installed-stamp
DEMO   := data/demo/teams.csv
DEMO2  := data/demo-cycle2/teams.csv
DEMO_REDCAP := data/demo-redcap/redcap_records.csv
PARAMS ?= params/demo.yaml
JOBS   ?= 2
NOTEBOOKS ?=

.PHONY: demo compare-demo test lab run regold dictionary bench bench-sweep clean help

help:
	@echo "make demo      set up .venv, generate the synthetic demo cohort, run the full evaluation"
	@echo "make test      set up, then unit tests and nbval regression tests on every notebook"
	@echo "make compare-demo   the demo collaborative's two cycles side by side (reports/compare/demo/)"
	@echo "make run PARAMS=params/<cohort>.yaml   evaluate your own cohort"
	@echo "make lab       JupyterLab with the project's kernel"
	@echo "make regold    refresh the regression outputs (tests/goldens/) after an intended change"
	@echo "make bench     benchmark the demo and 25,000-, 100,000- and 250,000-patient cohorts (first, forced, unchanged, floor)"
	@echo "make bench-sweep   benchmark the demo sweep against the same variants run one by one"

# The environment: a virtualenv with the locked versions (uv when it installs, else pip), the package
# itself in editable mode, and a Jupyter kernel named cmm-evaluation registered inside the venv. Then the
# one-time work a first run would otherwise pay for: every module compiled to bytecode (uv leaves that to first
# import), the workbench's own modules too, and matplotlib's font cache built.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	( $(PY) -m pip install --quiet uv==$(UV_VERSION) && $(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -r requirements.lock ) \
	  || $(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name cmm-evaluation --display-name "CMM evaluation (Python 3)" > /dev/null
	$(PY) -m compileall -q -j 0 evaluation benchmarks > /dev/null
	$(PY) -c "import matplotlib.font_manager"
	touch $(STAMP)

SYNTH := $(wildcard evaluation/data/synth/*.py)  # the generator: a changed generator regenerates the demo

$(DEMO): $(SYNTH) | $(STAMP)
	$(PY) -m evaluation synth --out data/demo --seed 2015

# the demo collaborative's second cycle: half its teams return, new patients, from February 2016
$(DEMO2): $(SYNTH) | $(STAMP)
	$(PY) -m evaluation synth --out data/demo-cycle2 --seed 2015 --cycle 2

# the demo cohort as a REDCap export (data dictionary, raw records, redcap.yaml): params/demo_redcap.yaml
$(DEMO_REDCAP): $(SYNTH) | $(STAMP)
	$(PY) -m evaluation synth --out data/demo-redcap --seed 2015 --format redcap

demo: $(STAMP) $(DEMO)
	$(PY) -m evaluation run params/demo.yaml --jobs $(JOBS)

# both cycles' reports brought up to date, then the comparison published to reports/compare/demo/
compare-demo: $(STAMP) $(DEMO) $(DEMO2)
	$(PY) -m evaluation compare compare/demo.yaml --jobs $(JOBS)

# a shipped demo's data is generated on first use; a cohort of your own is read as it is
run: $(STAMP) $(if $(filter params/demo%,$(PARAMS)),$(DEMO) $(DEMO2) $(DEMO_REDCAP))
	$(PY) -m evaluation run $(PARAMS) --jobs $(JOBS)

# Tests write reports to a temporary folder, never to reports/. nbval runs the goldens (tests/goldens/: each
# notebook with its stored outputs, written only by `make regold`), never the working notebooks/.
test: $(STAMP) $(DEMO) $(DEMO2) $(DEMO_REDCAP)
	CMM_REPORTS_DIR=$$(mktemp -d) $(PY) -m pytest tests --nbval \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg -q

lab: $(STAMP) $(DEMO)
	$(VENV)/bin/jupyter lab --notebook-dir=.

# Executes notebooks/ (left as they are) and writes their goldens to tests/goldens/: review that diff.
regold: $(STAMP) $(DEMO) $(DEMO2)
	$(PY) -m evaluation regold $(NOTEBOOKS)

dictionary: $(STAMP)
	$(PY) -m evaluation dictionary

bench: $(STAMP)
	$(PY) benchmarks/run_benchmark.py

# the demo sweep's 6 variants as single runs one after another, then as one sweep on 2 Dask workers
bench-sweep: $(STAMP) $(DEMO)
	$(PY) benchmarks/run_benchmark.py --sweep sweeps/demo.yaml --workers 2

# An interrupted publish is finished first: its journal in reports/.publishing points into .staging and .trash.
clean:
	if test -x $(PY); then $(PY) -c "from evaluation.run.publishing import repair_reports; [print(line) for line in repair_reports()]"; fi
	test -n "$$(ls -A reports/.publishing 2>/dev/null | grep -v '^.lock$$')" || rm -rf reports/.staging reports/.trash
