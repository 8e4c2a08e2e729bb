# seekcode: `make demo` runs the main job end to end, `make test` runs the suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint bench clean

venv: $(STAMP)

# torch is pinned and installed first: 2.13.0 is the CPU wheel on disk; any
# other spec would pull gigabytes of CUDA packages.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,scale]'
	@# Bytecode for the editable package: where PYTHONDONTWRITEBYTECODE is set, every
	@# command would otherwise compile seekcode's modules again (70 ms of a search).
	$(BIN)/python -m compileall -q seekcode
	@# The default encoder's ONNX graph, exported once into the user cache, so the first
	@# search is as fast as any other (a no-op when the cache has it).
	$(BIN)/python -c "from seekcode.encoders.minilm import MiniLMEncoder; MiniLMEncoder().onnx_path()"
	touch $(STAMP)

demo: venv
	$(BIN)/seekcode demo

test: venv
	@# The browser test needs Debian's chromium and chromium-driver; as root, install them.
	@# A failed install is not a failed build: that test then skips and says why.
	@if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver >/dev/null) \
	  || echo "chromium not installed: the browser test will be skipped"; fi
	$(BIN)/ruff check seekcode tests benchmarks
	$(BIN)/mypy seekcode
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check seekcode tests benchmarks
	$(BIN)/mypy seekcode

clean:
	rm -rf $(VENV) build *.egg-info
