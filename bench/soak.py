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
Soak of the whole graph: memory, file descriptors, frame age and disk use over time.

    .venv/bin/python -m bench.soak                  # 10 minutes measured (the issue's soak)
    .venv/bin/python -m bench.soak --minutes 0.5    # a smoke run; --quick is the same

Runs host_capture (simulated camera, 5 fps, 1920x1080), frame_provider, vehicle_detector,
sky_analyzer and the supervisor as five separate processes (`python -m
framebridge_ros.nodes.<name> --ros-args -p ...`), on a ROS_DOMAIN_ID of their own with
discovery limited to this host, writing into a volume in a temporary directory. The host
keeps max_images frames in live/; the supervisor archives frames older than
archive_after_s to processed/ and deletes them there after processed_max_age_s, every
cleanup_period_s. A subscriber in this process checks the age (now - capture stamp) of
every camera/image_raw/compressed, camera/image_scaled and vehicles/detections message
it receives against max_age_s.

After the graph is up (the supervisor reports every node active and every checked topic
has delivered) and a warm-up, it samples VmRSS and the open file descriptors of every
process, then samples them again at the end; the volume's disk use is sampled every
second. It prints a table and exits 1 if a check fails:

- a process died;
- RSS grew by more than max(--rss-tolerance-mib, --rss-tolerance-percent of its start);
- the open file descriptors of a process grew by more than --fd-tolerance;
- a message older than max_age_s was delivered, or a checked topic delivered nothing;
- the disk use went over the retention bound: every file on the volume is a frame (or
  its metadata) in live/ (at most max_images, +1 being committed) or in processed/ (at
  most fps x (processed_max_age_s + cleanup_period_s) + 1 frames), so the bound is
  that many frames of the largest size seen plus directory blocks;
- the supervisor had to restart a node.

Every child runs in a session of its own and is stopped (SIGINT, then SIGKILL of its
process group) on every way out: the end, an error, Ctrl-C, SIGTERM.
"""

import argparse
import atexit
from dataclasses import dataclass, field
import json
import math
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from diagnostic_msgs.msg import DiagnosticArray
import framebridge_ros
from framebridge_ros.ros_glue import frame_qos, latched_qos, stamp_to_epoch
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

__all__ = ['SoakConfig', 'SoakResult', 'main', 'run_soak']

PACKAGE_ROOT = Path(framebridge_ros.__file__).resolve().parents[1]
COMPRESSED, SCALED, DETECTIONS = (
    'camera/image_raw/compressed', 'camera/image_scaled', 'vehicles/detections')
CHECKED_TOPICS = (COMPRESSED, SCALED, DETECTIONS)
# Start-up order: the volume's writer first, the supervisor last (it adopts or starts
# the lifecycle nodes it finds).
PROCESSES = ('host_capture', 'frame_provider', 'vehicle_detector', 'sky_analyzer',
             'supervisor')
# /diagnostics status name -> (label, counter key) of the frame counts reported.
COUNTERS = {'host_capture: capture': ('captured', 'frames_captured'),
            'frame_provider: frames': ('published', 'frames_published'),
            'vehicle_detector: vehicles': ('analysed (detector)', 'frames_analysed'),
            'sky_analyzer: sky': ('analysed (sky)', 'frames_analysed')}
# Directory blocks and the odd metadata file in flight, on top of the frame bound.
DISK_SLACK_BYTES = 256 * 1024


@dataclass
class SoakConfig:
    """What to run and how to judge it; the defaults are the issue's soak."""

    duration_s: float = 600.0
    warmup_s: Optional[float] = None  # None: 10 % of duration_s, 5 to 60 s
    fps: float = 5.0
    width: int = 1920
    height: int = 1080
    quality: int = 95
    max_age_s: float = 5.0
    max_images: int = 100
    archive_after_s: float = 10.0
    processed_max_age_s: float = 20.0
    cleanup_period_s: float = 5.0
    rss_tolerance_mib: float = 16.0
    rss_tolerance_percent: float = 5.0
    fd_tolerance: int = 0
    startup_timeout_s: float = 60.0
    sample_period_s: float = 1.0
    domain_id: Optional[int] = None  # None: one of 215..232 picked by process id
    keep_dir: bool = False

    @property
    def warmup(self) -> float:
        if self.warmup_s is not None:
            return self.warmup_s
        return min(60.0, max(5.0, 0.1 * self.duration_s))

    def retention_bound_frames(self) -> int:
        """Return the frames the retention settings allow on the volume at once."""
        processed = math.ceil(self.fps * (self.processed_max_age_s + self.cleanup_period_s))
        return self.max_images + 1 + processed + 1


@dataclass
class ProcessFigures:
    """Memory and descriptors of one child, sampled at the start and end of the window."""

    name: str
    pid: int
    rss_start_kib: Optional[int] = None
    rss_mid_kib: Optional[int] = None  # half-way: settling vs growth all along
    rss_end_kib: Optional[int] = None
    rss_max_kib: int = 0
    fds_start: Optional[int] = None
    fds_end: Optional[int] = None
    exit_code: Optional[int] = None
    died_at_s: Optional[float] = None

    @property
    def rss_growth_kib(self) -> Optional[int]:
        if self.rss_start_kib is None or self.rss_end_kib is None:
            return None
        return self.rss_end_kib - self.rss_start_kib


@dataclass
class TopicFigures:
    """What the checking subscriber saw on one topic during the measured window."""

    received: int = 0
    max_age_s: float = 0.0
    over_age: int = 0
    worst: str = ''


@dataclass
class SoakResult:
    """Everything measured, the checks that failed, and the printed table."""

    config: SoakConfig
    measured_s: float = 0.0
    processes: Dict[str, ProcessFigures] = field(default_factory=dict)
    topics: Dict[str, TopicFigures] = field(default_factory=dict)
    frames: Dict[str, int] = field(default_factory=dict)
    provider_skips: Dict[str, str] = field(default_factory=dict)
    disk_max_bytes: int = 0
    disk_bound_bytes: int = 0
    live_max: int = 0
    processed_max: int = 0
    largest_frame_bytes: int = 0
    restarts: int = 0
    failures: List[str] = field(default_factory=list)
    table: str = ''

    def to_json(self) -> dict:
        return {
            'config': vars(self.config), 'measured_s': round(self.measured_s, 1),
            'processes': {name: {**vars(p), 'rss_growth_kib': p.rss_growth_kib}
                          for name, p in self.processes.items()},
            'topics': {name: vars(t) for name, t in self.topics.items()},
            'frames': self.frames, 'provider_skips': self.provider_skips,
            'disk_max_bytes': self.disk_max_bytes, 'disk_bound_bytes': self.disk_bound_bytes,
            'live_max': self.live_max, 'processed_max': self.processed_max,
            'largest_frame_bytes': self.largest_frame_bytes, 'restarts': self.restarts,
            'failures': self.failures}


# --- /proc and the volume ------------------------------------------------------------

def process_sample(pid: int) -> Optional[Tuple[int, int]]:
    """Return (VmRSS in KiB, open file descriptors) of a live process, None if it is gone."""
    try:
        with open(f'/proc/{pid}/status') as stream:
            rss = next(int(line.split()[1]) for line in stream if line.startswith('VmRSS:'))
        return rss, _settled_fd_count(pid)
    except (OSError, StopIteration):
        return None


def _settled_fd_count(pid: int, *, reads: int = 5, gap_s: float = 0.02) -> int:
    # The fewest of a few quick reads: a file open for a moment (a frame being written
    # or moved) is not a leak, while a leaked descriptor shows in every read.
    counts = []
    for read in range(reads):
        if read:
            time.sleep(gap_s)
        counts.append(len(os.listdir(f'/proc/{pid}/fd')))
    return min(counts)


def disk_use(root: Path) -> Tuple[int, Dict[str, int]]:
    """Return the bytes allocated under root (like du) and the frames in each folder."""
    total, counts = 0, {}
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # retention moved or deleted it meanwhile
            total += info.st_blocks * 512
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.name.endswith('.jpg'):
                key = os.path.relpath(directory, root)
                counts[key] = counts.get(key, 0) + 1
    return total, counts


# --- the children --------------------------------------------------------------------

class Children:
    """The graph's processes, each in a session of its own, all stopped by close()."""

    def __init__(self, *, env: Dict[str, str], log_dir: Path) -> None:
        self._env, self._log_dir = env, log_dir
        self.processes: Dict[str, subprocess.Popen] = {}
        self._closed = False
        atexit.register(self.close)

    def start(self, name: str, params: Dict[str, object]) -> subprocess.Popen:
        argv = [sys.executable, '-m', f'framebridge_ros.nodes.{name}', '--ros-args']
        for key, value in params.items():
            argv += ['-p', f'{key}:={_ros_value(value)}']
        with open(self._log_dir / f'{name}.log', 'wb') as log:
            process = subprocess.Popen(argv, env=self._env, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.processes[name] = process
        return process

    def log_tail(self, name: str, lines: int = 15) -> str:
        try:
            text = (self._log_dir / f'{name}.log').read_text(errors='replace')
        except OSError:
            return ''
        return '\n'.join(text.splitlines()[-lines:])

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop every child: SIGINT (a clean rclpy shutdown), then SIGKILL its group."""
        if self._closed:
            return
        self._closed = True
        for process in self.processes.values():
            _signal_group(process, signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for process in self.processes.values():
            _signal_group(process, signal.SIGKILL)  # whatever it started goes too
            process.wait()
        atexit.unregister(self.close)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # gone already (the group dies with its last member)


def _ros_value(value: object) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(_ros_value(item) for item in value) + ']'
    return str(value)


def graph_parameters(config: SoakConfig, capture_dir: Path) -> Dict[str, Dict[str, object]]:
    """Return the -p parameters of each process of the soak."""
    common = {'capture_dir': str(capture_dir)}
    analysis = {'max_age_s': config.max_age_s}
    return {
        'host_capture': {**common, 'source': 'simulated', 'interval_s': 1.0 / config.fps,
                         'width': config.width, 'height': config.height,
                         'quality': config.quality, 'max_images': config.max_images},
        'frame_provider': {**common, 'max_age_s': config.max_age_s},
        'vehicle_detector': dict(analysis),
        'sky_analyzer': {**analysis, 'period_s': 2.0},
        'supervisor': {**common, 'max_frame_age_s': config.max_age_s,
                       'health_period_s': 2.0, 'host_stale_s': 30.0,
                       'cleanup_period_s': config.cleanup_period_s,
                       'archive_after_s': config.archive_after_s,
                       'processed_max_age_s': config.processed_max_age_s,
                       'max_live_images': config.max_images,
                       'startup_timeout_s': config.startup_timeout_s},
    }


# --- the checking subscriber ---------------------------------------------------------

class Checker:
    """Subscribes to the checked topics, /diagnostics and the supervisor status."""

    def __init__(self, context, *, max_age_s: float) -> None:
        self.node = Node('soak_checker', context=context)
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self.topics = {topic: TopicFigures() for topic in CHECKED_TOPICS}
        self.largest_frame_bytes = 0
        self.diagnostics: Dict[str, Dict[str, str]] = {}
        self.status: Optional[dict] = None
        image_qos = frame_qos(max_age_s)  # as a viewer subscribes: reliable, latched
        self.node.create_subscription(CompressedImage, COMPRESSED, self._on_compressed,
                                      image_qos)
        self.node.create_subscription(Image, SCALED, self._on_scaled, image_qos)
        self.node.create_subscription(String, DETECTIONS, self._on_detections, QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=10,
            reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE))
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                      50)
        self.node.create_subscription(String, '/supervisor/status', self._on_status,
                                      latched_qos())

    def reset(self) -> None:
        """Start the measured window: forget what the warm-up delivered."""
        with self._lock:
            self.topics = {topic: TopicFigures() for topic in CHECKED_TOPICS}

    def _record(self, topic: str, stamp_s: float, received_at: float) -> None:
        age = received_at - stamp_s
        with self._lock:
            figures = self.topics[topic]
            figures.received += 1
            if age > figures.max_age_s:
                figures.max_age_s = age
            if age > self._max_age_s:
                figures.over_age += 1
                figures.worst = f'{age:.3f} s old (stamp {stamp_s:.3f})'

    def _on_compressed(self, message: CompressedImage) -> None:
        now = time.time()
        self._record(COMPRESSED, stamp_to_epoch(message.header.stamp), now)
        self.largest_frame_bytes = max(self.largest_frame_bytes, len(message.data))

    def _on_scaled(self, message: Image) -> None:
        self._record(SCALED, stamp_to_epoch(message.header.stamp), time.time())

    def _on_detections(self, message: String) -> None:
        now = time.time()
        try:
            stamp = json.loads(message.data)['stamp']
            stamp_s = stamp['sec'] + stamp['nanosec'] * 1e-9
        except (ValueError, KeyError, TypeError):
            stamp_s = 0.0  # a message without a usable stamp counts as infinitely old
        self._record(DETECTIONS, stamp_s, now)

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        with self._lock:
            for status in message.status:
                self.diagnostics[status.name] = {kv.key: kv.value for kv in status.values}

    def _on_status(self, message: String) -> None:
        try:
            self.status = json.loads(message.data)
        except ValueError:
            pass

    def counters(self) -> Dict[str, int]:
        """Return the frame counters the nodes last reported, by label."""
        counts = {}
        with self._lock:
            for name, (label, key) in COUNTERS.items():
                try:
                    counts[label] = int(self.diagnostics[name][key])
                except (KeyError, ValueError):
                    pass
        return counts

    def ready(self) -> bool:
        status = self.status
        with self._lock:
            delivered = all(figures.received for figures in self.topics.values())
        return bool(status and status.get('all_active')) and delivered

    def restarts(self) -> int:
        status = self.status or {}
        return sum(int(node.get('restarts', 0)) for node in status.get('nodes', {}).values())


# --- the run -------------------------------------------------------------------------

def _spin(executor) -> None:
    try:
        executor.spin()
    except ExternalShutdownException:
        pass


def run_soak(config: SoakConfig, *, log: Callable[[str], None] = print) -> SoakResult:
    """Run the soak as configured; return the figures, the failed checks and the table."""
    result = SoakResult(config=config)
    domain = config.domain_id if config.domain_id is not None else 215 + os.getpid() % 18
    work = Path(tempfile.mkdtemp(prefix='framebridge-soak-'))
    capture_dir = work / 'volume'
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               PYTHONUNBUFFERED='1',
               PYTHONPATH=os.pathsep.join(filter(None, [str(PACKAGE_ROOT),
                                                        os.environ.get('PYTHONPATH')])))
    children = Children(env=env, log_dir=work)
    context = rclpy.Context()
    executor = thread = None
    started = time.monotonic()
    try:
        rclpy.init(context=context, domain_id=domain)
        checker = Checker(context, max_age_s=config.max_age_s)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(checker.node)
        thread = threading.Thread(target=_spin, args=(executor,), daemon=True)
        thread.start()
        log(f'soak: domain {domain}, volume {capture_dir}, logs in {work}')
        for name, params in graph_parameters(config, capture_dir).items():
            children.start(name, params)
        _wait_until_up(config, children, checker, result, started)
        if not result.failures:
            log(f'soak: graph up after {time.monotonic() - started:.1f} s; warm-up '
                f'{config.warmup:g} s, then {config.duration_s:g} s measured')
            _measure(config, children, checker, result, capture_dir)
    finally:
        children.close()
        if executor is not None:
            executor.shutdown(timeout_sec=5.0)
        if thread is not None:
            thread.join(timeout=5.0)
        rclpy.try_shutdown(context=context)
        for name, process in children.processes.items():
            figures = result.processes.setdefault(name, ProcessFigures(name, process.pid))
            if figures.died_at_s is not None:
                print(f'--- last lines of {name}.log ---\n{children.log_tail(name)}',
                      file=sys.stderr)
        if not config.keep_dir:
            shutil.rmtree(work, ignore_errors=True)
    result.table = format_table(result)
    return result


def _dead(children: Children, result: SoakResult, started: float) -> List[str]:
    dead = []
    for name, process in children.processes.items():
        code = process.poll()
        if code is None:
            continue
        figures = result.processes.setdefault(name, ProcessFigures(name, process.pid))
        if figures.died_at_s is None:
            figures.exit_code, figures.died_at_s = code, time.monotonic() - started
        dead.append(name)
    return dead


def _wait_until_up(config: SoakConfig, children: Children, checker: Checker,
                   result: SoakResult, started: float) -> None:
    deadline = started + config.startup_timeout_s
    while not checker.ready():
        dead = _dead(children, result, started)
        if dead:
            result.failures.append(f'died during start-up: {", ".join(dead)}')
            return
        if time.monotonic() > deadline:
            missing = [topic for topic, figures in checker.topics.items()
                       if not figures.received]
            active = bool(checker.status and checker.status.get('all_active'))
            result.failures.append(
                f'graph not up within {config.startup_timeout_s:g} s (supervisor: '
                f'{"all" if active else "not all"} active; nothing yet on '
                f'{", ".join(missing) or "-"})')
            return
        time.sleep(0.1)


def _measure(config: SoakConfig, children: Children, checker: Checker, result: SoakResult,
             capture_dir: Path) -> None:
    started = time.monotonic()
    warmup_end = started + config.warmup
    restarts_before = checker.restarts()
    next_sample = started
    window_start = None
    mid_taken = False
    counters_start: Dict[str, int] = {}
    while True:
        now = time.monotonic()
        dead = _dead(children, result, started)
        if dead:
            result.failures.append(f'process died: {", ".join(dead)}')
            break
        if window_start is None and now >= warmup_end:
            window_start = now
            checker.reset()
            counters_start = checker.counters()
            for name, process in children.processes.items():
                sample = process_sample(process.pid)
                figures = result.processes.setdefault(name, ProcessFigures(name, process.pid))
                if sample is not None:
                    figures.rss_start_kib, figures.fds_start = sample
        if window_start is not None and now - window_start >= config.duration_s:
            break
        if window_start is not None and not mid_taken and \
                now - window_start >= config.duration_s / 2:
            mid_taken = True
            for name, process in children.processes.items():
                sample = process_sample(process.pid)
                if sample is not None:
                    result.processes[name].rss_mid_kib = sample[0]
        if now >= next_sample:
            next_sample += config.sample_period_s
            used, counts = disk_use(capture_dir)
            result.disk_max_bytes = max(result.disk_max_bytes, used)
            result.live_max = max(result.live_max, counts.get('live', 0))
            result.processed_max = max(result.processed_max, counts.get('processed', 0))
            for name, process in children.processes.items():
                sample = process_sample(process.pid)
                if sample is not None:
                    figures = result.processes.setdefault(name,
                                                          ProcessFigures(name, process.pid))
                    figures.rss_max_kib = max(figures.rss_max_kib, sample[0])
        time.sleep(max(0.0, min(next_sample, warmup_end if window_start is None
                                else window_start + config.duration_s) - time.monotonic()))
    end = time.monotonic()
    result.measured_s = 0.0 if window_start is None else end - window_start
    for name, process in children.processes.items():
        sample = process_sample(process.pid)
        if sample is not None:
            figures = result.processes[name]
            figures.rss_end_kib, figures.fds_end = sample
    counters_end = checker.counters()
    result.frames = {label: counters_end[label] - counters_start.get(label, 0)
                     for label in counters_end}
    provider = checker.diagnostics.get('frame_provider: frames', {})
    result.provider_skips = {key: value for key, value in provider.items()
                             if key.startswith('skipped_')}
    result.topics = dict(checker.topics)
    result.largest_frame_bytes = checker.largest_frame_bytes
    result.restarts = checker.restarts() - restarts_before
    _judge(config, result)


def _judge(config: SoakConfig, result: SoakResult) -> None:
    """Append a line to result.failures for every check that fails."""
    failures = result.failures
    for figures in result.processes.values():
        growth = figures.rss_growth_kib
        if growth is None:
            continue
        allowed = max(config.rss_tolerance_mib * 1024,
                      config.rss_tolerance_percent / 100 * figures.rss_start_kib)
        if growth > allowed:
            failures.append(f'{figures.name}: RSS grew {growth / 1024:.1f} MiB, over the '
                            f'{allowed / 1024:.1f} MiB tolerance')
        if figures.fds_end - figures.fds_start > config.fd_tolerance:
            failures.append(f'{figures.name}: open file descriptors {figures.fds_start} -> '
                            f'{figures.fds_end}')
    for topic, figures in result.topics.items():
        if figures.over_age:
            failures.append(f'{topic}: {figures.over_age} message(s) older than max_age_s='
                            f'{config.max_age_s:g} delivered, worst {figures.worst}')
        if not figures.received and result.measured_s:
            failures.append(f'{topic}: nothing delivered in the measured window')
    per_frame = result.largest_frame_bytes + 4096 + 4096  # a block of metadata, rounding
    result.disk_bound_bytes = config.retention_bound_frames() * per_frame + DISK_SLACK_BYTES
    if result.disk_max_bytes > result.disk_bound_bytes:
        failures.append(f'disk use {result.disk_max_bytes / 1e6:.1f} MB over the retention '
                        f'bound {result.disk_bound_bytes / 1e6:.1f} MB')
    if result.restarts:
        failures.append(f'the supervisor restarted nodes {result.restarts} time(s)')


def _mib(kib: Optional[int]) -> str:
    return '-' if kib is None else f'{kib / 1024:.1f}'


def format_table(result: SoakResult) -> str:
    """Return the soak's figures as a plain-text table."""
    c = result.config
    lines = [f'soak: {result.measured_s:.0f} s measured after a {c.warmup:g} s warm-up; '
             f'simulated camera {c.fps:g} fps {c.width}x{c.height} q{c.quality}; '
             f'max_age_s {c.max_age_s:g}',
             '',
             f'{"process":<18}{"RSS start":>10}{"mid":>8}{"end":>8}{"growth":>8}{"max":>8}  MiB'
             f'{"FDs start":>11}{"end":>5}  status']
    for name in PROCESSES:
        p = result.processes.get(name)
        if p is None:
            continue
        growth = p.rss_growth_kib
        status = ('running' if p.died_at_s is None else
                  f'DIED at {p.died_at_s:.0f} s, exit {p.exit_code}')
        lines.append(f'{name:<18}{_mib(p.rss_start_kib):>10}{_mib(p.rss_mid_kib):>8}'
                     f'{_mib(p.rss_end_kib):>8}'
                     f'{"-" if growth is None else f"{growth / 1024:+.1f}":>8}'
                     f'{_mib(p.rss_max_kib or None):>8}     '
                     f'{"-" if p.fds_start is None else p.fds_start:>11}'
                     f'{"-" if p.fds_end is None else p.fds_end:>5}  {status}')
    lines += ['', f'{"topic (checked on receipt)":<30}{"messages":>9}{"max age s":>11}'
              f'{"> max_age_s":>13}']
    for topic in CHECKED_TOPICS:
        t = result.topics.get(topic, TopicFigures())
        lines.append(f'{topic:<30}{t.received:>9}{t.max_age_s:>11.3f}{t.over_age:>13}')
    frames = ', '.join(f'{label} {count}' for label, count in result.frames.items()) or '-'
    skips = ', '.join(f'{key} {value}' for key, value in result.provider_skips.items()) or '-'
    lines += ['', f'frames in the window: {frames}', f'provider skips (total): {skips}',
              f'disk: max {result.disk_max_bytes / 1e6:.1f} MB (live/ max {result.live_max} '
              f'frames, processed/ max {result.processed_max} frames) vs retention bound '
              f'{result.disk_bound_bytes / 1e6:.1f} MB ({c.retention_bound_frames()} frames '
              f'of <= {result.largest_frame_bytes / 1e3:.0f} kB + metadata)',
              f'supervisor restarts: {result.restarts}', '',
              'checks: ' + ('all passed' if not result.failures else
                            'FAILED\n  ' + '\n  '.join(result.failures))]
    return '\n'.join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python -m bench.soak',
                                     description=__doc__.split('\n')[1])
    parser.add_argument('--minutes', type=float, default=10.0,
                        help='measured duration (default 10)')
    parser.add_argument('--quick', action='store_true', help='a smoke run: --minutes 0.5')
    parser.add_argument('--warmup', type=float, default=None, metavar='S',
                        help='warm-up before the first sample (default 10 %% of the run, '
                        '5 to 60 s)')
    parser.add_argument('--fps', type=float, default=5.0)
    parser.add_argument('--size', default='1920x1080')
    parser.add_argument('--max-age', type=float, default=5.0, metavar='S')
    parser.add_argument('--rss-tolerance-mib', type=float, default=16.0)
    parser.add_argument('--rss-tolerance-percent', type=float, default=5.0)
    parser.add_argument('--fd-tolerance', type=int, default=0)
    parser.add_argument('--domain-id', type=int, default=None)
    parser.add_argument('--json', metavar='PATH', help='also write the figures as JSON')
    parser.add_argument('--keep', action='store_true', help='keep the volume and the logs')
    return parser


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f'signal {signum}')


def main(argv: Optional[Sequence[str]] = None) -> int:
    options = build_parser().parse_args(argv)
    width, height = (int(value) for value in options.size.lower().split('x'))
    config = SoakConfig(
        duration_s=60.0 * (0.5 if options.quick else options.minutes),
        warmup_s=options.warmup, fps=options.fps, width=width, height=height,
        max_age_s=options.max_age, rss_tolerance_mib=options.rss_tolerance_mib,
        rss_tolerance_percent=options.rss_tolerance_percent,
        fd_tolerance=options.fd_tolerance, domain_id=options.domain_id,
        keep_dir=options.keep)
    # SIGTERM and SIGHUP end the run like Ctrl-C does: through the finally that stops
    # every child.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        result = run_soak(config)
    except KeyboardInterrupt:
        print('soak: interrupted; every child stopped', file=sys.stderr)
        return 130
    print(result.table, flush=True)
    if options.json:
        Path(options.json).write_text(json.dumps(result.to_json(), indent=2) + '\n')
    return 1 if result.failures else 0


if __name__ == '__main__':
    sys.exit(main())
