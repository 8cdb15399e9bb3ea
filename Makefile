# Two commands set up a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= runs
# The default benchmark: three anti-spoofing models on the embedded synthetic corpus, 2 seeds.
# The quick profile (1 s crops, a few hundred utterances, 2-5 epochs) is what keeps it inside
# 15 minutes on 2 CPU cores; every stored result says it ran the quick profile.
RUN_ARGS ?= --models aasist-l,lfcc-lcnn,lfcc-gmm --datasets synth-la --seeds 2 --profile quick

.PHONY: run test benchmark install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/benchsuite run $(RUN_ARGS) --out $(OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q

benchmark: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-enable -q

clean:
	rm -rf $(VENV) build *.egg-info
