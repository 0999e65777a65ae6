#!/bin/sh
# Copyright 2026 The framebridge_ros Authors
# Licensed under the Apache License, Version 2.0.
#
# Start host capture for systemd: the ROS 2 node when ROS 2 and framebridge_ros are
# installed on the host, the plain-Python core otherwise (Raspberry Pi OS usually has no
# ROS). Settings come from the environment (/etc/default/framebridge-capture); extra
# arguments are passed on to the plain-Python core.
set -eu

: "${CAPTURE_DIR:=/mnt/storage/camera_capture}"
: "${SOURCE:=rpicam}"
: "${INTERVAL_S:=1.0}"
: "${WIDTH:=4056}"
: "${HEIGHT:=3040}"
: "${QUALITY:=95}"
: "${MAX_IMAGES:=100}"
: "${ROS_SETUP:=}"

if [ -n "$ROS_SETUP" ] && [ -f "$ROS_SETUP" ]; then
    # shellcheck disable=SC1090
    . "$ROS_SETUP"
fi

if command -v ros2 >/dev/null 2>&1 && ros2 pkg prefix framebridge_ros >/dev/null 2>&1; then
    echo "framebridge host capture: ROS 2 node (ros2 run framebridge_ros host_capture)"
    exec ros2 run framebridge_ros host_capture --ros-args \
        -p "capture_dir:=$CAPTURE_DIR" -p "source:=$SOURCE" -p "interval_s:=$INTERVAL_S" \
        -p "width:=$WIDTH" -p "height:=$HEIGHT" -p "quality:=$QUALITY" \
        -p "max_images:=$MAX_IMAGES"
fi

echo "framebridge host capture: plain Python (no ROS 2 on this host)"
exec "${PYTHON:-python3}" -m framebridge_ros.core.capture \
    --capture_dir "$CAPTURE_DIR" --source "$SOURCE" --interval_s "$INTERVAL_S" \
    --width "$WIDTH" --height "$HEIGHT" --quality "$QUALITY" --max_images "$MAX_IMAGES" "$@"
