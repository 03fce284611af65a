# The README's two set-up commands: `make demo` and `make test`.
# Each one creates or refreshes .venv itself; nothing is installed by hand.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen
export MPLBACKEND ?= Agg

.PHONY: demo test venv clean-venv bench screenshots

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/vrai-tools demo --out demo-output

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

screenshots: $(STAMP)
	$(BIN)/python docs/make_pictures.py

clean-venv:
	rm -rf $(VENV)
