# scoligait-edge — set-up, demo and tests. `make demo` and `make test` work on a fresh clone.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VTEST := /usr/share/doc/opencv-doc/examples/data/vtest.avi
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test test-fast lint bench gate test-assets clean


setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip==25.3
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[all,dev]'
	$(BIN)/python -m pip check
	$(BIN)/python -c "import torch, sys; sys.exit('CUDA torch installed: ' + torch.__version__) if torch.version.cuda else print('torch', torch.__version__, 'CPU build')"
	$(BIN)/scoligait-edge setup-assets
	touch $@

demo: setup lanes
	$(BIN)/scoligait-edge demo --out demo_out --force

# Real footage for the video tests (Debian's opencv-doc); tests skip with the reason if it is absent.
test-assets:
	@test -f $(VTEST) || (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq opencv-doc >/dev/null 2>&1) || echo "note: could not install opencv-doc; real-video tests will skip"

test: setup test-assets lanes browser
	$(BIN)/python -m pytest tests -q

test-fast: setup
	$(BIN)/python -m pytest tests -q -m "not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/scoligait-edge bench

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks demo_out

# Optional pieces (device lanes, Android JVM core) keep their rules in mk/*.mk.
-include mk/*.mk
