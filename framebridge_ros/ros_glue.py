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
The one place for ROS glue shared by the nodes.

QoS profiles of the topic contracts, image <-> numpy conversion (our own small
cv_bridge: the ROS 2 one is not on PyPI), parameter declaration from core ParamSpecs,
diagnostics helpers, a bridge from core's stdlib logging to the node's logger, and
waiting inside a node's coroutines without blocking its executor.
"""

import array
import contextlib
import logging
import time
from typing import Any, Callable, Dict, Iterable, Iterator, Mapping, Optional, Sequence

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from framebridge_ros.core.params import ParameterError, ParamSpec, validate_params
from framebridge_ros.middleware_defaults import apply as apply_middleware_defaults
import numpy as np
from rcl_interfaces.msg import (
    FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult)
import rclpy
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.duration import Duration
from rclpy.exceptions import (
    InvalidParameterTypeException, InvalidParameterValueException,
    ParameterUninitializedException)
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.task import Future
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

__all__ = [
    'Awaiter', 'LEVEL_NAMES', 'LoggerBridge', 'camera_info_msg', 'compressed_msg',
    'declare_params', 'diagnostic_status', 'epoch_to_stamp', 'frame_qos', 'health_array',
    'image_to_msg', 'latched_qos', 'msg_to_image', 'parameter_guard', 'publish_unless_stopping',
    'read_params', 'run_node', 'sensor_qos', 'stamp_to_epoch', 'unless_stopping',
]

LEVEL_NAMES = {DiagnosticStatus.OK: 'OK', DiagnosticStatus.WARN: 'WARN',
               DiagnosticStatus.ERROR: 'ERROR', DiagnosticStatus.STALE: 'STALE'}


# --- QoS of the topic contracts (see DESIGN.md) -------------------------------------

def frame_qos(max_age_s: float) -> QoSProfile:
    """
    Return the QoS of camera/image_raw, image_raw/compressed, image_scaled and annotated images.

    Reliable so a subscriber that keeps up gets every frame; transient-local depth 1
    so a late joiner (rqt_image_view) gets the last frame at once; lifespan = max_age_s
    so the middleware drops that frame, from queues and from late joiners, once it is
    older than the freshness contract allows.
    """
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=1,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
        lifespan=Duration(seconds=max_age_s))


def latched_qos(depth: int = 1) -> QoSProfile:
    """Reliable, transient-local: the last message(s) reach late joiners (ROS 1 latching)."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL)


def sensor_qos(depth: int = 1) -> QoSProfile:
    """
    Return the subscriber QoS of analysis nodes: newest frame only, never a backlog.

    Best-effort matches both reliable and best-effort publishers; volatile matches
    any durability, so these subscribers do not ask for history.
    """
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=depth,
        reliability=ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.VOLATILE)


# --- time ---------------------------------------------------------------------------

def epoch_to_stamp(epoch_s: float) -> Time:
    seconds = int(epoch_s // 1)
    return Time(sec=seconds, nanosec=min(999999999, int(round((epoch_s - seconds) * 1e9))))


def stamp_to_epoch(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


# --- images -------------------------------------------------------------------------

# The generated setter of a uint8[] field copies the value into a new array.array('B')
# (or checks every byte of anything else), yet the C converter that publish() calls reads
# any buffer. Handing the buffer to the field's slot saves that copy: 1.4 ms of a 4 MB
# JPEG, tens of ms of a 12 MP image (bench/handoff.py). The slot name is rosidl_generator_py's
# layout; where a message class has no such slot the setter is used as before.
def _set_bytes_field(message: Any, value: Any) -> None:
    """Set message.data to a C-contiguous bytes-like value without copying it."""
    if '_data' in getattr(type(message), '__slots__', ()):
        message._data = value
    else:
        data = array.array('B')
        data.frombytes(value)
        message.data = data


def image_to_msg(image: np.ndarray, *, stamp: Time, frame_id: str,
                 encoding: str = 'bgr8', buffer: Optional[array.array] = None) -> Image:
    """
    Build a sensor_msgs/Image of a uint8 HxW or HxWx3 array.

    The message refers to the image's memory (no copy; publish() copies it out), so
    the image must not change until the message is published. A buffer of the image's
    size, if given, is filled and sent instead.
    """
    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f'only 8-bit images are supported, got {image.dtype}')
    channels = 1 if image.ndim == 2 else image.shape[2]
    message = Image(height=image.shape[0], width=image.shape[1],
                    encoding=encoding if channels == 3 else 'mono8',
                    is_bigendian=0, step=image.shape[1] * channels)
    message.header.stamp = stamp
    message.header.frame_id = frame_id
    if buffer is None:
        _set_bytes_field(message, image.reshape(-1))
    else:
        np.frombuffer(buffer, np.uint8)[:] = image.reshape(-1)
        message.data = buffer
    return message


def compressed_msg(jpeg: bytes, *, stamp: Time, frame_id: str) -> CompressedImage:
    """Wrap JPEG bytes unchanged (and uncopied) in a sensor_msgs/CompressedImage."""
    message = CompressedImage(format='jpeg')
    message.header.stamp = stamp
    message.header.frame_id = frame_id
    _set_bytes_field(message, jpeg)
    return message


def camera_info_msg(calibration: Mapping[str, Any], *, stamp: Time,
                    frame_id: str) -> CameraInfo:
    """Build a sensor_msgs/CameraInfo from core.calibration's plain data."""
    message = CameraInfo(
        width=calibration['width'], height=calibration['height'],
        distortion_model=calibration['model'], d=list(calibration['d']),
        k=list(calibration['k']), r=list(calibration['r']), p=list(calibration['p']))
    message.header.stamp = stamp
    message.header.frame_id = frame_id
    return message


def msg_to_image(message: Image) -> np.ndarray:
    """Return a numpy view (no copy) of a bgr8/rgb8/mono8 sensor_msgs/Image, as BGR or mono."""
    channels = {'bgr8': 3, 'rgb8': 3, 'mono8': 1}.get(message.encoding)
    if channels is None:
        raise ValueError(f'unsupported encoding {message.encoding!r}')
    flat = np.frombuffer(message.data, dtype=np.uint8)
    rows = flat.reshape(message.height, message.step)[:, :message.width * channels]
    image = rows.reshape(message.height, message.width, channels)
    if message.encoding == 'rgb8':
        image = image[:, :, ::-1]
    return image[:, :, 0] if channels == 1 else image


# --- parameters ---------------------------------------------------------------------

_PARAMETER_TYPES = {bool: Parameter.Type.BOOL, int: Parameter.Type.INTEGER,
                    float: Parameter.Type.DOUBLE, str: Parameter.Type.STRING}
_ARRAY_TYPES = {str: Parameter.Type.STRING_ARRAY, float: Parameter.Type.DOUBLE_ARRAY}


def _parameter_type(spec: ParamSpec) -> Parameter.Type:
    return _ARRAY_TYPES[spec.items] if spec.kind is list else _PARAMETER_TYPES[spec.kind]


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    description = spec.description
    if spec.choices:
        description += f' One of: {", ".join(spec.choices)}.'
    # YAML and `-p x:=5` give an int where a float is meant (5 for 5.0, [104, 177, 123]);
    # rclpy would refuse that type outright, so floats take any number and the spec's
    # check (read_params, parameter_guard) converts and range-checks it.
    floats = spec.kind is float or (spec.kind is list and spec.items is float)
    descriptor = ParameterDescriptor(
        name=spec.name, type=_parameter_type(spec).value, description=description,
        read_only=spec.read_only, dynamic_typing=floats)
    if spec.kind is int and spec.min_value is not None and spec.max_value is not None:
        descriptor.integer_range = [IntegerRange(
            from_value=int(spec.min_value), to_value=int(spec.max_value), step=0)]
    elif spec.kind is float and spec.min_value is not None and spec.max_value is not None:
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(spec.min_value), to_value=float(spec.max_value), step=0.0)]
    return descriptor


def declare_params(node: Node, specs: Iterable[ParamSpec]) -> None:
    """Declare each spec with its descriptor, so `ros2 param describe` explains it."""
    for spec in specs:
        # An empty list has no element type for rclpy to infer: declare the type.
        default = (_parameter_type(spec) if spec.kind is list and not spec.default
                   else spec.default)
        node.declare_parameter(spec.name, default, _descriptor(spec))


def read_params(node: Node, specs: Sequence[ParamSpec]) -> Dict[str, Any]:
    """Return the current values of the specs, checked; raise ParameterError if any is bad."""
    values = {}
    for spec in specs:
        try:
            parameter = node.get_parameter(spec.name)
        except ParameterUninitializedException:
            continue  # declared by type only (an empty list): the spec's default holds
        if parameter.type_ != Parameter.Type.NOT_SET:
            values[spec.name] = parameter.value
    return validate_params(specs, values)


def parameter_guard(specs: Sequence[ParamSpec]):
    """Make an on-set-parameters callback that refuses values outside their specs, saying why."""
    by_name = {spec.name: spec for spec in specs}

    def guard(parameters: Sequence[Parameter]) -> SetParametersResult:
        for parameter in parameters:
            spec = by_name.get(parameter.name)
            if spec is None:
                continue
            try:
                spec.check(parameter.value)
            except ParameterError as error:
                return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    return guard


# --- diagnostics --------------------------------------------------------------------

def diagnostic_status(*, name: str, level: bytes, message: str, hardware_id: str = '',
                      values: Optional[Mapping[str, Any]] = None) -> DiagnosticStatus:
    """Build a DiagnosticStatus with key/values rendered as text (floats to 3 decimals)."""
    def text(value: Any) -> str:
        return f'{value:.3f}' if isinstance(value, float) else str(value)
    return DiagnosticStatus(
        level=level, name=name, message=message, hardware_id=hardware_id,
        values=[KeyValue(key=key, value=text(value)) for key, value in (values or {}).items()])


def health_array(node: Node, reports: Mapping[str, Any], *,
                 hardware_id: str = '') -> DiagnosticArray:
    """Build a DiagnosticArray of core Health reports keyed by status name."""
    message = DiagnosticArray()
    message.header.stamp = node.get_clock().now().to_msg()
    message.status = [
        diagnostic_status(name=name, level=bytes([int(health.level)]), message=health.message,
                          hardware_id=hardware_id, values=health.values)
        for name, health in reports.items()]
    return message


class LoggerBridge(logging.Handler):
    """Forwards core's stdlib log records to a node's rclpy logger."""

    def __init__(self, ros_logger) -> None:
        super().__init__()
        self._ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        message = self.format(record)
        if record.levelno >= logging.ERROR:
            self._ros_logger.error(message)
        elif record.levelno >= logging.WARNING:
            self._ros_logger.warning(message)
        elif record.levelno >= logging.INFO:
            self._ros_logger.info(message)
        else:
            self._ros_logger.debug(message)

    def attach(self, logger_name: str) -> 'LoggerBridge':
        logger = logging.getLogger(logger_name)
        logger.addHandler(self)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        return self

    def detach(self, logger_name: str) -> None:
        logging.getLogger(logger_name).removeHandler(self)


@contextlib.contextmanager
def unless_stopping(node: Node) -> Iterator[None]:
    """
    Run a block; a failure because Ctrl-C's shutdown released what it used is no error.

    SIGINT shuts the context down, and Jazzy runs a lifecycle node's shutdown from the
    signal's thread, while a callback may be half way through its work. While the
    context is fine, a failure raises as before.
    """
    try:
        yield
    except Exception:  # noqa: B902 - only a shutdown mid-work is expected here
        if node.context.ok():
            raise


def publish_unless_stopping(node: Node, publisher, message) -> None:
    """Publish; a publisher Ctrl-C's shutdown made unusable is no error (unless_stopping)."""
    with unless_stopping(node):
        publisher.publish(message)


def run_node(make_node: Callable[[], Node], args=None, *,
             fatal: Sequence[type] = (ParameterError, InvalidParameterTypeException,
                                      InvalidParameterValueException),
             middleware_defaults: bool = True) -> None:
    """
    Run one node until Ctrl-C or shutdown: the rclpy main() of every node (Jazzy idiom).

    First the middleware defaults (framebridge_ros.middleware_defaults: the large-frame
    Fast DDS profile and malloc huge pages, unless the user chose otherwise; logged
    once). That may start the process once more with the same command line, so call
    run_node from a program's main, not from a process that must not be replaced; a
    benchmark's stand-in for a user's node passes middleware_defaults=False.

    An exception of a fatal type while the node is made (a bad parameter, an unusable
    volume) is logged as the reason the node cannot start, and the process exits 1.
    """
    if middleware_defaults:
        apply_middleware_defaults(log=rclpy.logging.get_logger('framebridge').info)
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        rclpy.spin(node)
    except tuple(fatal) as error:
        rclpy.logging.get_logger('framebridge').fatal(f'cannot start: {error}')
        raise SystemExit(1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


# --- waiting without blocking -------------------------------------------------------

class _Yield:
    """Hand control back to the executor once; the awaiting task resumes on its next wake."""

    def __await__(self):
        yield


class Awaiter:
    """
    Waits for a node's coroutines (executor tasks), each with a deadline, never blocking.

    Each deadline is a timer; the task yields to the executor until its future is done
    or the timer fires, so the callbacks it waits for run meanwhile, even on a
    single-threaded executor.
    """

    def __init__(self, node: Node) -> None:
        self._node = node
        self._group = ReentrantCallbackGroup()

    def wake(self, _future=None) -> None:
        """Wake the node's executor (a future finished on another thread)."""
        executor = self._node.executor
        try:
            if executor is not None:
                executor.wake()
        except Exception:  # noqa: B902 - shutting down: there is nobody left to wake
            pass

    def spawn(self, coroutine_function, *args) -> bool:
        """Run a coroutine as an executor task; False when the node is not spinning."""
        executor = self._node.executor
        if executor is None:
            return False
        executor.create_task(coroutine_function, *args)
        return True

    async def wait(self, future: Future, timeout_s: float) -> bool:
        """Await future for at most timeout_s, letting the executor run; True if done."""
        if not future.done():
            deadline = Future()
            timer = self._node.create_timer(
                max(timeout_s, 0.001), lambda: deadline.done() or deadline.set_result(True),
                callback_group=self._group)
            future.add_done_callback(self.wake)  # futures finished by other threads too
            try:
                while not (future.done() or future.cancelled() or deadline.done()):
                    await _Yield()
            finally:
                self._node.destroy_timer(timer)
        return future.done()

    async def sleep(self, seconds: float) -> None:
        """Let the executor run for seconds."""
        await self.wait(Future(), seconds)

    async def call(self, client, request, timeout_s: float):
        """Return the service's response, or None if it did not answer by the deadline."""
        future = client.call_async(request)
        if await self.wait(future, timeout_s):
            return future.result()
        client.remove_pending_request(future)
        return None

    async def service_ready(self, client, timeout_s: float) -> bool:
        """Wait up to timeout_s for a service to appear; True once it is there."""
        deadline = time.monotonic() + timeout_s
        while not client.service_is_ready():
            if time.monotonic() >= deadline:
                return False
            await self.sleep(0.05)
        return True
