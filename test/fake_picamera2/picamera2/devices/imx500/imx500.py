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
Fake IMX500 (picamera2.devices.imx500.imx500) with the surface the back-end uses.

As the real class: made before Picamera2 with the network file, which must exist
(RuntimeError 'Firmware file ... does not exist.'); camera_num; network_intrinsics;
get_outputs(metadata, add_batch) reads CnnOutputTensor / CnnOutputTensorInfo and
returns None when the frame has no tensor; get_kpi_info; convert_inference_coords is
not offered (the back-end maps boxes itself). FAKE_PICAMERA2_NO_CAMERA=1: no IMX500 is
connected ('IMX500: Requested camera dev-node not found').
"""

import os
import struct
from typing import List, Optional

import numpy as np

NETWORK_NAME_LEN = 64
MAX_NUM_TENSORS = 16
MAX_NUM_DIMENSIONS = 16


class NetworkIntrinsics:
    """The few intrinsics an SSD network file carries."""

    def __init__(self, val: Optional[dict] = None) -> None:
        self._values = dict(val or {})

    @property
    def task(self) -> Optional[str]:
        return self._values.get('task')

    @property
    def inference_rate(self) -> Optional[float]:
        return self._values.get('inference_rate')

    @property
    def bbox_order(self) -> Optional[str]:
        return self._values.get('cpu', {}).get('bbox_order')

    @property
    def labels(self) -> Optional[List[str]]:
        return self._values.get('classes', {}).get('labels')

    def update_with_defaults(self) -> None:
        self._values = {'inference_rate': 30.0} | self._values


class IMX500:
    """A fake IMX500: a network file that exists, a camera number, tensor parsing."""

    def __init__(self, network_file: str, camera_id: str = '') -> None:
        if os.environ.get('FAKE_PICAMERA2_NO_CAMERA', '') not in ('', '0'):
            raise RuntimeError('IMX500: Requested camera dev-node not found')
        if network_file and not os.path.isfile(network_file):
            raise RuntimeError(f'Firmware file {network_file} does not exist.')
        self._network_file = network_file
        import picamera2
        picamera2.NETWORK['file'] = network_file  # the sensor now runs it on every frame
        rate = float(os.environ.get('FAKE_PICAMERA2_INFERENCE_RATE', '30') or 30)
        self._intrinsics = NetworkIntrinsics({
            'task': 'object detection', 'inference_rate': rate,
            'cpu': {'bbox_order': 'yx'}})

    @property
    def camera_num(self) -> int:
        return 0

    @property
    def network_intrinsics(self) -> Optional[NetworkIntrinsics]:
        return self._intrinsics

    def get_outputs(self, metadata: dict, add_batch: bool = False
                    ) -> Optional[List[np.ndarray]]:
        tensor = metadata.get('CnnOutputTensor')
        if not tensor:
            return None
        values = np.fromiter(tensor, dtype=np.float32)
        outputs, offset = [], 0
        for shape in self._output_shapes(metadata):
            size = int(np.prod(shape))
            array = values[offset:offset + size].reshape(shape, order='F')
            outputs.append(np.expand_dims(array, 0) if add_batch else array)
            offset += size
        return outputs

    def _output_shapes(self, metadata: dict) -> List[List[int]]:
        info = metadata.get('CnnOutputTensorInfo')
        if not info:
            return []
        info = bytes(info)
        if len(info) != 712:
            raise ValueError(f'tensor info length {len(info)} does not match expected '
                             'size 712')
        (count,) = struct.unpack_from('<I', info, NETWORK_NAME_LEN)
        shapes = []
        for index in range(count):
            entry = struct.unpack_from('<II16H', info, NETWORK_NAME_LEN + 4 + 40 * index)
            shapes.append(list(entry[2:2 + entry[1]]))
        return shapes

    @staticmethod
    def get_kpi_info(metadata: dict):
        kpi = metadata.get('CnnKpiInfo')
        return None if kpi is None else (kpi[0] / 1000, kpi[1] / 1000)

    def show_network_fw_progress_bar(self) -> None:
        pass
