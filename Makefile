# plasticore: every user-facing job is one target, a thin wrapper over the `plasticore` CLI.
#
#   make            set up (if needed), train and evaluate the default network, generate its
#                   RTL and co-simulate the trained network in it against the golden model
#   make test       the test suite (what CI runs), on JOBS workers (default: one per core)
#   make sim        full cocotb regression under Verilator and Icarus (SIM=, WAVES=1)
#   make import     a network trained elsewhere, from a NIR file, on the integer grid
#                   (NIR=F.nir ARGS="--dataset D --timesteps T": build/imported.toml, .npz)
#   make cosim      co-simulate CONFIG's network core against the golden model
#   make bench      speed and accuracy benchmarks (BindsNET side by side; sim ratio)
#   make board      classify the test set on a board (PORT=/dev/ttyUSB1) or, without PORT,
#                   on the simulated board, and hold every answer to the golden model
#   make synth      Yosys synthesis for BOARD: utilization, LUT levels, estimated Fmax
#                   (DESIGN=core: the bare network core instead of the board top)
#   make bitstream  Amaranth's Xilinx build for BOARD (Vivado, else the open Xray flow;
#                   with neither it writes the build tree and names the missing tools)
#   make explore    design-space explorer: timesteps and weight widths against accuracy,
#                   latency, memory and energy (OUT=build/explore, WORKERS=2, ARGS=...)
#
# CONFIG picks the configuration (a file or a built-in name), default: digits.
# BOARD: arty_a7_35 (default), arty_a7_100, nexys_a7_100, nexys_video, cmod_a7_35.

CONFIG ?= digits
VENV   ?= .venv
JOBS   ?= auto
PYTHON ?= python3
CLI    := $(VENV)/bin/plasticore
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SIM    ?=
WAVES  ?=
SAMPLES ?= 4
PORT   ?=
SAMPLES_BOARD ?=
BOARD  ?= arty_a7_35
DESIGN ?=
TOOLCHAIN ?=
WEIGHTS_OUT ?= build/weights.npz
WEIGHTS ?= $(WEIGHTS_OUT)
OUT     ?= build/explore
WORKERS ?= 2
ARGS    ?=
NIR     ?=
SYSTEM_PACKAGES := iverilog liblz4-dev

.PHONY: all setup system-packages train eval import generate sim cosim board test test-all lint bench \
        bench-setup synth bitstream explore clean help

all: setup train generate
	$(CLI) cosim $(CONFIG) --samples 3 --weights $(WEIGHTS_OUT)

help:
	@sed -n '1,21p' Makefile

# -- setup ----------------------------------------------------------------------------

setup: $(STAMP)

system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml | system-packages
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[tools,test]'
	@touch $@

# -- jobs -----------------------------------------------------------------------------

train: setup
	$(CLI) train $(CONFIG) --weights-out $(WEIGHTS_OUT) $(ARGS)

eval: setup
	$(CLI) eval $(CONFIG) --weights $(WEIGHTS)

import: setup
	@test -n "$(NIR)" || { echo 'usage: make import NIR=F.nir ARGS="--dataset D --timesteps T"'; exit 2; }
	$(CLI) nir import $(NIR) $(ARGS) --out build/imported.toml --weights-out build/imported.npz

generate: setup
	$(CLI) generate $(CONFIG) --out build/rtl

sim: setup
	$(CLI) sim $(if $(SIM),--sim $(SIM)) $(if $(WAVES),--waves)

board: setup
	$(CLI) board run $(CONFIG) --weights $(WEIGHTS_OUT) \
	  $(if $(PORT),--port $(PORT),--simulate $(or $(SIM),verilator)) $(if $(SAMPLES_BOARD),--samples $(SAMPLES_BOARD))

cosim: setup
	$(CLI) cosim $(CONFIG) $(if $(SIM),--simulator $(SIM)) --samples $(SAMPLES) --learn \
	  $(if $(WAVES),--waves)

synth: setup
	$(CLI) synth $(CONFIG) --board $(BOARD) $(if $(DESIGN),--design $(DESIGN))

bitstream: setup
	$(CLI) bitstream $(CONFIG) --board $(BOARD) $(if $(TOOLCHAIN),--toolchain $(TOOLCHAIN))

test: setup
	$(PY) -m pytest -q -m "not slow" -p no:cacheprovider -n $(JOBS)

test-all: setup
	$(PY) -m pytest -q -p no:cacheprovider -n $(JOBS)

# mypy cannot follow the editable install's import hook: give it a tree of links with the
# installed layout (plasticore/golden -> golden/, ...), see mypy.ini.
MYPY_TREE := build/mypy/plasticore

lint: setup
	$(VENV)/bin/ruff check .
	@mkdir -p $(MYPY_TREE) && for d in golden sim hdl boards configs; do \
	  ln -sfn "$$PWD/$$d" "$(MYPY_TREE)/$$d"; done
	$(VENV)/bin/mypy -p plasticore.golden -p plasticore.sim -p plasticore.boards

bench-setup: setup
	$(CLI) bench --setup

bench: setup
	$(CLI) bench

explore: setup
	$(CLI) explore $(CONFIG) --out $(OUT) --workers $(WORKERS) $(ARGS)

clean:
	rm -rf build .pytest_cache .hypothesis
