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
A filling disk, for a minute per scenario: does the camera keep delivering.

    .venv/bin/python -m bench.disk_full                 # 60 s per scenario, about 5 min
    .venv/bin/python -m bench.disk_full --seconds 15    # shorter; --quick is the same

Needs root (it mounts a 24 MiB tmpfs per scenario). host_capture, frame_provider and the
supervisor run as separate processes (`python -m framebridge_ros.nodes.<name>`) on a
ROS_DOMAIN_ID of their own; a subscriber here receives camera/image_raw/compressed and
/diagnostics. The simulated camera writes 1280x720 frames every 0.35 s, about 1 MB/s,
with host retention off (max_images 100000); the supervisor runs as the issue ran it
(health_period_s 1, emergency_free_percent 10, emergency_keep_live 50).

Scenarios:
- fill: the disk fills from empty.
- foreign: after 5 s another program grows a file to 70 % of the disk (1 MiB every
  50 ms, waiting and retrying when the disk is full) and keeps it.
- processed_full: processed/ starts full of archived frames (below 10 % free).
- plain_core: `python -m framebridge_ros.core.capture` alone, no ROS, no supervisor;
  "received" counts the distinct frames a poller saw in live/ (every 50 ms); its log
  lines per minute leave out the one INFO line per frame it prints by design.

Per scenario it prints the lowest free space (sampled every 20 ms), frames produced and
received, the longest gap between received frames, frames discarded for space, and the
log lines per minute of all processes from the start of the episode (the first low-space
or emergency line) to the end.
"""

import argparse
import os
from pathlib import Path
import re
import subprocess
import sys
import tempfile
import threading
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'test'))

from small_disk import free_bytes, MIB, mount_error  # noqa: E402 - the path set just above

SIZE_MB = 24
CAMERA = ['-p', 'source:=simulated', '-p', 'width:=1280', '-p', 'height:=720',
          '-p', 'interval_s:=0.35', '-p', 'max_images:=100000']
_LOG_LINE = re.compile(r'^\[(DEBUG|INFO|WARN|ERROR|FATAL)\] \[(\d+\.\d+)\]')
_EPISODE = re.compile(r'low space|no space left|emergency|disk full')


class FreeSpaceWatch:
    """The lowest free space, sampled every 20 ms."""

    def __init__(self, path: Path) -> None:
        self.lowest = free_bytes(path)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        while not self._stop.wait(0.02):
            try:
                self.lowest = min(self.lowest, free_bytes(path))
            except OSError:
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.lowest


def _environment() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get('PYTHONPATH', '')]),
        ROS_DOMAIN_ID=os.environ.get('FRAMEBRIDGE_TEST_DOMAIN_ID', '77'),
        ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')


def _spawn(argv, log: Path) -> subprocess.Popen:
    with open(log, 'wb') as stream:
        return subprocess.Popen(argv, env=_environment(), stdout=stream,
                                stderr=subprocess.STDOUT)


def _node(name: str, capture_dir: Path, extra, log: Path) -> subprocess.Popen:
    return _spawn([sys.executable, '-m', f'framebridge_ros.nodes.{name}', '--ros-args',
                   '-p', f'capture_dir:={capture_dir}', *extra], log)


def _log_lines(logs, *, plain: bool, ended: float, skip: str = ''):
    """Return (lines in the episode, episode length in s) over all log files."""
    stamped = []
    for log in logs:
        for line in log.read_text(errors='replace').splitlines():
            if skip and skip in line:
                continue
            if plain:
                match = re.match(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d+) ', line)
                if match:
                    moment = time.mktime(time.strptime(match.group(1), '%Y-%m-%d %H:%M:%S'))
                    stamped.append((moment + int(match.group(2)) / 1000, line))
            else:
                match = _LOG_LINE.match(line)
                if match:
                    stamped.append((float(match.group(2)), line))
    starts = [stamp for stamp, line in stamped if _EPISODE.search(line)]
    if not starts:
        return 0, 0.0
    start = min(starts)
    return sum(1 for stamp, _ in stamped if stamp >= start), max(1.0, ended - start)


class Listener:
    """Receive times of camera/image_raw/compressed and the newest host diagnostics."""

    def __init__(self) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from framebridge_ros.ros_glue import frame_qos
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import CompressedImage
        os.environ.update({key: value for key, value in _environment().items()
                           if key.startswith('ROS_')})
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('disk_full_bench', context=self.context)
        self.received, self.statuses = [], {}
        self.node.create_subscription(CompressedImage, 'camera/image_raw/compressed',
                                      lambda _: self.received.append(time.time()),
                                      frame_qos(5.0))
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_status, 50)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: B902 - shutting down
            pass

    def _on_status(self, message) -> None:
        for status in message.status:
            self.statuses[status.name] = (status.message,
                                          {pair.key: pair.value for pair in status.values})

    def close(self) -> None:
        import rclpy
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _fill_processed(capture_dir: Path) -> int:
    """Archive frames into processed/ until less than 8 % of the disk is free."""
    from framebridge_ros.core.volume.layout import VolumeLayout
    from framebridge_testing import encode, test_image, write_frame
    layout = VolumeLayout.at(capture_dir)
    layout.ensure()
    jpeg, count = encode(test_image(1280, 720), quality=95), 0
    start = time.time() - 7200
    while free_bytes(capture_dir) > 0.08 * SIZE_MB * MIB:
        path = write_frame(layout, jpeg=jpeg, capture_time=start + count,
                           sequence=count + 1)[0]
        layout.metadata_path_for(path).rename(layout.processed / (path.stem + '.json'))
        path = path.rename(layout.processed / path.name)
        for archived in (path, layout.processed / (path.stem + '.json')):
            os.utime(archived, (start + count, start + count))  # archived two hours ago
        count += 1
    return count


def _grow_foreign(path: Path, *, share: float, stop: threading.Event) -> None:
    """Another program: grows a file to share of the disk, 1 MiB at a time, and keeps it."""
    path.parent.mkdir(exist_ok=True)
    with open(path, 'wb') as stream:
        while not stop.is_set() and stream.tell() < share * SIZE_MB * MIB:
            try:
                stream.write(b'\0' * MIB)
                stream.flush()
            except OSError:
                stop.wait(0.1)
            stop.wait(0.05)
    stop.wait()


def run_graph(name: str, capture_dir: Path, seconds: float, logs_dir: Path) -> dict:
    """One scenario with the ROS graph; return its figures."""
    foreign_stop = threading.Event()
    if name == 'processed_full':
        archived = _fill_processed(capture_dir)
        print(f'  processed/ holds {archived} archived frames, '
              f'{free_bytes(capture_dir) / MIB:.1f} MiB free')
    logs = [logs_dir / f'{name}.{node}.log' for node in ('host', 'provider', 'supervisor')]
    listener = Listener()
    watch = FreeSpaceWatch(capture_dir)
    processes = [
        _node('host_capture', capture_dir, CAMERA, logs[0]),
        _node('frame_provider', capture_dir, [], logs[1]),
        _node('supervisor', capture_dir, [
            '-p', 'managed_nodes:=[frame_provider]', '-p', 'health_period_s:=1.0',
            '-p', 'emergency_free_percent:=10.0', '-p', 'emergency_keep_live:=50'], logs[2]),
    ]
    try:
        deadline = time.monotonic() + 60
        while not listener.received and time.monotonic() < deadline:
            time.sleep(0.1)
        started = time.time()
        if name == 'foreign':
            time.sleep(5.0)
            threading.Thread(target=_grow_foreign, daemon=True, kwargs={
                'path': capture_dir / 'recordings' / 'camera2.bin', 'share': 0.7,
                'stop': foreign_stop}).start()
        time.sleep(max(0.0, seconds - (time.time() - started)))
        ended = time.time()
        host = listener.statuses.get('host_capture: capture', ('', {}))[1]
        volume = listener.statuses.get('supervisor: volume', ('', {}))
    finally:
        foreign_stop.set()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        lowest = watch.stop()
        listener.close()
    received = [stamp for stamp in listener.received if stamp >= started]
    lines, episode_s = _log_lines(logs, plain=False, ended=ended)
    return {
        'lowest_free_mib': lowest / MIB,
        'produced': host.get('frames_captured', '?'),
        'received': len(received),
        'longest_gap_s': max((b - a for a, b in zip(received, received[1:])), default=0.0),
        'discarded': host.get('frames_discarded_for_space', '?'),
        'removed_by_guard': host.get('frames_removed_for_space', '?'),
        'log_lines_per_min': 60.0 * lines / episode_s if episode_s else 0.0,
        'supervisor': f'{volume[0]} | {volume[1].get("cleanup_episode", "-")}',
    }


def run_plain_core(capture_dir: Path, seconds: float, logs_dir: Path) -> dict:
    """Run the plain-Python host core alone on the filling disk; return its figures."""
    log = logs_dir / 'plain_core.log'
    process = _spawn([sys.executable, '-m', 'framebridge_ros.core.capture', '--source',
                      'simulated', '--capture_dir', str(capture_dir), '--width', '1280',
                      '--height', '720', '--interval_s', '0.35', '--max_images', '100000',
                      '--log-level', 'INFO'], log)
    watch = FreeSpaceWatch(capture_dir)
    seen, times = set(), []
    started = time.time()
    try:
        while time.time() - started < seconds:
            live = capture_dir / 'live'
            names = set(os.listdir(live)) if live.is_dir() else set()
            for name in sorted(names - seen):
                if name.endswith('.jpg'):
                    times.append(time.time())
            seen |= names
            time.sleep(0.05)
        ended = time.time()
    finally:
        process.terminate()
        process.wait(timeout=10)
        lowest = watch.stop()
    text = log.read_text(errors='replace')
    lines, episode_s = _log_lines([log], plain=True, ended=ended, skip='landed (')
    produced = re.findall(r'stopped after (\d+) frames', text)
    return {
        'lowest_free_mib': lowest / MIB,
        'produced': produced[-1] if produced else '?',
        'received': len(times),
        'longest_gap_s': max((b - a for a, b in zip(times, times[1:])), default=0.0),
        'discarded': text.count('disk full, frame discarded'),
        'removed_by_guard': '-',
        'log_lines_per_min': 60.0 * lines / episode_s if episode_s else 0.0,
        'supervisor': '(none)',
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=60.0)
    parser.add_argument('--quick', action='store_true', help='15 s per scenario')
    parser.add_argument('--scenarios', default='fill,foreign,processed_full,plain_core')
    parser.add_argument('--logs', help="keep the processes' logs in this directory")
    options = parser.parse_args(argv)
    seconds = 15.0 if options.quick else options.seconds
    print(f'load before: {os.getloadavg()[0]:.2f} (1 min average), {os.cpu_count()} cores')
    rows = []
    with tempfile.TemporaryDirectory(prefix='disk_full_') as scratch:
        for name in options.scenarios.split(','):
            capture_dir = Path(scratch) / name
            why = mount_error(capture_dir, SIZE_MB)
            if why is not None:
                print(f'cannot run: {why}')
                return 2
            try:
                print(f'{name}: {seconds:.0f} s on a {SIZE_MB} MiB tmpfs ...', flush=True)
                logs = Path(options.logs or scratch)
                logs.mkdir(parents=True, exist_ok=True)
                figures = (run_plain_core(capture_dir, seconds, logs) if name == 'plain_core'
                           else run_graph(name, capture_dir, seconds, logs))
            finally:
                subprocess.run(['umount', '-l', str(capture_dir)], check=False)
            rows.append((name, figures))
            print(f'  {figures}', flush=True)
    print(f'\nload after: {os.getloadavg()[0]:.2f}\n')
    print('| scenario | lowest free (MiB) | frames produced | received | longest gap (s) '
          '| discarded for space | deleted by the guard | log lines/min in the episode |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- |')
    for name, f in rows:
        print(f'| {name} | {f["lowest_free_mib"]:.2f} | {f["produced"]} | {f["received"]} '
              f'| {f["longest_gap_s"]:.2f} | {f["discarded"]} | {f["removed_by_guard"]} '
              f'| {f["log_lines_per_min"]:.1f} |')
    for name, f in rows:
        print(f'{name}: supervisor volume: {f["supervisor"]}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
