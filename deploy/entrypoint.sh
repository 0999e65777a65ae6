#!/bin/bash
# Copyright 2026 The framebridge_ros Authors
# Licensed under the Apache License, Version 2.0.
#
# Container entry point: the ROS 2 environment, the framebridge workspace, and its
# scripts (framebridge, frame_provider, ...) on PATH, then the command.
set -e
source "/opt/ros/${ROS_DISTRO}/setup.bash"
source /opt/framebridge_ws/install/setup.bash
export PATH="/opt/framebridge_ws/install/framebridge_ros/lib/framebridge_ros:$PATH"
exec "$@"
