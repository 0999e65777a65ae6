# framebridge_ros developer commands. Each target sets up what it needs on a fresh
# machine: a .venv with the pinned ROS 2 Jazzy wheels from PyPI, then colcon.
#   make demo   the whole graph on this machine with the simulated camera
#   make test   colcon build + colcon test (pytest), fails when any test fails
#   make bench  performance figures (not part of the tests)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
WS := .colcon
STAMP := $(VENV)/.installed
COLCON := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/colcon --log-base $(WS)/log
WS_ARGS := --build-base $(WS)/build --install-base $(WS)/install --base-paths .
# The installed package, as `ros2 run` would find it (colcon puts scripts in lib/<pkg>).
RUN := . $(WS)/install/setup.sh && PATH="$(CURDIR)/$(VENV)/bin:$$PATH"
BIN := $(WS)/install/framebridge_ros/lib/framebridge_ros
# The demo: simulated camera, a volume in ./demo_volume, a simulated day every 10 min.
DEMO_ARGS ?= --source simulated --capture-dir demo_volume --param simulated_day_cycle_s:=600.0 \
	--param health_period_s:=5.0

.PHONY: venv build test demo bench clean

venv: $(STAMP)

$(STAMP): requirements.txt
	@# Real footage and sample images for the analysis tests (Debian's opencv-doc:
	@# vtest.avi, home.jpg); never committed. Needs root (CI is root); else they skip.
	@if [ ! -d /usr/share/doc/opencv-doc ] && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq opencv-doc; fi
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(VENV)/COLCON_IGNORE $@

build: $(STAMP)
	$(COLCON) build $(WS_ARGS)

test: build
	$(COLCON) test $(WS_ARGS) --event-handlers console_direct+ \
		--return-code-on-test-failure --pytest-args -ra --durations=15
	$(COLCON) test-result --test-result-base $(WS)/build --verbose

demo: build
	$(RUN) && $(BIN)/framebridge run --params config/framebridge.yaml $(DEMO_ARGS)

bench: build
	$(RUN) && python -m bench.run_all

clean:
	rm -rf $(WS) build install log
