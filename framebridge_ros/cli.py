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
The `framebridge` command: run the graph in one process and look at a running graph.

    framebridge run --params config/framebridge.yaml [--nodes capture,provider,...]
                    [--source simulated] [--capture-dir DIR] [--duration S]
    framebridge status [--wait S]       latest /diagnostics and supervisor/status
    framebridge health [--wait S]       exit 0 when healthy, 1 otherwise, saying why
    framebridge snapshot OUT.jpg [--topic T]   save one frame of an image topic

`run` exists because `ros2 launch` is not always at hand (a dev machine with only the
pip wheels, a Pi host without ROS): it loads the same YAML file, starts the chosen
nodes on one MultiThreadedExecutor, brings lifecycle nodes to active (or leaves that to
the supervisor when it runs), and prints one status line per node every few seconds.
"""

import argparse
import copy
import importlib
import importlib.util
import json
import os
import signal
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from framebridge_ros.core.cameras.factory import SOURCES
from framebridge_ros.core.health import judge_graph
from framebridge_ros.ros_glue import (
    frame_qos, latched_qos, LEVEL_NAMES, msg_to_image)
import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.node import Node
from std_msgs.msg import String
import yaml

__all__ = ['NODE_NAMES', 'NODES', 'main']

# Short name -> (module, class), in start-up order.
NODES = {
    'capture': ('framebridge_ros.nodes.host_capture', 'HostCaptureNode'),
    'provider': ('framebridge_ros.nodes.frame_provider', 'FrameProvider'),
    'detector': ('framebridge_ros.nodes.vehicle_detector', 'VehicleDetector'),
    'sky': ('framebridge_ros.nodes.sky_analyzer', 'SkyAnalyzer'),
    'supervisor': ('framebridge_ros.nodes.supervisor', 'Supervisor'),
}

# ROS node names, as in the parameter file and launch files.
NODE_NAMES = {'capture': 'host_capture', 'provider': 'frame_provider',
              'detector': 'vehicle_detector', 'sky': 'sky_analyzer', 'supervisor': 'supervisor'}

# Key/values worth a place on a one-line status; the rest stays in `framebridge status`.
_HEADLINE_KEYS = (
    'frames_captured', 'errors', 'capture_duration_median_ms',
    'frames_published', 'newest_frame_age_s', 'skipped_backlog', 'skipped_stale',
    'skipped_corrupt', 'discovery_latency_median_ms', 'frames_analysed', 'detections',
    'processing_median_ms', 'condition', 'confidence', 'cloud_cover', 'frames_per_min',
    'free_disk_percent', 'restarts')


class DiagnosticsMonitor:
    """
    Keeps the newest DiagnosticStatus per name, and the supervisor's latched status.

    The supervisor judges every health_period_s (30 s in config/framebridge.yaml), so a
    short listening window rarely hears its /diagnostics; its supervisor/status is
    transient-local and arrives as soon as the subscription matches.
    """

    def __init__(self, node: Node, *, supervisor: str = 'supervisor') -> None:
        self.latest: Dict[str, DiagnosticStatus] = {}
        self.supervisor_status: Optional[dict] = None
        node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 50)
        node.create_subscription(String, f'{supervisor}/status', self._on_status,
                                 latched_qos())

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        for status in message.status:
            self.latest[status.name] = status

    def _on_status(self, message: String) -> None:
        try:
            document = json.loads(message.data)
        except (ValueError, RecursionError):
            document = None
        # Anything else on the topic counts as no status: health then says it is missing.
        if isinstance(document, dict):
            self.supervisor_status = document

    def lines(self, *, all_values: bool = False) -> List[str]:
        lines = []
        for name in sorted(self.latest):
            status = self.latest[name]
            level = LEVEL_NAMES.get(status.level, str(status.level))
            values = {item.key: item.value for item in status.values}
            shown = values if all_values else {
                key: values[key] for key in _HEADLINE_KEYS if key in values}
            details = ' '.join(f'{key}={value}' for key, value in shown.items())
            lines.append(f'{name:<28} {level:<5} {status.message:<40} {details}')
        return lines

    def worst_level(self) -> Optional[int]:
        levels = list(self.levels().values())
        return max(level for level, _ in levels) if levels else None

    def levels(self) -> Dict[str, tuple]:
        """Return {status name: (level as int, message)}."""
        return {name: (status.level[0] if isinstance(status.level, bytes)
                       else int(status.level), status.message)
                for name, status in self.latest.items()}


def _override_file(options: argparse.Namespace, node_names: Sequence[str]) -> Optional[str]:
    """
    Write command-line overrides into a parameter file loaded after --params.

    A plain '-p name:=value' loses to a node's own section of the params file; a later
    file with the same node sections wins, which is what a user typing it expects.
    """
    overrides = {}
    if options.capture_dir:
        overrides['capture_dir'] = options.capture_dir
    if options.source:
        overrides['source'] = options.source
    for item in options.param or ():
        name, separator, value = item.partition(':=')
        if not separator:
            raise SystemExit(f'framebridge: --param takes NAME:=VALUE, got {item!r}')
        overrides[name] = yaml.safe_load(value)
    if not overrides:
        return None
    # A deep copy per node: a shared dict or list is dumped as a YAML alias (&id001 /
    # *id001), which rcl refuses ('Will not support aliasing'); the dumper is told never
    # to write one as well.
    document = {name: {'ros__parameters': copy.deepcopy(overrides)} for name in node_names}
    with tempfile.NamedTemporaryFile('w', prefix='framebridge-', suffix='.yaml',
                                     delete=False) as stream:
        yaml.dump(document, stream, Dumper=_NoAliasDumper)
    return stream.name


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:
        return True


def available_nodes() -> List[str]:
    """Return the short names of the nodes installed in this package."""
    return [name for name, (module, _) in NODES.items()
            if importlib.util.find_spec(module) is not None]


def _load_node_class(short_name: str):
    module_name, class_name = NODES[short_name]
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise SystemExit(f'framebridge: node {short_name!r} is not available: {error}')


def _bring_up(nodes: Sequence[Node]) -> bool:
    for node in nodes:
        if not isinstance(node, LifecycleNode):
            continue
        for transition in (node.trigger_configure, node.trigger_activate):
            if transition() != TransitionCallbackReturn.SUCCESS:
                print(f'framebridge: {node.get_name()} did not come up '
                      f'({transition.__name__}); see its log above', file=sys.stderr)
                return False
    return True


def run(options: argparse.Namespace) -> int:
    names = [name.strip() for name in options.nodes.split(',') if name.strip()]
    unknown = [name for name in names if name not in NODES]
    if unknown:
        print(f'framebridge: unknown node(s) {", ".join(unknown)}; choose from '
              f'{", ".join(NODES)}', file=sys.stderr)
        return 2
    ros_args = ['--ros-args', '--log-level', options.log_level]
    if options.params:
        ros_args += ['--params-file', options.params]
    classes = [_load_node_class(name) for name in names]
    overlay = _override_file(options, [NODE_NAMES[name] for name in names])
    if overlay:
        ros_args += ['--params-file', overlay]
    try:
        rclpy.init(args=['framebridge', *ros_args])
    finally:
        if overlay:
            # rcl parsed the file at init; removing it now leaves nothing behind, even on kill -9.
            os.unlink(overlay)
    nodes: List[Node] = []
    executor = MultiThreadedExecutor(num_threads=max(4, 2 * len(classes)))
    monitor_node = Node('framebridge_monitor')
    monitor = DiagnosticsMonitor(monitor_node)
    executor.add_node(monitor_node)
    stop = {'requested': False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))
    started = time.monotonic()
    code = 0
    try:
        for node_class in classes:
            node = node_class()
            nodes.append(node)
            executor.add_node(node)
        if 'supervisor' not in names and not _bring_up(nodes):
            return 1
        print(f'framebridge: running {", ".join(names)}; status every '
              f'{options.status_period:g} s' + ('' if options.duration else '; Ctrl-C stops'))
        next_status = started + options.status_period
        while rclpy.ok() and not stop['requested']:
            executor.spin_once(timeout_sec=0.1)
            now = time.monotonic()
            if options.duration and now - started >= options.duration:
                break
            if now >= next_status:
                next_status += options.status_period
                print(f'--- {now - started:6.1f} s ---')
                for line in monitor.lines() or ['(no diagnostics yet)']:
                    print(line)
                sys.stdout.flush()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as error:  # noqa: B902 - a node that cannot start says why, once
        print(f'framebridge: {type(error).__name__}: {error}', file=sys.stderr)
        code = 1
    finally:
        for node in reversed(nodes):
            node.destroy_node()
        monitor_node.destroy_node()
        executor.shutdown(timeout_sec=5.0)
        rclpy.try_shutdown()
    print(f'framebridge: stopped after {time.monotonic() - started:.1f} s')
    return code


def _listen(wait_s: float, supervisor: str = 'supervisor') -> DiagnosticsMonitor:
    rclpy.init(args=['framebridge'])
    node = Node('framebridge_status')
    monitor = DiagnosticsMonitor(node, supervisor=supervisor)
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return monitor


def status(options: argparse.Namespace) -> int:
    monitor = _listen(options.wait, options.supervisor)
    if not monitor.latest and monitor.supervisor_status is None:
        print(f'no /diagnostics and no {options.supervisor}/status heard in '
              f'{options.wait:g} s: is the graph running, on this ROS_DOMAIN_ID?')
        return 1
    for line in monitor.lines(all_values=True) or ['(no /diagnostics heard)']:
        print(line)
    if monitor.supervisor_status is not None:
        print(json.dumps(monitor.supervisor_status, indent=2, sort_keys=True))
    return 0


def health(options: argparse.Namespace) -> int:
    """Exit 0 when healthy; otherwise print each problem (which node, why) and exit 1."""
    monitor = _listen(options.wait, options.supervisor)
    verdict = judge_graph(statuses=monitor.levels(),
                          supervisor_status=monitor.supervisor_status, now=time.time(),
                          listened_s=options.wait,
                          require_supervisor=not options.no_supervisor)
    print(f'healthy ({len(monitor.latest)} status(es) heard)' if verdict.healthy else
          f'unhealthy: {len(verdict.problems)} problem(s)')
    for line in verdict.problems:
        print(f'  {line}')
    for line in verdict.warnings:
        print(f'  (warn) {line}')
    return 0 if verdict.healthy else 1


def snapshot(options: argparse.Namespace) -> int:
    import cv2
    from sensor_msgs.msg import CompressedImage, Image
    rclpy.init(args=['framebridge'])
    node = Node('framebridge_snapshot')
    received = []
    compressed = options.topic.endswith('/compressed')
    node.create_subscription(CompressedImage if compressed else Image, options.topic,
                             received.append, frame_qos(3600.0))
    deadline = time.monotonic() + options.wait
    try:
        while not received and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    if not received:
        print(f'no frame on {options.topic} within {options.wait:g} s')
        return 1
    message = received[0]
    if compressed:
        with open(options.output, 'wb') as stream:
            stream.write(bytes(message.data))
    elif not cv2.imwrite(options.output, msg_to_image(message)):
        print(f'could not write {options.output}')
        return 1
    print(f'saved {options.topic} frame to {options.output}')
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='framebridge', description=__doc__.split('\n')[1])
    commands = parser.add_subparsers(dest='command', required=True)
    run_parser = commands.add_parser('run', help='run nodes in one process')
    run_parser.add_argument('--params', help='parameter YAML (config/framebridge.yaml)')
    run_parser.add_argument('--nodes', default=','.join(available_nodes()),
                            help=f'comma-separated subset of {",".join(NODES)}')
    run_parser.add_argument('--source', choices=SOURCES)
    run_parser.add_argument('--capture-dir')
    run_parser.add_argument('--param', action='append', metavar='NAME:=VALUE',
                            help='extra parameter for every node that declares it')
    run_parser.add_argument('--duration', type=float, default=0.0,
                            help='stop after this many seconds (0: until Ctrl-C)')
    run_parser.add_argument('--status-period', type=float, default=3.0)
    run_parser.add_argument('--log-level', default='info',
                            choices=('debug', 'info', 'warn', 'error'))
    run_parser.set_defaults(handler=run)
    for name, handler, text in (('status', status, 'print /diagnostics as a table'),
                                ('health', health, 'exit 0 if the graph is healthy')):
        sub = commands.add_parser(name, help=text)
        # health: long enough to tell a silent node from DDS discovery (core.health)
        sub.add_argument('--wait', type=float, default=5.0 if handler is health else 3.0,
                         help='seconds to listen')
        sub.add_argument('--supervisor', default='supervisor',
                         help='the supervisor node, whose <name>/status is read')
        if handler is health:
            sub.add_argument('--no-supervisor', action='store_true',
                             help='a graph without a supervisor: judge /diagnostics only')
        sub.set_defaults(handler=handler)
    snap = commands.add_parser('snapshot', help='save one frame of an image topic')
    snap.add_argument('output')
    snap.add_argument('--topic', default='vehicles/image_annotated')
    snap.add_argument('--wait', type=float, default=10.0)
    snap.set_defaults(handler=snapshot)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    options = build_parser().parse_args(argv)
    if options.handler is run:  # the nodes' middleware defaults, before rclpy starts
        from framebridge_ros.middleware_defaults import apply as apply_middleware_defaults
        apply_middleware_defaults(log=rclpy.logging.get_logger('framebridge').info)
    return options.handler(options)


if __name__ == '__main__':
    raise SystemExit(main())
