# framebridge_ros developer commands. Each target sets up what it needs on a fresh
# machine: a .venv with the pinned ROS 2 Jazzy wheels from PyPI, then colcon.
#   make demo   the whole graph on this machine with the simulated camera
#               (make demo DEMO_CAMERA=imx500: the fake IMX500's on-sensor detections)
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
# DEMO_CAMERA=imx500: the fake IMX500 (test/fake_picamera2 on PYTHONPATH, source picamera2)
# and the imx500 vehicle back-end, so the on-sensor detections are what gets counted.
DEMO_CAMERA ?= simulated
FAKE_PICAMERA2 := $(CURDIR)/test/fake_picamera2
ifeq ($(DEMO_CAMERA),imx500)
DEMO_ARGS ?= --source picamera2 --capture-dir demo_volume --param health_period_s:=5.0 \
	--param imx500_model:=$(FAKE_PICAMERA2)/models/imx500_network_ssd_mobilenetv2_fpnlite_320x320_pp.rpk \
	--param backend:=imx500 --param width:=1280 --param height:=960
DEMO_ENV := PYTHONPATH="$(FAKE_PICAMERA2):$$PYTHONPATH" FAKE_PICAMERA2_NO_TENSOR_EVERY=10
else ifeq ($(DEMO_CAMERA),simulated)
DEMO_ARGS ?= --source simulated --capture-dir demo_volume --param simulated_day_cycle_s:=600.0 \
	--param health_period_s:=5.0
else
$(error DEMO_CAMERA is simulated or imx500, not $(DEMO_CAMERA))
endif

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
	$(RUN) && $(DEMO_ENV) $(BIN)/framebridge run --params config/framebridge.yaml $(DEMO_ARGS)

bench: build
	$(RUN) && python -m bench.run_all

clean:
	rm -rf $(WS) build install log
