# sessrec: `make demo` runs the whole job on built-in data; `make test` runs the test suite.
SHELL := /bin/bash
PYTHON_BASE ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.sessrec-setup
DATA ?= data/synthetic
RUN ?= runs/latest
EPOCHS ?=
# A finished run to start training from (train --init-from): a retrain on newer data
INIT_FROM ?=
# Serving knobs to pack instead of handler/model-config.yaml and handler/model-config-sessions.yaml
MODEL_CONFIG ?=
SESSIONS_MODEL_CONFIG ?=
ML_METRICS := ml_metrics==0.1.4

.PHONY: setup test data train evaluate recommend baselines archive serve stop request request-session demo bench bench-accuracy bench-warm-start bench-serve bench-serve-sessions bench-serve-sweep bench-serve-sessions-sweep bench-session-resend bench-cuda profile-serve bench-gru-kernels clean

setup: $(STAMP)

# Re-runs only when the dependency list changes; a finished setup costs nothing.
$(STAMP): pyproject.toml
	@command -v java >/dev/null || { echo "error: java not found; TorchServe 0.12 needs Java 17 (Debian: apt-get install openjdk-17-jre-headless)"; exit 1; }
	@java -version 2>&1 | head -1 | grep -Eq '"(1[7-9]|2[0-9])' || { echo "error: TorchServe 0.12 needs Java >= 17, found: $$(java -version 2>&1 | head -1)"; exit 1; }
	test -x $(PY) || $(PYTHON_BASE) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	@# ml_metrics 0.1.4's setup.py uses use_2to3, gone from setuptools>=58: build its wheel in a
	@# throwaway venv with an old setuptools, then install that wheel (numpy/pandas come from above).
	@if ! $(PY) -c 'import ml_metrics' 2>/dev/null; then \
		set -e; tmp=$$(mktemp -d); \
		$(PYTHON_BASE) -m venv $$tmp/venv; \
		$$tmp/venv/bin/pip install -q 'setuptools<58' wheel; \
		$$tmp/venv/bin/pip wheel -q --no-deps --no-build-isolation -w $$tmp/wheels $(ML_METRICS); \
		$(PIP) install -q --no-deps $$tmp/wheels/ml_metrics-*.whl; \
		rm -rf $$tmp; \
	fi
	$(PY) -c 'import torch, ts, model_archiver, yaml, ml_metrics; print("setup ok: torch", torch.__version__)'
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

# DATA and RUN are quoted wherever a recipe uses them, so paths with spaces work; for the same reason
# the data step is a recipe that checks for train.pkl, not a file target (make splits targets at spaces).
data: setup
	@if [ ! -f "$(DATA)/train.pkl" ]; then echo '$(PY) -m trainer prepare --synthetic --out "$(DATA)"'; \
		$(PY) -m trainer prepare --synthetic --out "$(DATA)"; fi

train: setup
	@if [ "$(DATA)" = "data/synthetic" ] && [ ! -f "$(DATA)/train.pkl" ]; then $(MAKE) --no-print-directory data; fi
	$(PY) -m trainer train --data "$(DATA)" --out "$(RUN)" $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(INIT_FROM),--init-from "$(INIT_FROM)")

evaluate: setup
	$(PY) -m trainer evaluate --data "$(DATA)" --run "$(RUN)" --split test

# The answer `make request` will get from the server, computed offline from RUN (same k: 10)
recommend: setup
	$(PY) -m trainer recommend --run "$(RUN)" --data "$(DATA)" --k 10

baselines: setup
	@if [ "$(DATA)" = "data/synthetic" ] && [ ! -f "$(DATA)/train.pkl" ]; then $(MAKE) --no-print-directory data; fi
	for b in pop sr sknn; do rm -rf runs/$$b; $(PY) -m trainer baseline --name $$b --data "$(DATA)" --out runs/$$b || exit 1; \
		echo "$$b test:"; $(PY) -m trainer evaluate --data "$(DATA)" --run runs/$$b --split test || exit 1; done

SESSIONS_ARCHIVE = $(PY) -m trainer archive --run "$(RUN)" --out model_store --sessions \
	$(if $(SESSIONS_MODEL_CONFIG),--model-config "$(SESSIONS_MODEL_CONFIG)")
archive: setup
	$(PY) -m trainer archive --run "$(RUN)" --out model_store $(if $(MODEL_CONFIG),--model-config "$(MODEL_CONFIG)")
	@# baselines have no GRU state to step: they get the stateless archive only
	@if grep -q '"kind": "gru"' "$(RUN)/config.json"; then echo '$(SESSIONS_ARCHIVE)'; $(SESSIONS_ARCHIVE); \
	else rm -f model_store/sessrec_sessions.mar; fi

serve: setup
	@test -f model_store/sessrec.mar || { echo "error: model_store/sessrec.mar not found; run 'make archive' first"; exit 1; }
	@# the sessions archive is served only if it was built with (after) sessrec.mar, not left from another run
	@extra=; if [ -f model_store/sessrec_sessions.mar ]; then \
		if [ model_store/sessrec.mar -nt model_store/sessrec_sessions.mar ]; then \
			echo "warning: model_store/sessrec_sessions.mar is older than sessrec.mar (another run's?): not served; 'make archive' rebuilds both"; \
		else extra=sessrec_sessions.mar; fi; fi; \
	echo "$(PY) -m trainer serve --config config.properties --models sessrec.mar $$extra"; \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m trainer serve --config config.properties --models sessrec.mar $$extra

stop: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m trainer stop

request: setup
	$(PY) -m trainer request --data "$(DATA)"

# Streams the same history into sessrec_sessions one movie at a time and checks the last answer
# against the stateless one.
request-session: setup
	$(PY) -m trainer request --data "$(DATA)" --session

# The whole job on built-in data: data, a short training run, test metrics, one answer offline, archive,
# serve, the same request to the server, the same history streamed as a session, stop (also when a step fails).
demo: setup
	@if [ ! -f "$(DATA)/train.pkl" ]; then $(MAKE) --no-print-directory data; fi
	rm -rf runs/demo
	$(PY) -m trainer train --data "$(DATA)" --out runs/demo --epochs $(or $(EPOCHS),30)
	$(PY) -m trainer evaluate --data "$(DATA)" --run runs/demo --split test
	@$(MAKE) --no-print-directory recommend RUN=runs/demo
	@$(MAKE) --no-print-directory archive RUN=runs/demo
	@# A failed serve has stopped whatever it started; `make stop` then would stop ANOTHER TorchServe
	@# (torchserve --stop takes the user's last one, from any directory), say one holding the ports.
	@$(MAKE) --no-print-directory serve && { $(MAKE) --no-print-directory request && $(MAKE) --no-print-directory request-session; rc=$$?; $(MAKE) --no-print-directory stop; exit $$rc; } \
		|| exit 1

# Benchmarks of a trained run stop early, naming the missing file, when RUN has no exported model.
NEED_MODEL = test -f "$(RUN)/model.pt" || { echo "error: $(RUN)/model.pt not found; run 'make train' (or pass RUN=...)"; exit 1; }
WRK_INSTALL = command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; \
	apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }; }

# Benchmarks write BENCHMARKS.md sections and build/bench/*.json. bench-serve needs a trained RUN;
# bench-accuracy trains its own (MovieLens from ../shared/data, else downloaded; takes long on CPU).
bench: bench-accuracy bench-warm-start bench-serve bench-gru-kernels

# AMP=1: the ML-1M GRU runs train with bf16 autocast (CUDA, or a CPU with native bf16; 1.7x faster on ML-1M here);
# ML-100k stays fp32, as its preset was measured
bench-accuracy: setup
	$(PY) -m trainer.bench_accuracy $(if $(AMP),--amp)

# On a CUDA machine: time the ML-1M preset with AMP alone on the GPU, check CPU/GPU parity of its export,
# then train candidates side by side (prepare the data first, e.g. with `make bench-accuracy` or
# `prepare --dataset ml-1m`). Side by side runs overlap far better under NVIDIA MPS
# (`nvidia-cuda-mps-control -d` before, `echo quit | nvidia-cuda-mps-control` after).
# Set up to settle: preset v6's time to its best epoch on CUDA (earlier rounds timed v1-v3), and how often
# one fp32 run of v6 reaches test ndcg@10 0.175 (seeds 19-26: no CPU run used them). About 9 minutes on an H200.
# On a lent device machine (no venv there; its python3 has torch and what trainer imports), carry build/data/ml-1m:
# python3 -m trainer.bench_cuda --data build/data/ml-1m --out /tmp/cuda --results $OUT/results.json FLAGS-BELOW
# then `python -m trainer.bench_candidates_md ... --cpu-steps docs/ablations/ml-1m-cpu-steps.json` renders it.
bench-cuda: setup
	$(PY) -m trainer.bench_cuda --data build/bench/data/ml-1m --out build/bench/cuda --results build/bench/cuda.json \
		--budget 540 --preset-seconds 200 --candidates v6-fp32 --seeds 19 20 21 22 23 24 25 26

# What train --init-from buys (BENCHMARKS.md, "Warm-start retrains"): each data set split twice, the old split
# with the last 20% of events held out instead of 10%; ML-100k from ../shared/data when present, else GroupLens.
# About 15 min for ML-100k's 10 seeds and 10 for the built-in data's 3 on 2 cores; finished runs are kept.
WARM := build/bench/warm
ML100K_LOG := ../shared/data/ml-100k/interactions.tsv
bench-warm-start: setup
	@for split in "old 0.2" "new 0.1"; do set -- $$split; \
		if [ ! -f $(WARM)/ml-100k-$$1/train.pkl ]; then \
			if [ -f $(ML100K_LOG) ]; then src="--input $(ML100K_LOG) --user-col user_id --item-col item_id --time-col timestamp"; \
			else src="--dataset ml-100k"; fi; \
			$(PY) -m trainer prepare $$src --split temporal --val-frac 0.1 --test-frac $$2 --out $(WARM)/ml-100k-$$1 || exit 1; fi; \
		[ -f $(WARM)/synthetic-$$1/train.pkl ] || \
			$(PY) -m trainer prepare --synthetic --val-frac 0.1 --test-frac $$2 --out $(WARM)/synthetic-$$1 || exit 1; \
	done
	$(PY) -m trainer.bench_warm_start --old $(WARM)/ml-100k-old --new $(WARM)/ml-100k-new --out $(WARM)/ml-100k \
		--seeds 1 2 3 4 5 6 7 8 9 10 --md BENCHMARKS.md --name "MovieLens-100k, temporal split" -- --preset ml-100k
	$(PY) -m trainer.bench_warm_start --old $(WARM)/synthetic-old --new $(WARM)/synthetic-new --out $(WARM)/synthetic \
		--seeds 1 2 3 --md BENCHMARKS.md --name "built-in data"

bench-serve: setup
	@$(WRK_INSTALL)
	@$(NEED_MODEL)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m trainer.bench_serve --run "$(RUN)"

bench-serve-sessions: setup
	@$(WRK_INSTALL)
	@$(NEED_MODEL)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m trainer.bench_serve --run "$(RUN)" --sessions

bench-serve-sessions-sweep: setup
	@$(WRK_INSTALL)
	@$(NEED_MODEL)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m trainer.bench_serve --run "$(RUN)" --sessions-sweep --seconds 10

# Which code takes the model workers' CPU under the two serving loads (py-spy, from `make setup`).
profile-serve: setup
	@$(WRK_INSTALL)
	@$(NEED_MODEL)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m trainer.bench_profile --run "$(RUN)"

# The served GRU on one core (as a worker runs it): predict_next by batch size, and its recurrent matmul
# three ways (MKL fp32, oneDNN prepacked, bf16), each checked against the fp32 product. About 20 s.
bench-gru-kernels: setup
	@$(NEED_MODEL)
	$(PY) -m trainer.bench_gru_kernels --run "$(RUN)"

# Lost session requests (a TorchServe 0.12 race at a session's idle timeout) and recovery by resending.
bench-session-resend: setup
	@$(NEED_MODEL)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m trainer.bench_session_resend --run "$(RUN)"

bench-serve-sweep: setup
	@$(WRK_INSTALL)
	@$(NEED_MODEL)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m trainer.bench_serve --run "$(RUN)" --sweep --seconds 10

clean:
	rm -rf runs model_store/*.mar logs
