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
Camera calibration files in the camera_calibration / camera_info_manager YAML format.

camera_info_url takes 'file:///abs/path.yaml', 'package://<pkg>/<path>' (resolved by
the caller, who has ament_index) or a plain path; '' means uncalibrated.
"""

from pathlib import Path
from typing import Any, Dict
from urllib.parse import unquote, urlparse

import yaml

__all__ = ['CalibrationError', 'load_calibration', 'uncalibrated']


class CalibrationError(ValueError):
    """The calibration file is missing or not in the camera_calibration format."""


def _matrix(document: Dict[str, Any], key: str, rows: int, cols: int) -> list:
    entry = document.get(key)
    if entry is None:
        return [0.0] * (rows * cols) if key != 'distortion_coefficients' else []
    data = entry.get('data') if isinstance(entry, dict) else None
    if not isinstance(data, list) or not all(isinstance(v, (int, float)) for v in data):
        raise CalibrationError(f'{key} must be a mapping with a numeric data list')
    if key != 'distortion_coefficients' and len(data) != rows * cols:
        raise CalibrationError(f'{key} has {len(data)} values, expected {rows * cols}')
    return [float(v) for v in data]


def load_calibration(location: str) -> Dict[str, Any]:
    """Read a calibration YAML into plain data: width, height, k, d, r, p, model, name."""
    path = Path(unquote(urlparse(location).path)) if location.startswith('file://') \
        else Path(location)
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise CalibrationError(f'cannot read {path}: {error.strerror}') from error
    except yaml.YAMLError as error:
        raise CalibrationError(f'{path} is not valid YAML: {error}') from error
    if not isinstance(document, dict):
        raise CalibrationError(f'{path} does not hold a calibration mapping')
    try:
        width, height = int(document['image_width']), int(document['image_height'])
    except (KeyError, TypeError, ValueError) as error:
        raise CalibrationError(f'{path} lacks image_width/image_height') from error
    return {
        'width': width, 'height': height,
        'name': str(document.get('camera_name', '')),
        'model': str(document.get('distortion_model', 'plumb_bob')),
        'k': _matrix(document, 'camera_matrix', 3, 3),
        'd': _matrix(document, 'distortion_coefficients', 1, 5),
        'r': _matrix(document, 'rectification_matrix', 3, 3),
        'p': _matrix(document, 'projection_matrix', 3, 4),
    }


def uncalibrated(*, width: int, height: int) -> Dict[str, Any]:
    """Calibration of an uncalibrated camera: right size, zero K (camera_info_manager)."""
    return {'width': width, 'height': height, 'name': '', 'model': '',
            'k': [0.0] * 9, 'd': [], 'r': [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0], 'p': [0.0] * 12}
