# Two entry points for a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= $(abspath ../shared)
# Development copies of third-party files, when ../shared sits beside the clone.
ifneq ($(wildcard $(SHARED)/models),)
export GIFEMO_MODELS_DIR ?= $(SHARED)/models
export NLTK_DATA ?= $(SHARED)/data/nltk_data
endif

.PHONY: install demo test bench clean

$(BIN)/gifemo: setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The constraints file pins torch==2.13.0 (CPU build) so that pip never pulls a CUDA torch.
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,ray]'
	# rapidocr-onnxruntime requires opencv-python, whose cv2 files overwrite opencv-contrib-python's (the
	# action stream needs contrib's optflow): keep one OpenCV, the contrib build.
	$(BIN)/pip uninstall --quiet -y opencv-python
	$(BIN)/pip install --quiet --force-reinstall --no-deps $$($(BIN)/pip freeze | grep '^opencv-contrib-python==')
	touch $@

install: $(BIN)/gifemo

demo: install
	$(BIN)/gifemo demo $(FOLDER)

test: install
	$(BIN)/python -m pytest -q

bench: install
	for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info
