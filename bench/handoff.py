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
Hand-off benchmark: a frame renamed into live/ until a subscriber in another process has it.

    .venv/bin/python -m bench.handoff            # the full run, about 10 min on 2 cores
    .venv/bin/python -m bench.handoff --quick    # a smoke run, under 2 min

Every lane has its own processes, DDS domain and volume. Lanes take turns frame by frame
in a shuffled round-robin, one frame in flight at a time, so every lane sees the same
machine: these machines are shared and noisy, and only ratios within one run mean much.

    bound        in this process: cv2.imdecode of the JPEG, full size and DCT-reduced
                 (the provider's scale), and a memcpy of the decoded frame (warm buffer)
    discovery    in this process: the provider's VolumeWatcher and FrameFeed, rename to
                 callback
    floor        bench.handoff_pub floor -> bench.handoff_sub: a bare rclpy publisher of
                 the decoded frame, msg.data filled from bytes; floor = bound decode +
                 that publish-to-receive time, round by round. Twice: with the
                 middleware defaults, and with the profile + huge pages (floor_fast)
    floor_compressed_fast, floor_compressed_user, floor_compressed_hugepages
                 this module in a process of its own (--compressed-floor-publisher)
                 -> bench.handoff_sub: a bare rclpy publisher of sensor_msgs/
                 CompressedImage carrying the JPEG as read (ros_glue.compressed_msg,
                 the bytes handed over uncopied), stamped just before the build;
                 floor = that publish-to-receive time. The publisher with the profile +
                 huge pages, the subscriber with the same (the floor of compressed),
                 with the middleware defaults (mixed: the floor of compressed_user), or
                 with huge pages only (mixed)
    naive        the seed's design (bench.handoff_pub naive): 1 s poll, imread, publish
    raw, compressed, scaled, all
                 frame_provider as `ros2 run` starts it (the installed console script,
                 nothing set in its environment: it puts the large-frame profile and
                 huge pages in force itself), configured and activated over
                 lifecycle_msgs/srv/ChangeState, -> bench.handoff_sub subscribed to
                 camera/image_raw, image_raw/compressed, image_scaled, or all three,
                 the subscriber given the same two settings: compared with floor_fast
                 (compressed: with floor_compressed_fast)
    *_defaults   the same with FRAMEBRIDGE_DDS_PROFILE=default (the opt-out) and a
                 subscriber with the defaults: compared with floor
    *_user       mixed on purpose: the provider as shipped, a subscriber with nothing set
                 (a user's own node, rqt); compressed_user compared with
                 floor_compressed_user
    levers       the profile without huge pages and huge pages without the profile,
                 cache_size 2, and a code change measured through bench.handoff_provider:
                 a reused message buffer; with --no-levers (the default of --quick) they
                 are left out

Latency runs from the wall clock read right before commit_frame() (its rename into live/
follows the metadata write and fsync: commit_frame takes about 1.5 ms) to the wall clock read
first thing in the subscriber's callback. CPU per frame is the process CPU clock of each
process, counted over its own lane's turns only; peak RSS is VmHWM.

Then: provider idle CPU, and memory with 0 and with 10,000 files in live/ (as shipped,
with the defaults, and with the levers watch_mode events); and a sustained 10 fps at
1080p through provider + one subscriber, counting lost frames: as shipped to a
subscriber with defaults, with the defaults, and (levers) as shipped to a subscriber
with the profile and huge pages. The tables are printed as Markdown; docs/PERFORMANCE.md
holds one run and explains it.
"""

import argparse
from collections import deque
from dataclasses import dataclass, field
import importlib.metadata
import json
import math
import os
from pathlib import Path
import platform
import random
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Deque, Dict, Iterable, List, Optional, Sequence, Tuple

from bench.handoff_pub import emit, FLOOR_TOPIC
from builtin_interfaces.msg import Time
import cv2
from diagnostic_msgs.msg import DiagnosticArray
from framebridge_ros.core.simulation.scene import SimulatedScene
from framebridge_ros.core.volume.feed import FrameFeed
from framebridge_ros.core.volume.frames import Frame
from framebridge_ros.core.volume.jpeg import SCALE_FLAGS
from framebridge_ros.core.volume.layout import (
    commit_frame, frame_stem, is_frame_name, VolumeLayout, write_file_synced)
from framebridge_ros.core.volume.metadata import build_metadata, dump_metadata, iso_utc
from framebridge_ros.core.volume.watcher import VolumeWatcher
from framebridge_ros.ros_glue import compressed_msg
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CompressedImage

__all__ = ['main']

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / '.colcon' / 'install'
DEFAULT_PROFILE = REPO / 'config' / 'fastdds_shm.xml'
SCALE = 0.25  # the provider's default scale of camera/image_scaled, left as it is
TOPICS = {'raw': ('camera/image_raw', 'image'),
          'compressed': ('camera/image_raw/compressed', 'compressed'),
          'scaled': ('camera/image_scaled', 'image')}
HUGE_PAGES_ENV = {'GLIBC_TUNABLES': 'glibc.malloc.hugetlb=1'}
# Nothing from the shell of the person running the benchmark decides the figures.
CLEARED_ENV = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE',
               'GLIBC_TUNABLES', 'RMW_FASTRTPS_USE_QOS_FROM_XML', 'RMW_IMPLEMENTATION',
               'FASTDDS_BUILTIN_TRANSPORTS', 'SKIP_DEFAULT_XML_FILE')
# The provider's own opt-out of the settings it puts in force (middleware_defaults.py).
DEFAULTS_ENV = {'FRAMEBRIDGE_DDS_PROFILE': 'default'}
# The ratios need them; a lane chosen with --lanes also brings the floor it is compared with.
REQUIRED_LANES = ('bound', 'floor', 'floor_fast', 'naive', 'raw', 'raw_defaults')
COMPRESSED_FLOOR_TOPIC = 'floor/image_raw/compressed'
# The compressed floor's publisher is this module in a process of its own, given the JPEGs.
COMPRESSED_FLOOR_FLAG = '--compressed-floor-publisher'
SETTLE_S = 0.03  # after a frame arrived, before the next lane's turn: the processes finish


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says which process and why."""


# --- statistics ---------------------------------------------------------------------

def summary(values: Sequence[float]) -> Dict[str, float]:
    """Return n, median, p95 (nearest rank) and max of values."""
    if not values:
        return {'n': 0, 'median': math.nan, 'p95': math.nan, 'max': math.nan}
    ordered = sorted(values)
    rank = max(0, math.ceil(0.95 * len(ordered)) - 1)
    return {'n': len(ordered), 'median': statistics.median(ordered), 'p95': ordered[rank],
            'max': ordered[-1]}


# --- processes ----------------------------------------------------------------------

def process_cpu_s(pid: int) -> float:
    """CPU seconds of a process: its CPU clock (ns), else /proc/<pid>/stat (ticks)."""
    try:
        return time.clock_gettime(((~pid) << 3) | 2)  # Linux CPUCLOCK_SCHED of the process
    except OSError:
        fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def process_memory_mb(pid: int) -> Dict[str, float]:
    """Return the peak RSS (VmHWM) and the RSS (VmRSS) of a process in MiB."""
    values = {}
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        key, _, rest = line.partition(':')
        if key in ('VmHWM', 'VmRSS'):
            values[key] = int(rest.split()[0]) / 1024
    return values


class Child:
    """A process this benchmark started: protocol lines on stdout, a log of stderr."""

    def __init__(self, name: str, argv: Sequence[str], *, env: Dict[str, str],
                 log_dir: Path, stdin: bool = False) -> None:
        self.name = name
        self.log_path = log_dir / f'{name}.log'
        self._log = open(self.log_path, 'wb')
        self.process = subprocess.Popen(
            list(argv), cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=self._log,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            start_new_session=True)  # its own process group: stop() ends it and its children
        self._buffer = b''
        self.lines: Deque[str] = deque()

    @property
    def pid(self) -> int:
        return self.process.pid

    def fileno(self) -> int:
        return self.process.stdout.fileno()

    def send(self, line: str) -> None:
        self.process.stdin.write((line + '\n').encode())
        self.process.stdin.flush()

    def read_available(self) -> None:
        chunk = os.read(self.fileno(), 1 << 16)
        if not chunk:
            self.process.wait(timeout=5.0)
            raise BenchError(f'{self.name} exited with {self.process.returncode}; '
                             f'its log ({self.log_path}) ends:\n{self.log_tail()}')
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b'\n')
        self.lines.extend(line.decode() for line in complete)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return '\n'.join(self.log_path.read_text(errors='replace').splitlines()[-lines:])
        except OSError:
            return '(no log)'

    def cpu_s(self) -> float:
        return process_cpu_s(self.pid)

    def memory_mb(self) -> Dict[str, float]:
        return process_memory_mb(self.pid)

    def stop(self) -> None:
        """End the process group: SIGTERM (rclpy shuts down cleanly), SIGKILL after 5 s."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            try:
                self.process.stdin.close()  # a reader of stdin ends on EOF
            except BrokenPipeError:
                pass
        if self.process.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.process.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                print(f'  {self.name} ignored SIGTERM for 5 s: killed', file=sys.stderr)
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(timeout=5.0)
            except ProcessLookupError:
                pass
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self._log.close()


def pump(children: Iterable[Child], until: float) -> List[Tuple[Child, str]]:
    """Return the lines the children have written, waiting no later than until (monotonic)."""
    children = list(children)
    pending = [(child, child.lines.popleft()) for child in children for _ in range(
        len(child.lines))]
    if pending:
        return pending
    timeout = max(0.0, until - time.monotonic())
    ready, _, _ = select.select(children, [], [], timeout)
    for child in ready:
        child.read_available()
    return [(child, child.lines.popleft()) for child in children for _ in range(
        len(child.lines))]


# --- the compressed floor's publisher (a process of its own) -------------------------

def publish_compressed_floor(jpeg_paths: Sequence[str], *,
                             match_timeout_s: float = 60.0) -> None:
    """
    Publish the JPEGs as sensor_msgs/CompressedImage on request from stdin.

    The protocol of bench.handoff_pub floor, so FloorLane drives both: 'M' on stdout
    once a subscriber matched; each line 'P <seq> <index>' publishes JPEG <index> as
    read, the message built as the provider builds it (ros_glue.compressed_msg: the
    bytes handed over uncopied) and stamped with the wall clock read just before, and
    answers 'T <seq> <stamp_ns> <build_ns> <publish_ns>'. A bare rclpy publisher, default QoS.
    """
    jpegs = [Path(path).read_bytes() for path in jpeg_paths]
    rclpy.init()
    node = Node('bench_compressed_floor_publisher')
    try:
        publisher = node.create_publisher(CompressedImage, COMPRESSED_FLOOR_TOPIC, 10)
        give_up = time.monotonic() + match_timeout_s
        while not publisher.get_subscription_count():
            if time.monotonic() > give_up:
                raise SystemExit(f'no subscriber matched within {match_timeout_s:g} s')
            time.sleep(0.01)  # discovery runs on DDS threads: this only looks at the count
        emit('M')
        for request in map(str.split, sys.stdin):
            if request[:1] != ['P']:
                break  # EOF or anything else: the benchmark is done with this lane
            stamp_ns = time.time_ns()
            sec, nanosec = divmod(stamp_ns, 1_000_000_000)
            message = compressed_msg(jpegs[int(request[2])],
                                     stamp=Time(sec=sec, nanosec=nanosec), frame_id='camera')
            built_ns = time.time_ns()
            publisher.publish(message)
            emit(f'T {request[1]} {stamp_ns} {built_ns - stamp_ns} '
                 f'{time.time_ns() - built_ns}')
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


# --- frames and volumes -------------------------------------------------------------

@dataclass
class Size:
    """One frame size of the benchmark with its test JPEGs."""

    width: int
    height: int
    label: str
    jpegs: List[bytes] = field(default_factory=list)
    paths: List[Path] = field(default_factory=list)
    metadata: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


def make_size(width: int, height: int, *, quality: int, count: int, out_dir: Path) -> Size:
    """Render count photographic frames of the simulated roadside camera as JPEGs."""
    names = {(1920, 1080): '1080p', (4056, 3040): '12 MP'}
    label = names.get((width, height), f'{width}x{height}')
    size = Size(width, height, label)
    scene = SimulatedScene(width=width, height=height, seed=7)
    for index in range(count):
        image, truth = scene.render(2.5 * index)
        ok, encoded = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise BenchError('OpenCV could not encode a test frame')
        jpeg = encoded.tobytes()
        path = out_dir / f'frame_{width}x{height}_{index}.jpg'
        path.write_bytes(jpeg)
        size.jpegs.append(jpeg)
        size.paths.append(path)
        size.metadata.append(build_metadata(
            capture_time=0.0, sequence=0, width=width, height=height, quality=quality,
            jpeg=jpeg, source='simulated', capture_duration_s=0.0, ground_truth=truth))
    return size


class BenchVolume:
    """A shared volume this benchmark commits frames into the way host capture does."""

    def __init__(self, root: Path, *, keep: int = 3) -> None:
        self.layout = VolumeLayout.at(root)
        self.layout.ensure()
        self._keep = keep
        self._sequence = 0
        self._committed: Deque[Path] = deque()
        self.commit_s: List[float] = []
        self.last_name = ''

    def commit(self, size: Size, index: int) -> float:
        """Commit test frame index of size; return the wall clock read right before."""
        self._sequence += 1
        part = self.layout.tmp / f'bench_{self._sequence:06d}.jpg.part'
        write_file_synced(part, size.jpegs[index])  # the camera's write, before the hand-off
        landed = time.time()
        metadata = dict(size.metadata[index], capture_time=landed, timestamp=iso_utc(landed),
                        sequence=self._sequence)
        path = commit_frame(self.layout,
                            stem=frame_stem(capture_time=landed, sequence=self._sequence),
                            jpeg_tmp=part, metadata_json=dump_metadata(metadata))
        self.commit_s.append(time.time() - landed)
        self._committed.append(path)
        self.last_name = path.name
        return landed

    def trim(self) -> None:
        """Delete all but the newest frames, as host retention would."""
        while len(self._committed) > self._keep:
            path = self._committed.popleft()
            path.unlink(missing_ok=True)
            self.layout.metadata_path_for(path).unlink(missing_ok=True)


def fill_stale_frames(layout: VolumeLayout, count: int) -> None:
    """Write count small valid frames, an hour old, straight into live/ (set-up only)."""
    image, _ = SimulatedScene(width=160, height=120, seed=3).render(0.0)
    jpeg = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    start = time.time() - 3600.0 - count
    for index in range(count):
        stem = frame_stem(capture_time=start + index, sequence=index + 1)
        (layout.live / f'{stem}.jpg').write_bytes(jpeg)


# --- lanes --------------------------------------------------------------------------

@dataclass
class RunContext:
    """What every lane needs: where to put things, the environment, the random order."""

    root: Path
    log_dir: Path
    python: str
    base_env: Dict[str, str]
    profile: Optional[Path]
    rng: random.Random
    base_domain: int
    provider_command: List[str] = field(default_factory=list)
    provider_env: Dict[str, str] = field(default_factory=dict)
    next_domain: int = 0
    children: List[Child] = field(default_factory=list)

    def new_phase(self) -> None:
        """Hand out domain ids from the start again: the last phase's processes are gone."""
        self.next_domain = self.base_domain + 1

    def domain(self) -> int:
        domain, self.next_domain = self.next_domain, self.next_domain + 1
        if domain > 232:  # Fast DDS port arithmetic ends there
            raise BenchError('out of DDS domain ids; run fewer lanes')
        return domain

    def spawn(self, name: str, argv: Sequence[str], *, domain: int,
              env: Optional[Dict[str, str]] = None, stdin: bool = False) -> Child:
        full_env = dict(self.base_env, ROS_DOMAIN_ID=str(domain), **(env or {}))
        child = Child(name, argv, env=full_env, log_dir=self.log_dir, stdin=stdin)
        self.children.append(child)
        return child

    def profile_env(self) -> Dict[str, str]:
        if self.profile is None:
            raise BenchError('no Fast DDS profile to measure')
        return {'FASTRTPS_DEFAULT_PROFILES_FILE': str(self.profile)}


class Lane:
    """One measured path; subclasses start its processes and run one frame per turn."""

    def __init__(self, key: str, label: str, size: Size, *, topics: Sequence[str],
                 env: Optional[Dict[str, str]] = None,
                 sub_env: Optional[Dict[str, str]] = None, floor: str = 'floor',
                 mixed: bool = False) -> None:
        self.key, self.label, self.size = key, label, size
        self.topics = list(topics)
        self.env = env or {}  # of the publishing process (provider, bare publisher)
        self.sub_env = self.env if sub_env is None else sub_env
        self.floor = floor  # the floor lane measured with the same settings
        self.mixed = mixed  # publisher and subscriber run with different settings
        self.children: Dict[str, Child] = {}
        self.latency_ms: Dict[str, List[float]] = {topic: [] for topic in self.topics}
        self.by_round: Dict[str, Dict[int, float]] = {topic: {} for topic in self.topics}
        self.lost = {topic: 0 for topic in self.topics}
        self.cpu_s: Dict[str, float] = {}
        self.turns = 0
        self.memory: Dict[str, Dict[str, float]] = {}
        self.diagnostics: Dict[str, str] = {}
        self.matched = False

    # life cycle of the lane
    def start(self, run: RunContext) -> None:
        raise NotImplementedError

    def prepare(self, run: RunContext, deadline: float) -> None:
        """Wait until every subscriber (and publisher) reports its match."""
        waiting = {name for name, child in self.children.items() if self._reports_match(name)}
        while waiting:
            if time.monotonic() > deadline:
                raise BenchError(f'{self.key}: {", ".join(sorted(waiting))} never matched')
            for child, line in pump(self.children.values(), deadline):
                if line == 'M':
                    waiting.discard(child.name.split(':', 1)[1])
        self.matched = True

    def _reports_match(self, role: str) -> bool:
        return role == 'sub'

    def finish(self) -> None:
        for role, child in self.children.items():
            self.memory[role] = child.memory_mb()

    def close(self) -> None:
        pass

    # one frame
    def turn(self, run: RunContext, round_index: int, frame_index: int,
             measured: bool) -> None:
        before = {role: child.cpu_s() for role, child in self.children.items()}
        arrived = self._one_frame(run, frame_index)
        settle = time.monotonic() + SETTLE_S
        while time.monotonic() < settle:
            pump(self.children.values(), settle)  # late duplicates are read and dropped
        if not measured:
            return
        self.turns += 1
        for role, child in self.children.items():
            self.cpu_s[role] = self.cpu_s.get(role, 0.0) + child.cpu_s() - before[role]
        for topic in self.topics:
            if topic in arrived:
                self.latency_ms[topic].append(1000 * arrived[topic])
                self.by_round[topic][round_index] = 1000 * arrived[topic]
            else:
                self.lost[topic] += 1

    def _one_frame(self, run: RunContext, frame_index: int) -> Dict[str, float]:
        raise NotImplementedError

    def _timeout_s(self) -> float:
        return 2.0 + 0.4 * self.size.megapixels

    def _wait_arrivals(self, landed: float, deadline: float) -> Dict[str, float]:
        names = {TOPICS[topic][0]: topic for topic in self.topics}
        arrived: Dict[str, float] = {}
        while len(arrived) < len(self.topics) and time.monotonic() < deadline:
            for _, line in pump(self.children.values(), deadline):
                words = line.split()
                if len(words) != 4 or words[0] != 'R' or words[1] not in names:
                    continue
                if abs(int(words[2]) / 1e9 - landed) < 2e-6:  # this frame, not a late one
                    arrived[names[words[1]]] = int(words[3]) / 1e9 - landed
        return arrived


class SubscriberMixin:
    """Start bench.handoff_sub for the lane's topics."""

    def _start_subscriber(self, run: RunContext, domain: int, topics: Iterable[str]) -> None:
        argv = [run.python, '-m', 'bench.handoff_sub']
        for topic in topics:
            argv += ['--topic', '='.join(TOPICS[topic]) if topic in TOPICS else topic]
        self.children['sub'] = run.spawn(f'{self.key}:sub', argv, domain=domain,
                                         env=self.sub_env)


class FloorLane(SubscriberMixin, Lane):
    """A bare publisher of the decoded frame -> subscriber: publish-to-receive."""

    CARRIES = 'decoded frame'
    SUBSCRIBED = f'{FLOOR_TOPIC}=image'

    def __init__(self, key: str, label: str, size: Size, **kwargs) -> None:
        kwargs.setdefault('floor', key)  # a floor is compared with itself
        super().__init__(key, label, size, topics=['floor'], **kwargs)
        self.fill_ms: List[float] = []
        self.publish_ms: List[float] = []
        self._sequence = 0

    def _publisher_argv(self, run: RunContext) -> List[str]:
        return [run.python, '-m', 'bench.handoff_pub', 'floor',
                *(f'--jpeg={path}' for path in self.size.paths)]

    def floor_total_ms(self, bound: Lane) -> List[float]:
        """Return bound decode + publish-to-receive, round by round."""
        decode = bound.by_round['decode']
        return [decode[r] + value for r, value in self.by_round['floor'].items()
                if r in decode]

    def start(self, run: RunContext) -> None:
        domain = run.domain()
        self.children['pub'] = run.spawn(f'{self.key}:pub', self._publisher_argv(run),
                                         domain=domain, env=self.env, stdin=True)
        self._start_subscriber(run, domain, [self.SUBSCRIBED])

    def _reports_match(self, role: str) -> bool:
        return True

    def _one_frame(self, run: RunContext, frame_index: int) -> Dict[str, float]:
        self._sequence += 1
        self.children['pub'].send(f'P {self._sequence} {frame_index}')
        deadline = time.monotonic() + self._timeout_s()
        stamp_ns, received = None, {}
        while time.monotonic() < deadline:
            for _, line in pump(self.children.values(), deadline):
                words = line.split()
                if words[:2] == ['T', str(self._sequence)]:
                    stamp_ns = int(words[2])
                    self._last_fill_ms = int(words[3]) / 1e6
                    self._last_publish_ms = int(words[4]) / 1e6
                elif len(words) == 4 and words[0] == 'R':
                    received[int(words[2])] = int(words[3])
            if stamp_ns is not None and stamp_ns in received:
                self.fill_ms.append(self._last_fill_ms)
                self.publish_ms.append(self._last_publish_ms)
                return {'floor': (received[stamp_ns] - stamp_ns) / 1e9}
        return {}


class CompressedFloorLane(FloorLane):
    """A bare publisher of the JPEG as sensor_msgs/CompressedImage -> subscriber."""

    CARRIES = 'JPEG'
    SUBSCRIBED = f'{COMPRESSED_FLOOR_TOPIC}=compressed'

    def _publisher_argv(self, run: RunContext) -> List[str]:
        return [run.python, '-m', 'bench.handoff', COMPRESSED_FLOOR_FLAG,
                *(str(path) for path in self.size.paths)]

    def floor_total_ms(self, bound: Lane) -> List[float]:
        """Return publish-to-receive alone: the JPEG goes out as read, nothing decoded."""
        return list(self.latency_ms['floor'])


class NaiveLane(SubscriberMixin, Lane):
    """The seed's design: a 1 s poll of live/, newest by mtime, imread, publish."""

    POLL_S = 1.0

    def __init__(self, key: str, label: str, size: Size, **kwargs) -> None:
        super().__init__(key, label, size, topics=['raw'], **kwargs)
        self.volume: Optional[BenchVolume] = None

    def start(self, run: RunContext) -> None:
        domain = run.domain()
        self.volume = BenchVolume(run.root / self.size.label.replace(' ', '') / self.key)
        self.children['pub'] = run.spawn(
            f'{self.key}:pub', [run.python, '-m', 'bench.handoff_pub', 'naive', '--live',
                                str(self.volume.layout.live), '--poll-s', str(self.POLL_S)],
            domain=domain, env=self.env)
        self._start_subscriber(run, domain, self.topics)

    def _one_frame(self, run: RunContext, frame_index: int) -> Dict[str, float]:
        # Frames land at any moment of the poll cycle: draw the moment at random.
        phase = time.monotonic() + run.rng.uniform(0.0, self.POLL_S)
        while time.monotonic() < phase:
            pump(self.children.values(), phase)
        landed = self.volume.commit(self.size, frame_index)
        arrived = self._wait_arrivals(landed, time.monotonic() + self.POLL_S +
                                      self._timeout_s())
        self.volume.trim()
        return arrived


class ProviderLane(SubscriberMixin, Lane):
    """frame_provider in its own process, driven over ChangeState, -> a subscriber."""

    def __init__(self, key: str, label: str, size: Size, *, topics: Sequence[str],
                 variants: Sequence[str] = (), params: Optional[Dict[str, str]] = None,
                 stale_files: int = 0, keep: int = 3, **kwargs) -> None:
        super().__init__(key, label, size, topics=topics, **kwargs)
        self.variants = list(variants)
        self.params = dict(params or {})
        self.stale_files = stale_files
        self._keep = keep
        self.volume: Optional[BenchVolume] = None
        self._context = self._node = self._executor = None
        self._last_diagnostics: Optional[DiagnosticArray] = None

    def start(self, run: RunContext) -> None:
        domain = run.domain()
        self.volume = BenchVolume(run.root / self.size.label.replace(' ', '') / self.key,
                                  keep=self._keep)
        if self.stale_files:
            fill_stale_frames(self.volume.layout, self.stale_files)
        argv, env = list(run.provider_command), dict(run.provider_env, **self.env)
        if self.variants:
            argv, env = [run.python, '-m', 'bench.handoff_provider'], dict(self.env)
            for variant in self.variants:
                argv += ['--variant', variant]
        argv += ['--ros-args', '-p', f'capture_dir:={self.volume.layout.root}']
        for name, value in self.params.items():
            argv += ['-p', f'{name}:={value}']
        self.children['provider'] = run.spawn(f'{self.key}:provider', argv, domain=domain,
                                              env=env)
        self._start_subscriber(run, domain, self.topics)
        self._context = rclpy.Context()
        rclpy.init(context=self._context, domain_id=domain,
                   signal_handler_options=SignalHandlerOptions.NO)
        self._node = Node(f'bench_handoff_{self.key}', context=self._context)
        self._client = self._node.create_client(ChangeState, '/frame_provider/change_state')
        self._node.create_subscription(DiagnosticArray, '/diagnostics',
                                       self._on_diagnostics, 10)
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self._node)

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        self._last_diagnostics = message

    def prepare(self, run: RunContext, deadline: float) -> None:
        if not self._client.wait_for_service(timeout_sec=max(0.0, deadline - time.monotonic())):
            raise BenchError(f'{self.key}: frame_provider offers no change_state service; '
                             f'log:\n{self.children["provider"].log_tail()}')
        for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            future = self._client.call_async(ChangeState.Request(
                transition=Transition(id=transition)))
            self._executor.spin_until_future_complete(
                future, timeout_sec=max(0.0, deadline - time.monotonic()))
            if not future.done() or not future.result().success:
                raise BenchError(f'{self.key}: lifecycle transition {transition} failed; '
                                 f'log:\n{self.children["provider"].log_tail()}')
        super().prepare(run, deadline)

    def _one_frame(self, run: RunContext, frame_index: int) -> Dict[str, float]:
        landed = self.volume.commit(self.size, frame_index)
        arrived = self._wait_arrivals(landed, time.monotonic() + self._timeout_s())
        self.volume.trim()
        return arrived

    def read_diagnostics(self, timeout_s: float = 3.0) -> Dict[str, str]:
        """Return the key/values of the provider's next /diagnostics message."""
        for _ in range(50):  # what queued up while nobody spun: old news
            self._executor.spin_once(timeout_sec=0.0)
        self._last_diagnostics = None
        deadline = time.monotonic() + timeout_s
        while self._last_diagnostics is None and time.monotonic() < deadline:
            self._executor.spin_once(timeout_sec=max(0.0, deadline - time.monotonic()))
        if self._last_diagnostics is not None:
            for status in self._last_diagnostics.status:
                if status.name.endswith('frames'):
                    self.diagnostics = {kv.key: kv.value for kv in status.values}
        return self.diagnostics

    def finish(self) -> None:
        super().finish()
        self.read_diagnostics()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown()
            self._node.destroy_node()
            rclpy.try_shutdown(context=self._context)
            self._executor = None


class BoundLane(Lane):
    """In this process: decode full and reduced, and memcpy the decoded frame."""

    def __init__(self, key: str, label: str, size: Size) -> None:
        super().__init__(key, label, size, topics=['decode', 'decode_reduced', 'memcpy',
                                                   'copy_fresh', 'decode_into'])
        self._buffers = [np.frombuffer(jpeg, np.uint8) for jpeg in size.jpegs]
        self._warm = np.ones((size.height, size.width, 3), np.uint8)
        self._warm_decode = np.ones_like(self._warm)

    def start(self, run: RunContext) -> None:
        pass

    def _one_frame(self, run: RunContext, frame_index: int) -> Dict[str, float]:
        buffer, times = self._buffers[frame_index], {}
        started = time.perf_counter()
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
        times['decode'] = time.perf_counter() - started
        started = time.perf_counter()
        cv2.imdecode(buffer, SCALE_FLAGS[SCALE])
        times['decode_reduced'] = time.perf_counter() - started
        started = time.perf_counter()
        np.copyto(self._warm, image)
        times['memcpy'] = time.perf_counter() - started
        started = time.perf_counter()
        image.copy()
        times['copy_fresh'] = time.perf_counter() - started
        started = time.perf_counter()
        decoded = cv2.imread(str(self.size.paths[frame_index]), self._warm_decode,
                             cv2.IMREAD_COLOR)
        times['decode_into'] = time.perf_counter() - started
        if decoded is None or decoded.ctypes.data != self._warm_decode.ctypes.data:
            raise BenchError('cv2.imread did not decode into the buffer it was given')
        return times


class DiscoveryLane(Lane):
    """
    In this process: the provider's own watcher and feed on a volume of their own.

    watcher: rename -> VolumeWatcher callback (inotify through watchdog, auto mode as
    the provider runs it); feed: rename -> FrameFeed.on_frame, the frame read, checked
    and dated, the point where the provider starts publishing.
    """

    def __init__(self, key: str, label: str, size: Size) -> None:
        super().__init__(key, label, size, topics=['watcher', 'feed'])
        self._seen: Dict[str, Dict[str, float]] = {}
        self._event = threading.Event()
        self._watcher: Optional[VolumeWatcher] = None
        self._feed: Optional[FrameFeed] = None

    def start(self, run: RunContext) -> None:
        self.volume = BenchVolume(run.root / self.size.label.replace(' ', '') / self.key)
        live = self.volume.layout.live
        self._watcher = VolumeWatcher(live, on_frame=self._on_path, name_filter=is_frame_name)
        self._feed = FrameFeed(self.volume.layout, on_frame=self._on_frame, max_age_s=5.0)
        self._watcher.start()
        self._feed.start()

    def _record(self, name: str, what: str, at: float) -> None:
        seen = self._seen.setdefault(name, {})
        seen.setdefault(what, at)
        if len(seen) == 2:
            self._event.set()

    def _on_path(self, path: Path, seen_at: float) -> None:
        self._record(path.name, 'watcher', seen_at)

    def _on_frame(self, frame: Frame) -> None:
        self._record(frame.name, 'feed', time.time())

    def _one_frame(self, run: RunContext, frame_index: int) -> Dict[str, float]:
        self._event.clear()
        landed = self.volume.commit(self.size, frame_index)
        self._event.wait(timeout=self._timeout_s())
        self.volume.trim()
        seen = self._seen.pop(self.volume.last_name, {})
        return {what: at - landed for what, at in seen.items()}

    def close(self) -> None:
        if self._feed is not None:
            self._feed.stop()
        if self._watcher is not None:
            self._watcher.stop()


# --- phases -------------------------------------------------------------------------

def start_lanes(run: RunContext, lanes: Sequence[Lane], *, timeout_s: float) -> None:
    run.new_phase()
    for lane in lanes:
        lane.start(run)
    deadline = time.monotonic() + timeout_s
    for lane in lanes:
        lane.prepare(run, deadline)


def run_rounds(run: RunContext, lanes: Sequence[Lane], size: Size, *, warmup: int,
               frames: int, progress: str) -> None:
    for round_index in range(warmup + frames):
        order = list(lanes)
        run.rng.shuffle(order)
        frame_index = round_index % len(size.jpegs)
        for lane in order:
            lane.turn(run, round_index, frame_index, measured=round_index >= warmup)
        if round_index % 10 == 9 or round_index == warmup + frames - 1:
            print(f'  {progress}: round {round_index + 1}/{warmup + frames}',
                  file=sys.stderr, flush=True)


def stop_lanes(run: RunContext, lanes: Sequence[Lane]) -> None:
    for lane in lanes:
        try:
            lane.close()
        except Exception as error:  # noqa: B902 - stopping the rest matters more
            print(f'  closing {lane.key}: {error}', file=sys.stderr)
    for child in reversed(run.children):
        child.stop()
    run.children.clear()


def deployment_env(run: RunContext) -> Dict[str, str]:
    """Return what the shipped entry points set for themselves: profile, huge pages."""
    return dict(HUGE_PAGES_ENV, **(run.profile_env() if run.profile else {}))


def latency_lanes(run: RunContext, size: Size, *, levers: bool) -> List[Lane]:
    """
    Build the lanes of one size; levers adds the lever lanes.

    Like with like: the provider as shipped (started plainly: it puts the profile and
    huge pages in force itself) against the floor with the same two settings, both
    subscribers given them too; the provider told to use the middleware defaults against
    the floor with defaults. The `_user` lanes are mixed on purpose: the provider as
    shipped and a subscriber with nothing set, as a user's own node or rqt would be.
    The compressed lanes have floors of their own, the JPEG published as read: the
    publisher as shipped, the subscriber with the same two settings, with the defaults
    (the mix of compressed_user), or with huge pages alone.
    """
    fast = deployment_env(run)
    three = ['compressed', 'raw', 'scaled']
    lanes: List[Lane] = [
        BoundLane('bound', 'bound', size),
        DiscoveryLane('discovery', 'discovery', size),
        FloorLane('floor', 'floor, middleware defaults', size),
        FloorLane('floor_fast', 'floor, profile + huge pages', size, env=fast),
        CompressedFloorLane('floor_compressed_fast', 'compressed floor, profile + huge pages',
                            size, env=fast),
        CompressedFloorLane('floor_compressed_user', 'compressed floor, profile + huge pages '
                            '-> subscriber with defaults', size, env=fast, sub_env={},
                            mixed=True),
        CompressedFloorLane('floor_compressed_hugepages', 'compressed floor, profile + huge '
                            'pages -> subscriber with huge pages only', size, env=fast,
                            sub_env=HUGE_PAGES_ENV, mixed=True),
        NaiveLane('naive', 'naive baseline (seed design)', size),
    ]
    # jpeg_floor: compressed_defaults has no JPEG floor with the defaults, it keeps floor.
    for suffix, label, settings, jpeg_floor in (
            ('', 'as shipped', {'sub_env': fast, 'floor': 'floor_fast'},
             'floor_compressed_fast'),
            ('_defaults', 'middleware defaults', {'env': DEFAULTS_ENV}, 'floor')):
        lanes += [
            ProviderLane(f'raw{suffix}', f'image_raw, {label}', size, topics=['raw'],
                         **settings),
            ProviderLane(f'compressed{suffix}', f'image_raw/compressed, {label}', size,
                         topics=['compressed'], **dict(settings, floor=jpeg_floor)),
            ProviderLane(f'scaled{suffix}', f'image_scaled, {label}', size,
                         topics=['scaled'], **settings),
            ProviderLane(f'all{suffix}', f'all three subscribed, {label}', size,
                         topics=three, **settings)]
    user = {'sub_env': {}, 'floor': 'floor', 'mixed': True}
    lanes += [
        ProviderLane('raw_user', 'image_raw, as shipped -> subscriber with defaults', size,
                     topics=['raw'], **user),
        ProviderLane('compressed_user', 'image_raw/compressed, as shipped -> subscriber '
                     'with defaults', size, topics=['compressed'],
                     **dict(user, floor='floor_compressed_user'))]
    if levers:
        shipped = {'sub_env': fast, 'floor': 'floor_fast'}
        lanes += [
            ProviderLane('raw_profile_only', 'image_raw, profile without huge pages', size,
                         topics=['raw'], env={'FRAMEBRIDGE_HUGE_PAGES': '0'},
                         sub_env=run.profile_env(), floor='floor_fast', mixed=True),
            ProviderLane('raw_hugepages_only', 'image_raw, huge pages without the profile',
                         size, topics=['raw'], env=dict(DEFAULTS_ENV, **HUGE_PAGES_ENV),
                         sub_env=HUGE_PAGES_ENV, floor='floor_fast', mixed=True),
            ProviderLane('raw_cache2', 'image_raw, as shipped, cache_size 2 (memory)', size,
                         topics=['raw'], params={'cache_size': '2'}, **shipped),
            ProviderLane('raw_reuse', 'image_raw, as shipped + reused message buffer', size,
                         topics=['raw'], variants=['reuse'], **shipped),
        ]
    return lanes


def latency_phase(run: RunContext, size: Size, *, warmup: int, frames: int,
                  levers: bool, only: Sequence[str] = ()) -> Dict[str, Any]:
    every = latency_lanes(run, size, levers=levers)
    chosen = {lane.key for lane in every
              if not only or lane.key in only or lane.key in REQUIRED_LANES}
    chosen |= {lane.floor for lane in every if lane.key in chosen}
    lanes = [lane for lane in every if lane.key in chosen]
    print(f'{size.label}: starting {len(lanes)} lanes', file=sys.stderr, flush=True)
    try:
        start_lanes(run, lanes, timeout_s=90.0)
        run_rounds(run, lanes, size, warmup=warmup, frames=frames, progress=size.label)
        for lane in lanes:
            lane.finish()
        return lane_results(lanes, size)
    finally:
        stop_lanes(run, lanes)


def lane_results(lanes: Sequence[Lane], size: Size) -> Dict[str, Any]:
    """Turn the lanes' samples into figures (ms, MiB), the floor included."""
    by_key = {lane.key: lane for lane in lanes}
    results: Dict[str, Any] = {'size': size.label, 'width': size.width,
                               'height': size.height,
                               'jpeg_kib': statistics.mean(len(j) for j in size.jpegs) / 1024,
                               'lanes': {}}
    bound = by_key['bound']
    for lane in lanes:
        entry: Dict[str, Any] = {'label': lane.label, 'topics': {}, 'lost': lane.lost,
                                 'turns': lane.turns, 'floor': lane.floor,
                                 'mixed': lane.mixed,
                                 'cpu_ms_per_frame': {
                                     role: 1000 * cpu / max(1, lane.turns)
                                     for role, cpu in lane.cpu_s.items()},
                                 'memory_mb': lane.memory}
        for topic, values in lane.latency_ms.items():
            entry['topics'][topic] = summary(values)
        if isinstance(lane, FloorLane):
            entry['carries'] = lane.CARRIES
            entry['fill'] = summary(lane.fill_ms)
            entry['publish_call'] = summary(lane.publish_ms)
            entry['topics']['floor_total'] = summary(lane.floor_total_ms(bound))
        if isinstance(lane, ProviderLane):
            entry['diagnostics'] = lane.diagnostics
            entry['commit_ms'] = summary([1000 * s for s in lane.volume.commit_s])
        results['lanes'][lane.key] = entry
    return results


def resources_phase(run: RunContext, size: Size, *, files: int, idle_s: float,
                    frames: int, levers: bool) -> Dict[str, Any]:
    """Idle CPU of the provider, and its memory with 0 and with `files` frames in live/."""
    topics = ['raw', 'scaled']
    lanes = [ProviderLane('mem_empty', 'live/ empty, as shipped', size, topics=topics),
             ProviderLane('mem_files', f'{files} files in live/, as shipped', size,
                          topics=topics, stale_files=files),
             ProviderLane('mem_files_defaults', f'{files} files, middleware defaults', size,
                          topics=topics, stale_files=files, env=DEFAULTS_ENV)]
    if levers:
        lanes += [ProviderLane('mem_files_events', f'{files} files, watch_mode events', size,
                               topics=topics, stale_files=files,
                               params={'watch_mode': 'events'})]
    print(f'resources: {files} files, {idle_s:g} s idle, {frames} frames',
          file=sys.stderr, flush=True)
    try:
        start_lanes(run, lanes, timeout_s=90.0)
        run_rounds(run, lanes, size, warmup=1, frames=0, progress='resources warm-up')
        idle_before = {lane.key: lane.children['provider'].cpu_s() for lane in lanes}
        sub_before = {lane.key: lane.children['sub'].cpu_s() for lane in lanes}
        started = time.monotonic()
        time.sleep(idle_s)  # the measurement window itself: nothing arrives meanwhile
        elapsed = time.monotonic() - started
        idle = {lane.key: {
            'provider_percent': 100 * (lane.children['provider'].cpu_s()
                                       - idle_before[lane.key]) / elapsed,
            'subscriber_percent': 100 * (lane.children['sub'].cpu_s()
                                         - sub_before[lane.key]) / elapsed,
            'provider_rss_mb': lane.children['provider'].memory_mb()['VmRSS']}
            for lane in lanes}
        run_rounds(run, lanes, size, warmup=0, frames=frames, progress='resources frames')
        result = {'files': files, 'idle_s': elapsed, 'frames': frames, 'lanes': {}}
        for lane in lanes:
            lane.finish()
            result['lanes'][lane.key] = dict(
                idle[lane.key], label=lane.label,
                provider_peak_rss_mb=lane.memory['provider']['VmHWM'],
                provider_rss_after_mb=lane.memory['provider']['VmRSS'],
                latency=summary(lane.latency_ms['raw']), lost=lane.lost)
        return result
    finally:
        stop_lanes(run, lanes)


SUSTAINED = {
    # key: (label, provider environment, subscriber environment); None = deployment_env
    'sustained': ('as shipped -> subscriber with defaults (nothing set by hand)', {}, {}),
    'sustained_defaults': ('middleware defaults', DEFAULTS_ENV, {}),
    'sustained_fast': ('as shipped -> subscriber with profile + huge pages', {}, None),
}


def sustained_phase(run: RunContext, size: Size, *, fps: float, duration_s: float,
                    key: str = 'sustained') -> Dict[str, Any]:
    """Frames at a fixed rate through provider + one subscriber of all three topics."""
    label, env, sub_env = SUSTAINED[key]
    lane = ProviderLane(key, label, size, topics=['compressed', 'raw', 'scaled'],
                        keep=int(3 * fps), env=env,
                        sub_env=deployment_env(run) if sub_env is None else sub_env)
    print(f'sustained: {fps:g} fps for {duration_s:g} s at {size.label}, {lane.label}',
          file=sys.stderr, flush=True)
    try:
        start_lanes(run, [lane], timeout_s=90.0)
        run_rounds(run, [lane], size, warmup=2, frames=0, progress='sustained warm-up')
        diagnostics_before = lane.read_diagnostics()
        names = {TOPICS[topic][0]: topic for topic in lane.topics}
        landed_at: Dict[int, float] = {}
        arrivals: Dict[str, Dict[int, float]] = {topic: {} for topic in lane.topics}
        duplicates = {topic: 0 for topic in lane.topics}
        cpu_before = {role: child.cpu_s() for role, child in lane.children.items()}
        started = time.monotonic()
        count = int(round(duration_s * fps))

        def take(until: float) -> None:
            for _, line in pump(lane.children.values(), until):
                words = line.split()
                if len(words) != 4 or words[0] != 'R' or words[1] not in names:
                    continue
                micros = round(int(words[2]) / 1e3)
                topic = names[words[1]]
                for key in (micros, micros - 1, micros + 1):  # float rounding either way
                    if key in landed_at:
                        if key in arrivals[topic]:
                            duplicates[topic] += 1  # the same frame again (a re-match)
                        else:
                            arrivals[topic][key] = 1000 * (int(words[3]) / 1e9
                                                           - landed_at[key])
                        break

        for index in range(count):
            slot = started + index / fps
            while time.monotonic() < slot:
                take(slot)
            landed = lane.volume.commit(size, index % len(size.jpegs))
            landed_at[round(landed * 1e6)] = landed
            lane.volume.trim()
        drain = time.monotonic() + 3.0
        while time.monotonic() < drain and min(len(v) for v in arrivals.values()) < count:
            take(drain)
        elapsed = time.monotonic() - started
        cpu = {role: 100 * (child.cpu_s() - cpu_before[role]) / elapsed
               for role, child in lane.children.items()}
        lane.finish()
        after = lane.diagnostics

        def counter(values: Dict[str, str], key: str) -> int:
            try:
                return int(values.get(key, 0))
            except ValueError:
                return 0

        skipped = {key: counter(after, key) - counter(diagnostics_before, key)
                   for key in after if key.startswith('skipped_')}
        return {'label': lane.label, 'fps': fps, 'duration_s': duration_s, 'committed': count,
                'received': {topic: len(values) for topic, values in arrivals.items()},
                'latency': {topic: summary(list(values.values()))
                            for topic, values in arrivals.items()},
                'duplicates': duplicates,
                'policy_skips': skipped, 'cpu_percent': cpu,
                'memory_mb': lane.memory, 'diagnostics': after}
    finally:
        stop_lanes(run, [lane])


# --- report -------------------------------------------------------------------------

def machine() -> Dict[str, str]:
    model = ''
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    try:
        versions = ', '.join(
            f'{name} {importlib.metadata.version(dist)}' for name, dist in (
                ('rclpy', 'ros-jazzy-rclpy'), ('Fast DDS', 'ros-fastrtps'),
                ('numpy', 'numpy')))
    except importlib.metadata.PackageNotFoundError:
        versions = ''
    return {'cpu': f'{os.cpu_count()} cores, {model}', 'kernel': platform.release(),
            'python': platform.python_version(), 'opencv': cv2.__version__,
            'versions': versions, 'thp': _read('/sys/kernel/mm/transparent_hugepage/enabled')}


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return '?'


def _ms(value: float) -> str:
    return '-' if value is None or math.isnan(value) else (
        f'{value:.1f}' if value < 100 else f'{value:.0f}')


def _ratio(value: float, reference: float) -> str:
    if any(v is None or math.isnan(v) or v == 0 for v in (value, reference)):
        return '-'
    return f'{value / reference:.2f}x'


def _cpu(entry: Dict[str, Any], *roles: str) -> str:
    values = [entry['cpu_ms_per_frame'][r] for r in roles if r in entry['cpu_ms_per_frame']]
    return _ms(sum(values)) if values else '-'


def _mem(entry: Dict[str, Any], role: str) -> str:
    memory = entry['memory_mb'].get(role)
    return f'{memory["VmHWM"]:.0f}' if memory else '-'


FLOOR_NAMES = {'floor': 'defaults', 'floor_fast': 'profile + huge pages',
               'floor_compressed_fast': 'JPEG, profile + huge pages',
               'floor_compressed_user': 'JPEG, mixed: subscriber with defaults',
               'floor_compressed_hugepages': 'JPEG, mixed: subscriber with huge pages only'}


def _floor_median(lanes: Dict[str, Any], key: str) -> float:
    entry = lanes.get(key)
    return entry['topics']['floor_total']['median'] if entry else math.nan


def latency_table(result: Dict[str, Any]) -> List[str]:
    """Markdown table of one size: every lane, ratios to its floor and to the naive."""
    lanes = result['lanes']
    naive = lanes['naive']['topics']['raw']['median']
    out = [f'### {result["size"]} ({result["width"]}x{result["height"]}, JPEG '
           f'{result["jpeg_kib"]:.0f} KiB), {lanes["raw"]["turns"]} frames per lane',
           '',
           '| path | median ms | p95 ms | max ms | / floor | floor compared with '
           '| naive / this | lost | CPU ms/frame pub+sub | peak RSS MiB pub / sub |',
           '| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |']

    def row(label: str, stats: Dict[str, float], *, entry: Optional[Dict] = None,
            lost: Any = '', versus_naive: bool = True, pub_role: str = 'provider',
            floor_key: str = 'floor', mixed: bool = False) -> None:
        median = stats['median']
        cpu = _cpu(entry, pub_role, 'sub') if entry else ''
        memory = f'{_mem(entry, pub_role)} / {_mem(entry, "sub")}' if entry else ''
        floor_mixed = lanes.get(floor_key, {}).get('mixed', False)  # then mixed alike
        compared = FLOOR_NAMES[floor_key] + (
            ' (mixed settings)' if mixed and not floor_mixed else '')
        out.append(f'| {label} | {_ms(median)} | {_ms(stats["p95"])} | {_ms(stats["max"])} '
                   f'| {_ratio(median, _floor_median(lanes, floor_key))} | {compared} | '
                   f'{_ratio(naive, median) if versus_naive else ""} | {lost} | {cpu} '
                   f'| {memory} |')

    bound = lanes['bound']['topics']
    row('bound: cv2.imdecode, full size', bound['decode'], versus_naive=False)
    row(f'bound: cv2.imdecode, DCT-reduced 1/{int(1 / SCALE)}', bound['decode_reduced'],
        versus_naive=False)
    row('bound: memcpy of the decoded frame (warm buffer)', bound['memcpy'],
        versus_naive=False)
    row('(the same copy into a fresh buffer: page faults)', bound['copy_fresh'],
        versus_naive=False)
    row('(cv2.imread of the file into a warm buffer, dst=)', bound['decode_into'],
        versus_naive=False)
    for key in FLOOR_NAMES:
        if key not in lanes:
            continue
        entry = lanes[key]
        tag = f', {FLOOR_NAMES[key]}'
        same = {'versus_naive': False, 'floor_key': key}
        measured = {'entry': entry, 'lost': entry['lost']['floor'], 'pub_role': 'pub'}
        if entry['carries'] == 'JPEG':
            row(f'**floor{tag}** = bare publish-to-receive of the JPEG',
                entry['topics']['floor_total'], **measured, **same)
            fill = 'the build (compressed_msg, the bytes uncopied)'
        else:
            row(f'**floor{tag}** = decode + publish-to-receive',
                entry['topics']['floor_total'], **same)
            row(f'  publish-to-receive, fill from bytes included{tag}',
                entry['topics']['floor'], **measured, **same)
            fill = 'the fill (`msg.data = image.tobytes()`)'
        row(f'  of which {fill}{tag}', entry['fill'], **same)
        row(f'  of which the publish() call{tag}', entry['publish_call'], **same)
    if 'discovery' in lanes:
        seen = lanes['discovery']['topics']
        row('rename -> VolumeWatcher callback (in-process)', seen['watcher'],
            lost=lanes['discovery']['lost']['watcher'], versus_naive=False)
        row('rename -> FrameFeed.on_frame: read, checked (in-process)', seen['feed'],
            lost=lanes['discovery']['lost']['feed'], versus_naive=False)
    entry = lanes['naive']
    row('naive baseline: 1 s poll, imread, publish (defaults)', entry['topics']['raw'],
        entry=entry, lost=entry['lost']['raw'], pub_role='pub')
    for key, entry in lanes.items():
        if key in ('bound', 'discovery', 'naive', *FLOOR_NAMES):
            continue
        for topic, stats in entry['topics'].items():
            if len(entry['topics']) > 1:
                label = f'{entry["label"]}: {TOPICS[topic][0]}'
            else:
                label = entry['label']
            row(label, stats, entry=entry, lost=entry['lost'][topic],
                floor_key=entry['floor'], mixed=entry['mixed'])
    return out


def headline_table(sizes: List[Dict[str, Any]]) -> List[str]:
    """Markdown: file landed -> received, like with like, as the README shows it."""
    header = ' | '.join(f'{result["size"]} {name}' for result in sizes
                        for name in ('defaults', 'as shipped'))
    out = ['### Headline: file landed -> received in another process, median ms', '',
           f'| | {header} |', '| --- |' + ' ---: |' * (2 * len(sizes))]
    # (label, lane of each column, topic (None: a floor), floor of each column's ratio)
    like = ('floor', 'floor_fast')
    rows = [('floor: decode + bare publish-to-receive', like, None, ()),
            ('camera/image_raw (/ floor)', ('raw_defaults', 'raw'), 'raw', like),
            ('floor: bare publish-to-receive of the JPEG', (None, 'floor_compressed_fast'),
             None, ()),
            ('camera/image_raw/compressed (/ floor of the JPEG)',
             ('compressed_defaults', 'compressed'), 'compressed',
             (None, 'floor_compressed_fast')),
            ('camera/image_scaled', ('scaled_defaults', 'scaled'), 'scaled', ()),
            ('image_raw, subscriber with defaults (mixed)', (None, 'raw_user'), 'raw', like),
            ('floor of the JPEG, subscriber with defaults (mixed)',
             (None, 'floor_compressed_user'), None, ()),
            ('image_raw/compressed, subscriber with defaults (mixed; / floor of the JPEG)',
             (None, 'compressed_user'), 'compressed', (None, 'floor_compressed_user'))]
    for label, keys, topic, floors in rows:
        cells = []
        for result in sizes:
            lanes = result['lanes']
            for column, key in enumerate(keys):
                entry = lanes.get(key) if key else None
                floor_key = floors[column] if floors else None
                if entry is None:
                    cells.append('')
                elif topic is None:
                    cells.append(_ms(_floor_median(lanes, key)))
                elif floor_key is None:
                    cells.append(_ms(entry['topics'][topic]['median']))
                else:
                    median = entry['topics'][topic]['median']
                    ratio = _ratio(median, _floor_median(lanes, floor_key))
                    cells.append(f'{_ms(median)} ({ratio})')
        out.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    naive = ' | '.join(f'{_ms(r["lanes"]["naive"]["topics"]["raw"]["median"])} | '
                       for r in sizes)
    out.append(f"| the seed's design (1 s poll, imread, publish; defaults) | {naive}|")
    return out


def resources_table(result: Dict[str, Any]) -> List[str]:
    out = [f'### Provider at rest and with {result["files"]} files in live/ (1080p, '
           f'{result["frames"]} frames to image_raw + image_scaled after '
           f'{result["idle_s"]:.0f} s idle)', '',
           '| live/ | idle CPU % of a core | RSS at rest MiB | peak RSS after frames MiB '
           '| RSS after frames MiB | latency median ms |',
           '| --- | ---: | ---: | ---: | ---: | ---: |']
    for entry in result['lanes'].values():
        out.append(f'| {entry["label"]} | {entry["provider_percent"]:.2f} '
                   f'| {entry["provider_rss_mb"]:.0f} | {entry["provider_peak_rss_mb"]:.0f} '
                   f'| {entry["provider_rss_after_mb"]:.0f} '
                   f'| {_ms(entry["latency"]["median"])} |')
    return out


def sustained_table(result: Dict[str, Any]) -> List[str]:
    out = [f'### Sustained {result["fps"]:g} fps at 1080p for {result["duration_s"]:g} s, '
           f'one subscriber of all three topics, {result["label"]}', '',
           '| topic | committed | received | lost | median ms | p95 ms | max ms |',
           '| --- | ---: | ---: | ---: | ---: | ---: | ---: |']
    for topic, received in result['received'].items():
        stats = result['latency'][topic]
        out.append(f'| {TOPICS[topic][0]} | {result["committed"]} | {received} '
                   f'| {result["committed"] - received} | {_ms(stats["median"])} '
                   f'| {_ms(stats["p95"])} | {_ms(stats["max"])} |')
    skips = ', '.join(f'{k} {v}' for k, v in result['policy_skips'].items() if v) or 'none'
    cpu = ', '.join(f'{role} {value:.0f} %' for role, value in result['cpu_percent'].items())
    duplicates = ', '.join(f'{TOPICS[k][0]} {v}' for k, v in result['duplicates'].items()
                           if v) or 'none'
    out += ['', f'Skips the provider chose (diagnostics): {skips}. Frames received twice: '
            f'{duplicates}. CPU of a core: {cpu}.']
    return out


def targets_table(sizes: List[Dict[str, Any]], resources: Optional[Dict[str, Any]],
                  sustained: Optional[List[Dict[str, Any]]]) -> List[str]:
    out = ['### Targets (issues 7 and 15)', '', '| target | measured | met |',
           '| --- | --- | :-: |']

    def line(target: str, measured: str, ok: Optional[bool]) -> None:
        out.append(f'| {target} | {measured} | {"-" if ok is None else ("yes" if ok else "no")}'
                   ' |')

    for result in sizes:
        lanes, size = result['lanes'], result['size']
        naive = lanes['naive']['topics']['raw']['median']
        for key in ('raw', 'raw_defaults'):  # like with like
            if key in lanes:
                floor_key = lanes[key]['floor']
                median, floor = lanes[key]['topics']['raw']['median'], _floor_median(
                    lanes, floor_key)
                line(f'image_raw <= 1.0x floor (aim 0.8x), {size}, {lanes[key]["label"]}, '
                     f'floor with {FLOOR_NAMES[floor_key]}',
                     f'{_ms(median)} ms = {_ratio(median, floor)} of {_ms(floor)} ms',
                     median <= floor)
        for key, topic in (('raw', 'raw'), ('raw_user', 'raw'), ('raw_defaults', 'raw'),
                           ('scaled', 'scaled'), ('compressed', 'compressed'),
                           ('compressed_user', 'compressed')):
            if key in lanes:
                median = lanes[key]['topics'][topic]['median']
                line(f'>= 10x lower median than naive, {lanes[key]["label"]}, {size}',
                     f'naive {_ms(naive)} ms / {_ms(median)} ms = {_ratio(naive, median)}',
                     naive >= 10 * median)
        if result['width'] * result['height'] > 10e6:
            for key, limit in (('compressed_user', 15.0), ('compressed', 15.0),
                               ('compressed_defaults', 30.0)):
                if key in lanes:
                    median = lanes[key]['topics']['compressed']['median']
                    line(f'{lanes[key]["label"]} <= {limit:g} ms median at 12 MP',
                         f'{_ms(median)} ms', median <= limit)
        if 'discovery' in lanes:
            seen = lanes['discovery']['topics']['watcher']['median']
            reported = lanes['raw'].get('diagnostics', {}).get(
                'discovery_latency_median_ms', '-')
            line(f'discovery (rename -> watcher callback) median < 5 ms, {size}',
                 f'{_ms(seen)} ms (the provider diagnostic, from the file ctime, said '
                 f'{reported} ms)', seen < 5.0)
    if resources:
        for entry in resources['lanes'].values():
            line(f'provider idle < 1 % of a core, {entry["label"]}',
                 f'{entry["provider_percent"]:.2f} %', entry['provider_percent'] < 1.0)
        empty = resources['lanes']['mem_empty']['provider_peak_rss_mb']
        full = resources['lanes']['mem_files']['provider_peak_rss_mb']
        line(f'memory independent of {resources["files"]} files in live/, as shipped',
             f'peak RSS {empty:.0f} MiB empty vs {full:.0f} MiB', abs(full - empty) < 20)
    for result in sustained or []:
        lost = max(result['committed'] - received for received in result['received'].values())
        unexplained = lost - sum(result['policy_skips'].values())
        line(f'sustained {result["fps"]:g} fps 1080p, {result["duration_s"]:g} s, no frame '
             f'lost on any image topic, {result["label"]}',
             f'{lost} of {result["committed"]} lost on the worst topic ({unexplained} beyond '
             "the provider's own skips)", lost <= 0)
    return out


def print_report(report: Dict[str, Any], command: str) -> None:
    lines = [f'Command: `{command}`', '',
             f'Machine: {report["machine"]["cpu"]}; Linux {report["machine"]["kernel"]}; '
             f'Python {report["machine"]["python"]}; OpenCV {report["machine"]["opencv"]}; '
             f'{report["machine"]["versions"]}; THP {report["machine"]["thp"]}; load '
             f'average {report["load_before"]} before, {report["load_after"]} after; '
             f'{report["elapsed_s"]:.0f} s.', '']
    lines += [f'frame_provider started as {report["provider"]}, nothing set in its '
              'environment ("as shipped"), or with FRAMEBRIDGE_DDS_PROFILE=default '
              '("middleware defaults").', '']
    if report['sizes']:
        lines += headline_table(report['sizes']) + ['']
    for result in report['sizes']:
        lines += latency_table(result) + ['']
    if report.get('resources'):
        lines += resources_table(report['resources']) + ['']
    for result in report.get('sustained') or []:
        lines += sustained_table(result) + ['']
    lines += targets_table(report['sizes'], report.get('resources'), report.get('sustained'))
    print('\n'.join(lines), flush=True)


# --- main ---------------------------------------------------------------------------

def _sizes(text: str) -> List[Tuple[int, int]]:
    sizes = []
    for item in text.split(','):
        width, _, height = item.strip().partition('x')
        sizes.append((int(width), int(height)))
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    parser.add_argument('--quick', action='store_true',
                        help='smoke run: few frames, short idle and sustained runs, no levers')
    parser.add_argument('--frames', type=int, help='measured frames per lane (50; quick 6)')
    parser.add_argument('--warmup', type=int, help='unmeasured frames first (3; quick 2)')
    parser.add_argument('--sizes', default='1920x1080,4056x3040', help='WxH,WxH')
    parser.add_argument('--quality', type=int, default=95)
    parser.add_argument('--levers', action=argparse.BooleanOptionalAction, default=None,
                        help='also measure the lever lanes (default: on, off with --quick)')
    parser.add_argument('--profile', type=Path, default=DEFAULT_PROFILE,
                        help='Fast DDS XML profile of the floor and subscribers given '
                        'the shipped settings (the provider finds its own)')
    parser.add_argument('--provider', choices=['auto', 'installed', 'module'],
                        default='auto', help='start frame_provider as the installed console '
                        'script (auto: when built) or with python -m')
    parser.add_argument('--idle-s', type=float, help='idle window (20; quick 3)')
    parser.add_argument('--files', type=int, default=10000, help='stale files in live/')
    parser.add_argument('--sustain-s', type=float, help='sustained run (60; quick 5)')
    parser.add_argument('--sustain-fps', type=float, default=10.0)
    parser.add_argument('--skip', default='', help='comma list of: latency,resources,sustained')
    parser.add_argument('--lanes', default='',
                        help='comma list of latency lanes to run (default all; '
                        f'{", ".join(REQUIRED_LANES)} always run, and the floor each '
                        'lane chosen is compared with)')
    parser.add_argument('--json', type=Path, help='also write every figure here')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    parser.add_argument(COMPRESSED_FLOOR_FLAG, nargs='+', metavar='JPEG',
                        help=argparse.SUPPRESS)  # a process of the run, not for people
    return parser


def provider_command(which: str) -> Tuple[List[str], Dict[str, str], str]:
    """
    Return how to start frame_provider: argv, environment and a description.

    installed: the console script `ros2 run framebridge_ros frame_provider` runs, with
    the environment `. .colcon/install/setup.sh` gives it (make build installs it);
    module: python -m framebridge_ros.nodes.frame_provider from this tree.
    """
    script = INSTALL / 'framebridge_ros' / 'lib' / 'framebridge_ros' / 'frame_provider'
    site = sorted((INSTALL / 'framebridge_ros' / 'lib').glob('python3*/site-packages'))
    if which in ('installed', 'auto') and script.exists() and site:
        env = {'PYTHONPATH': os.pathsep.join(filter(None, [
                   str(site[0]), os.environ.get('PYTHONPATH')])),
               'AMENT_PREFIX_PATH': os.pathsep.join(filter(None, [
                   str(INSTALL / 'framebridge_ros'), os.environ.get('AMENT_PREFIX_PATH')]))}
        return [str(script)], env, f'the installed console script {script.relative_to(REPO)}'
    if which == 'installed':
        raise SystemExit(f'no installed console script at {script}: run `make build`')
    return ([sys.executable, '-m', 'framebridge_ros.nodes.frame_provider'], {},
            'python -m framebridge_ros.nodes.frame_provider')


def _terminate(signum, frame) -> None:
    raise SystemExit(f'stopped by signal {signum}')


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.compressed_floor_publisher:
        publish_compressed_floor(args.compressed_floor_publisher)
        return 0
    quick = args.quick
    frames = args.frames or (6 if quick else 50)
    warmup = args.warmup if args.warmup is not None else (2 if quick else 3)
    levers = (not quick) if args.levers is None else args.levers
    idle_s = args.idle_s or (3.0 if quick else 20.0)
    sustain_s = args.sustain_s or (5.0 if quick else 60.0)
    skip = set(filter(None, args.skip.split(',')))
    profile = args.profile if args.profile and args.profile.is_file() else None
    # A DDS domain range of this run only, discovery on this host only: set before any
    # rclpy context exists, inherited by every process this benchmark starts.
    # Above the ids the test runs take (FRAMEBRIDGE_TEST_DOMAIN_ID, 100 to 120 here): a
    # stranger's ChangeState in a lane's domain ends its provider. 131..179, 35 lanes above.
    base_domain = 131 + (os.getpid() % 3) * 24
    os.environ['ROS_DOMAIN_ID'] = str(base_domain)
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    # Nothing set by hand: what this shell has set must not decide the figures.
    env = {key: value for key, value in os.environ.items()
           if key not in CLEARED_ENV and not key.startswith('FRAMEBRIDGE_')}
    env['PYTHONUNBUFFERED'] = '1'
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(REPO), env.get('PYTHONPATH')]))
    signal.signal(signal.SIGTERM, _terminate)
    root = Path(tempfile.mkdtemp(prefix='fb-handoff-bench-'))
    log_dir = root / 'logs'
    log_dir.mkdir()
    command, provider_env, started_as = provider_command(args.provider)
    run = RunContext(root=root, log_dir=log_dir, python=sys.executable, base_env=env,
                     profile=profile, rng=random.Random(7), base_domain=base_domain,
                     provider_command=command, provider_env=provider_env)
    started = time.monotonic()
    report: Dict[str, Any] = {'machine': machine(), 'load_before': _load(),
                              'frames': frames, 'warmup': warmup, 'sizes': [],
                              'provider': started_as}
    print(f'work directory {root}; DDS domains from {base_domain}', file=sys.stderr)
    failed = False
    try:
        sizes = [make_size(w, h, quality=args.quality, count=4, out_dir=root)
                 for w, h in _sizes(args.sizes)]
        if 'latency' not in skip:
            for size in sizes:
                report['sizes'].append(latency_phase(
                    run, size, warmup=warmup, frames=frames, levers=levers,
                    only=[key for key in args.lanes.split(',') if key]))
        small = sizes[0]
        if 'resources' not in skip:
            report['resources'] = resources_phase(
                run, small, files=args.files, idle_s=idle_s, frames=12 if quick else 20,
                levers=levers)
        if 'sustained' not in skip:
            report['sustained'] = []
            keys = list(SUSTAINED) if levers and profile else [
                'sustained', 'sustained_defaults']
            for key in keys:
                report['sustained'].append(sustained_phase(
                    run, small, fps=args.sustain_fps, duration_s=sustain_s, key=key))
    except BenchError as error:
        print(f'benchmark failed: {error}', file=sys.stderr)
        failed = True
    finally:
        for child in reversed(run.children):
            child.stop()
        report['elapsed_s'] = time.monotonic() - started
        report['load_after'] = _load()
        if not args.keep and not failed:
            shutil.rmtree(root, ignore_errors=True)
        elif failed:
            print(f'logs kept in {log_dir}', file=sys.stderr)
    if report['sizes'] or report.get('resources') or report.get('sustained'):
        command = ' '.join(['.venv/bin/python -m bench.handoff'] + list(
            sys.argv[1:] if argv is None else argv))
        try:
            print_report(report, command)
        except (KeyError, ValueError) as error:  # a partial run: the figures are in the JSON
            print(f'(report incomplete: {error!r})', file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 1 if failed else 0


def _load() -> str:
    return ' '.join(_read('/proc/loadavg').split()[:3])


if __name__ == '__main__':
    sys.exit(main())
