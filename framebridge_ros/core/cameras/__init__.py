# Copyright 2026 The framebridge_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Camera back-ends of host capture, one module each behind the interface in backend.py.

- backend: CaptureBackend, CaptureResult, CameraError, capture_time_from_sensor.
- rpicam_oneshot: one rpicam-still process per frame.
- rpicam_persistent: one long-running rpicam-still --signal, a frame per SIGUSR1.
- picamera2_imx500: one long-running picamera2 camera with the IMX500's network.
- imx500_tensor: the decoder of the IMX500's SSD output (picamera2 and rpicam-still).
- simulated: a synthetic roadside scene with ground truth.
- factory: make_backend(params), the back-end the `source` parameter names.
"""
