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
The camera's own light reading in a frame's metadata, as rpicam-still writes it.

``metadata['camera']`` carries libcamera's ``Lux``, ``ExposureTime`` (us) and
``AnalogueGain``; every analyser reads them through :func:`camera_evidence`.
"""

import math
from typing import Any, Dict, Mapping, Optional

__all__ = ['camera_evidence']


def camera_evidence(metadata: Optional[Mapping[str, Any]]) -> Dict[str, float]:
    """Return lux, exposure_us and gain found in metadata['camera'] (absent keys omitted)."""
    camera = (metadata or {}).get('camera')
    if not isinstance(camera, Mapping):
        return {}
    out = {}
    for key, name in (('Lux', 'lux'), ('ExposureTime', 'exposure_us'),
                      ('AnalogueGain', 'gain')):
        value = camera.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value) and value > 0:
            out[name] = float(value)
    return out
