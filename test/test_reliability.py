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
Faults of issue 8 not injected elsewhere, each for real, with the figures they measure.

- clock jumps: frames dated in the future by a host clock that jumped forward must not
  blind the provider (or the supervisor) once the clock is right again; a capture_time
  far in the past is stale however fresh the file's mtime;
- a node stuck in a callback: a real lifecycle process whose executor is blocked; the
  supervisor reports it down without hanging itself, and sees it come back;
- DDS discovery delayed both ways: a subscriber up before the provider's process and a
  new participant that joins after frames have flowed both get fresh frames only;
- hostile metadata: a 1 GiB sparse file, a 250 KiB object of many keys and a deeply
  nested document leave the provider up, deriving metadata, its memory bounded; a FIFO
  named like a metadata file must not hang it;
- paths: a metadata file or metadata/ itself symlinked out of the volume is never read.

`pytest -s test/test_reliability.py` prints the measured times; docs/RELIABILITY.md
holds them.
"""

import json
import os
from pathlib import Path
import subprocess
import sys
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
import framebridge_ros
from framebridge_ros.core.volume.frames import FrameRejected, load_frame
from framebridge_ros.core.volume.layout import frame_stem
from framebridge_ros.core.volume.metadata import build_metadata, dump_metadata
from framebridge_ros.core.volume.retention import trim_live
from framebridge_ros.nodes.frame_provider import FrameProvider
from framebridge_ros.nodes.supervisor import Supervisor
from framebridge_ros.ros_glue import frame_qos, latched_qos, LEVEL_NAMES, stamp_to_epoch
from framebridge_testing import (
    Collector, encode, FrameLanding, Spinner, test_image, wait_for, write_frame)
import pytest
import rclpy
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage
from std_msgs.msg import String
from std_srvs.srv import Trigger

COMPRESSED, METADATA = 'camera/image_raw/compressed', 'camera/metadata'
PACKAGE_ROOT = Path(framebridge_ros.__file__).resolve().parents[1]
MAX_AGE_S = 2.0
# Supervisor periods short enough for seconds-long tests; the logic is the same as at
# the defaults (1 s polls, 5 s deadline), which multiply the figures accordingly.
FAST = {'monitor_period_s': 0.1, 'health_period_s': 0.25, 'service_timeout_s': 2.0,
        'transition_timeout_s': 10.0, 'startup_timeout_s': 20.0,
        'restart_backoff_base_s': 0.4, 'restart_backoff_max_s': 8.0}

# A lifecycle node whose only timer callback does not return while a file exists: its
# single-threaded executor (rclpy.spin, as every framebridge main() uses) then serves
# nothing else, lifecycle services included, the way a callback stuck on I/O would.
STUCK_NODE = """
import os, sys, time
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode

class Stuck(LifecycleNode):
    def __init__(self, block_file):
        super().__init__('stuck_fixture')
        self.block_file = block_file
        self.create_timer(0.05, self.tick)

    def tick(self):
        while os.path.exists(self.block_file):
            time.sleep(0.01)

rclpy.init(args=sys.argv)
node = Stuck(sys.argv[1])
try:
    rclpy.spin(node)
except (KeyboardInterrupt, ExternalShutdownException):
    pass
finally:
    node.destroy_node()
    rclpy.try_shutdown()
"""


def _child_env():
    return dict(os.environ, PYTHONUNBUFFERED='1', PYTHONPATH=os.pathsep.join(
        filter(None, [str(PACKAGE_ROOT), os.environ.get('PYTHONPATH')])))


@pytest.fixture
def processes(tmp_path):
    """Yield a function that starts a real process, logging to tmp_path; all end with the test."""
    started = []

    def start(argv, name):
        with open(tmp_path / f'{name}.log', 'wb') as log:
            process = subprocess.Popen(argv, env=_child_env(), stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _provider_process(start, volume, name='frame_provider', max_age_s=MAX_AGE_S):
    """Run frame_provider in its own process, brought to active by `framebridge run`."""
    return start([sys.executable, '-m', 'framebridge_ros.cli', 'run', '--nodes', 'provider',
                  '--capture-dir', str(volume.root), '--param', 'min_file_bytes:=100',
                  '--param', f'max_age_s:={max_age_s}', '--param', 'poll_interval_s:=0.2',
                  '--status-period', '3600'], name)


def _until_a_first_frame(volume, collector, topic, timeout_s=30.0):
    """
    Write a frame every 3 s until one arrives on topic (a provider process starting up).

    On a loaded machine the process can take longer to come up than a frame stays fresh
    (max_age_s 2), and DDS discovery can outlast a frame's 2 s lifespan.
    """
    deadline = time.monotonic() + timeout_s
    while not collector.count(topic):
        assert time.monotonic() < deadline, f'no first frame on {topic} within {timeout_s} s'
        write_frame(volume)
        retry_at = time.monotonic() + 3
        while not collector.count(topic) and time.monotonic() < retry_at:
            time.sleep(0.01)


@pytest.fixture
def provider_graph(rclpy_context, volume):
    """Start an active in-process provider and a collector; yield (provider, collector)."""
    provider = FrameProvider(context=rclpy_context, parameter_overrides=[
        Parameter(name, value=value) for name, value in (
            ('capture_dir', str(volume.root)), ('max_age_s', MAX_AGE_S),
            ('min_file_bytes', 100), ('watch_mode', 'auto'), ('poll_interval_s', 0.1))])
    assert provider.trigger_configure() == TransitionCallbackReturn.SUCCESS
    collector = Collector(rclpy_context, [(COMPRESSED, CompressedImage, frame_qos(MAX_AGE_S)),
                                          (METADATA, String, latched_qos())])
    spinner = Spinner(rclpy_context, provider, collector.node)
    wait_for(lambda: provider._compressed_pub.get_subscription_count() == 1, timeout_s=10,
             what='subscriber discovery')
    assert provider.trigger_activate() == TransitionCallbackReturn.SUCCESS
    yield provider, collector
    spinner.close()


def _ages(collector, topic):
    with collector._lock:
        return [received - stamp_to_epoch(message.header.stamp)
                for received, message in collector.messages[topic]]


def _rss_kib(pid):
    with open(f'/proc/{pid}/status') as stream:
        return next(int(line.split()[1]) for line in stream if line.startswith('VmRSS:'))


def _land(volume, *, capture_time, sequence, metadata=None, jpeg=None):
    """
    Land a JPEG the way host capture does, with the metadata file given in place first.

    metadata: text or bytes for metadata/<stem>.json, an int for a sparse file of that
    many bytes, or None for none. The JPEG is renamed into live/ last, so the provider
    never sees it before its metadata.
    """
    stem = frame_stem(capture_time=capture_time, sequence=sequence)
    target = volume.metadata / f'{stem}.json'
    if isinstance(metadata, int):
        with open(target, 'wb') as stream:
            stream.truncate(metadata)  # costs no disk
    elif isinstance(metadata, str):
        target.write_text(metadata)
    elif metadata is not None:
        target.write_bytes(metadata)
    part = volume.tmp / f'{stem}.part'
    part.write_bytes(encode(test_image()) if jpeg is None else jpeg)
    return part.rename(volume.live / f'{stem}.jpg')


# --- clock jumps ---------------------------------------------------------------------

def test_host_clock_jump_forward_then_back_does_not_blind_the_provider(
        provider_graph, volume):
    provider, collector = provider_graph
    write_frame(volume)
    wait_for(lambda: collector.count(COMPRESSED) == 1, timeout_s=10, what='a first frame')
    # The host clock jumps an hour ahead: three frames are dated then, and refused.
    for _ in range(3):
        write_frame(volume, capture_time=time.time() + 3600)
    wait_for(lambda: provider._feed.stats.rejected['future'] == 3, timeout_s=10,
             what='the future-dated frames refused')
    assert collector.count(COMPRESSED) == 1
    # NTP puts the clock right: frames are dated now again and sort before the future
    # ones. They must be published, not ignored for the hour the clock was ahead.
    corrected = time.monotonic()
    landing = FrameLanding(volume, period_s=0.1)
    try:
        wait_for(lambda: collector.count(COMPRESSED) >= 2, timeout_s=5,
                 what='a frame published after the clock was corrected')
        print(f'\nclock corrected -> first frame published {time.monotonic() - corrected:.2f} s')
    finally:
        landing.stop()
    assert max(_ages(collector, COMPRESSED)) <= MAX_AGE_S


@pytest.mark.parametrize('dated_by', ['metadata', 'name_without_metadata'])
def test_capture_time_far_in_the_past_is_stale_however_fresh_the_file(provider_graph,
                                                                      volume, dated_by):
    provider, collector = provider_graph
    now = time.time()
    hour_ago = now - 3600
    if dated_by == 'metadata':
        # The name says now, the metadata says an hour ago: the capture time wins.
        jpeg = encode(test_image())
        metadata = build_metadata(capture_time=hour_ago, sequence=600001, width=320,
                                  height=240, quality=90, jpeg=jpeg, source='test',
                                  capture_duration_s=0.0)
        _land(volume, capture_time=now, sequence=600001, metadata=dump_metadata(metadata),
              jpeg=jpeg)
    else:
        _land(volume, capture_time=hour_ago, sequence=600002)
    newest = max(volume.live.iterdir())
    os.utime(newest)  # a fresh mtime, as a copy or a touch would leave
    assert time.time() - newest.stat().st_mtime < 5
    wait_for(lambda: provider._feed.stats.rejected['stale'] >= 1, timeout_s=10,
             what='the frame refused as stale')
    write_frame(volume)
    wait_for(lambda: collector.count(COMPRESSED) == 1, timeout_s=10, what='the next frame')
    assert max(_ages(collector, COMPRESSED)) <= MAX_AGE_S


def test_future_dated_frame_does_not_keep_the_volume_fresh(rclpy_context, volume):
    """A host that wrote one frame with its clock an hour ahead, then stopped."""
    supervisor = Supervisor(context=rclpy_context, parameter_overrides=[
        Parameter('managed_nodes', Parameter.Type.STRING_ARRAY, ['']),
        Parameter('autostart', value=False), Parameter('capture_dir', value=str(volume.root)),
        Parameter('max_frame_age_s', value=1.0), Parameter('host_stale_s', value=2.0),
        Parameter('emergency_free_percent', value=0.0),
        Parameter('warn_free_percent', value=0.0),
        *[Parameter(name, value=value) for name, value in FAST.items()]])
    collector = Collector(rclpy_context, [('/diagnostics', DiagnosticArray, 50)])
    spinner = Spinner(rclpy_context, supervisor, collector.node)
    try:
        write_frame(volume)
        write_frame(volume, capture_time=time.time() + 3600)
        last_real = time.monotonic()

        def volume_level():
            with collector._lock:
                messages = list(collector.messages['/diagnostics'])
            for _, message in reversed(messages):
                for status in message.status:
                    if status.name == 'supervisor: volume':
                        return LEVEL_NAMES[status.level], status.message
            return None, ''

        wait_for(lambda: volume_level()[0] == 'ERROR', timeout_s=8,
                 what='volume ERROR although a future-dated frame sits in live/')
        print(f'\nlast real frame -> volume ERROR {time.monotonic() - last_real:.2f} s '
              f'(host_stale_s 2.0): {volume_level()[1]}')
    finally:
        spinner.close()


# --- a node stuck in a callback ------------------------------------------------------

def test_node_stuck_in_a_callback_is_reported_down_and_the_supervisor_stays_responsive(
        rclpy_context, tmp_path, processes):
    block = tmp_path / 'block'
    processes([sys.executable, '-c', STUCK_NODE, str(block), '--ros-args', '-r',
               '__node:=fixture_stuck'], 'fixture_stuck')
    supervisor = Supervisor(context=rclpy_context, parameter_overrides=[
        Parameter('managed_nodes', Parameter.Type.STRING_ARRAY, ['fixture_stuck']),
        Parameter('capture_dir', value=str(tmp_path / 'volume')),
        *[Parameter(name, value=value) for name, value in FAST.items()]])
    client_node = rclpy.create_node('stuck_test_client', context=rclpy_context)
    is_active = client_node.create_client(Trigger, '/supervisor/is_active')
    spinner = Spinner(rclpy_context, supervisor, client_node)
    record = supervisor.records['fixture_stuck']
    try:
        wait_for(lambda: record.state == 'active' and record.reachable, timeout_s=30,
                 what='the fixture brought to active')
        block.touch()  # its executor is stuck from the next timer tick (50 ms) on
        stuck = time.monotonic()
        wait_for(lambda: record.reachable is False, timeout_s=10,
                 what='the stuck node reported down')
        detection = time.monotonic() - stuck
        print(f'\nstuck callback -> reported down {detection:.2f} s '
              f'(service_timeout_s {FAST["service_timeout_s"]:g}, monitor_period_s '
              f'{FAST["monitor_period_s"]:g}): {record.unreachable_why}')
        assert 'did not answer' in record.unreachable_why
        # The supervisor itself still answers, within its own deadline, and says so.
        asked = time.monotonic()
        future = is_active.call_async(Trigger.Request())
        wait_for(future.done, timeout_s=FAST['service_timeout_s'] + 5,
                 what='~/is_active to answer while a managed node is stuck')
        print(f'~/is_active answered in {time.monotonic() - asked:.2f} s: '
              f'{future.result().message}')
        assert not future.result().success
        assert 'fixture_stuck: no answer' in future.result().message
        block.unlink()  # the callback returns: the node is back, still active
        freed = time.monotonic()
        wait_for(lambda: record.reachable and record.state == 'active', timeout_s=10,
                 what='the node seen active again')
        print(f'callback returns -> seen active again {time.monotonic() - freed:.2f} s '
              f'(restarts {record.restarts}: nothing to restart, it never left active)')
        assert record.restarts == 0
    finally:
        block.unlink(missing_ok=True)
        spinner.close()


# --- DDS discovery delayed both ways -------------------------------------------------

def test_subscribers_before_and_after_the_provider_process_get_fresh_frames_only(
        rclpy_context, volume, processes):
    topics = [(COMPRESSED, CompressedImage, frame_qos(MAX_AGE_S))]
    early = Collector(rclpy_context, topics, name='early_subscriber')
    spinners = [Spinner(rclpy_context, early.node)]
    landing = FrameLanding(volume, period_s=0.2)
    late_context = None
    try:
        started = time.monotonic()
        _provider_process(processes, volume)
        wait_for(lambda: early.count(COMPRESSED) >= 1, timeout_s=30,
                 what='the subscriber that was up first to get a frame')
        print(f'\nsubscriber first, provider process started -> first frame '
              f'{time.monotonic() - started:.2f} s')
        wait_for(lambda: early.count(COMPRESSED) >= 10, timeout_s=15,
                 what='frames flowing for a while')
        # A new DDS participant (its own context) discovers the provider afterwards.
        late_context = rclpy.Context()
        rclpy.init(context=late_context)
        joined = time.monotonic()
        late = Collector(late_context, topics, name='late_subscriber')
        spinners.append(Spinner(late_context, late.node))
        wait_for(lambda: late.count(COMPRESSED) >= 3, timeout_s=20,
                 what='the participant that joined late to get frames')
        with late._lock:
            first_at = late.messages[COMPRESSED][0][0]
        print(f'provider first, new participant -> first frame '
              f'{first_at - time.time() + time.monotonic() - joined:.2f} s')
        for collector in (early, late):
            ages = _ages(collector, COMPRESSED)
            assert max(ages) <= MAX_AGE_S, f'stale frame delivered: {max(ages):.2f} s'
    finally:
        landing.stop()
        for spinner in reversed(spinners):
            spinner.close()
        if late_context is not None:
            rclpy.try_shutdown(context=late_context)


# --- hostile metadata ----------------------------------------------------------------

def _hostile_metadata(volume, kind, sequence):
    """Land a good JPEG whose metadata file, in place first, is hostile; return its path."""
    now = time.time()
    if kind == 'sparse_1gib':
        return _land(volume, capture_time=now, sequence=sequence, metadata=1024 ** 3)
    if kind == 'wide_object':  # just under the 256 KiB limit, parsed in full
        text = json.dumps({'capture_time': now, **{f'k{i}': i for i in range(16000)}})
        assert len(text) < 256 * 1024
    else:  # deeply nested: under the size limit, deeper than any parser stack
        text = '[' * 120000 + ']' * 120000
    return _land(volume, capture_time=now, sequence=sequence, metadata=text)


def test_hostile_metadata_leaves_the_provider_up_with_bounded_memory(
        rclpy_context, volume, processes):
    # Not a freshness test: a lifespan past Fast DDS's heartbeat period (3 s) lets the
    # middleware repair a lost first send of a frame (with 2 s it failed 1 run in 3 here:
    # the frame's metadata arrived, the frame never did).
    max_age_s = 10.0
    collector = Collector(rclpy_context, [(COMPRESSED, CompressedImage, frame_qos(max_age_s)),
                                          (METADATA, String, latched_qos())])
    spinner = Spinner(rclpy_context, collector.node)
    provider = _provider_process(processes, volume, max_age_s=max_age_s)
    try:
        _until_a_first_frame(volume, collector, COMPRESSED)
        wait_for(lambda: collector.count(METADATA) == collector.count(COMPRESSED),
                 timeout_s=10, what='the first frame metadata')
        rss_before = _rss_kib(provider.pid)
        for kind in ('sparse_1gib', 'wide_object', 'deeply_nested'):
            count, described = collector.count(COMPRESSED), collector.count(METADATA)
            path = _hostile_metadata(volume, kind, 900000 + count)
            wait_for(lambda: collector.count(COMPRESSED) == count + 1
                     and collector.count(METADATA) == described + 1, timeout_s=10,
                     what=f'the frame with {kind} metadata published')
            metadata = json.loads(collector.last(METADATA).data)
            if kind == 'wide_object':
                assert 'k15999' in metadata
            else:
                assert metadata['derived'] is True and metadata['sha256']
            assert stamp_to_epoch(collector.last(COMPRESSED).header.stamp) == pytest.approx(
                metadata['capture_time'], abs=1e-3)
            print(f'\n{kind}: frame {path.name} published, metadata '
                  f'{metadata.get("derived_reason", "parsed")[:70]}')
            write_frame(volume)  # and the provider goes on with the next one
            wait_for(lambda: collector.count(COMPRESSED) == count + 2
                     and collector.count(METADATA) == described + 2, timeout_s=10,
                     what=f'the frame after the one with {kind} metadata')
            assert provider.poll() is None
        growth = _rss_kib(provider.pid) - rss_before
        print(f'provider RSS growth over the hostile files: {growth / 1024:.1f} MiB')
        assert growth < 32 * 1024
    finally:
        spinner.close()


def test_metadata_nested_just_under_the_parser_limit_does_not_crash_a_consumer(
        rclpy_context, volume, processes):
    """
    Walk the nesting depth of metadata up to where Python's parser gives up.

    A document the provider can still parse and publish (about 2 KB) but that a
    subscriber, parsing it with a deeper stack, cannot: camera/metadata must never carry
    one, and a subscriber must survive one.
    """
    collector = Collector(rclpy_context, [(METADATA, String, latched_qos())])
    spinner = Spinner(rclpy_context, collector.node)
    provider = _provider_process(processes, volume)
    sky = processes([sys.executable, '-m', 'framebridge_ros.cli', 'run', '--nodes', 'sky',
                     '--status-period', '3600'], 'sky_analyzer')
    jpeg = encode(test_image())
    try:
        _until_a_first_frame(volume, collector, METADATA)
        for depth in range(940, 1000):
            now = time.time()
            nested = '[' * depth + ']' * depth
            _land(volume, capture_time=now, sequence=800000 + depth, jpeg=jpeg,
                  metadata=f'{{"capture_time": {now!r}, "nested": {nested}}}')
            time.sleep(0.08)
            assert sky.poll() is None, f'sky_analyzer died on metadata nested {depth} deep'
        # The last document reached every subscriber: give the analyser a moment to
        # parse it too, watching it stays alive.
        wait_for(lambda: abs(json.loads(collector.last(METADATA).data)['capture_time']
                             - now) < 1e-3, timeout_s=10, what='the last metadata delivered')
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            assert sky.poll() is None, 'sky_analyzer died on deeply nested metadata'
            time.sleep(0.05)
        assert provider.poll() is None
        with collector._lock:
            published = [json.loads(message.data) for _, message in collector.messages[METADATA]]
        kept = sum('nested' in document for document in published)
        print(f'\nnested metadata: {kept} published as they were, '
              f'{len(published) - 1 - kept} replaced by derived metadata')
    finally:
        spinner.close()


def test_tiny_jpeg_claiming_a_huge_frame_is_refused_before_decoding(volume):
    """A 1.3 KB file whose header says 30000 x 30000: 2.7 GB decoded, 169 MB at 1/4."""
    data = bytearray(encode(test_image(64, 64)))
    offset = 2
    while data[offset + 1] != 0xC0:  # walk the segments to the baseline frame header
        offset += 2 + int.from_bytes(data[offset + 2:offset + 4], 'big')
    data[offset + 5:offset + 9] = (30000).to_bytes(2, 'big') * 2  # height, width
    path = _land(volume, capture_time=time.time(), sequence=700001, jpeg=bytes(data))
    with pytest.raises(FrameRejected):
        load_frame(volume, path, max_age_s=30)


def test_fifo_named_like_metadata_does_not_hang_the_reader(volume):
    path = write_frame(volume)[0]
    metadata = volume.metadata_path_for(path)
    metadata.unlink()
    os.mkfifo(metadata)  # open() of a FIFO waits for a writer that never comes
    result = []
    reader = threading.Thread(target=lambda: result.append(
        load_frame(volume, path, max_age_s=30)), daemon=True)
    reader.start()
    reader.join(timeout=3.0)
    hung = reader.is_alive()
    if hung:  # let the stuck open() return so the thread ends with the test
        os.close(os.open(metadata, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=5.0)
    assert not hung, 'load_frame blocked on a FIFO in metadata/'
    assert result and result[0].metadata['derived'] is True


# --- paths ---------------------------------------------------------------------------

@pytest.mark.parametrize('link', ['metadata_file', 'metadata_directory'])
def test_metadata_symlinked_out_of_the_volume_is_not_read(volume, tmp_path, link):
    outside = tmp_path / 'outside'
    outside.mkdir()
    path, _, metadata = write_frame(volume)
    secret = dict(metadata, secret='read from outside the volume')
    own = volume.metadata_path_for(path)
    (outside / own.name).write_text(json.dumps(secret))
    if link == 'metadata_file':
        own.unlink()
        own.symlink_to(outside / own.name)
    else:
        for item in volume.metadata.iterdir():
            item.unlink()
        volume.metadata.rmdir()
        volume.metadata.symlink_to(outside, target_is_directory=True)
    frame = load_frame(volume, path, max_age_s=30)
    assert 'secret' not in frame.metadata, 'metadata was read through a symlink out of ' \
        'the volume'
    assert frame.metadata['derived'] is True


def test_host_retention_deletes_nothing_through_a_live_directory_symlinked_out(
        volume, tmp_path):
    outside = tmp_path / 'photos'
    outside.mkdir()
    keep = outside / (frame_stem(capture_time=time.time() - 60, sequence=1) + '.jpg')
    keep.write_bytes(b'a file of someone else, named like ours')
    volume.live.rmdir()
    volume.live.symlink_to(outside, target_is_directory=True)
    trim_live(volume, max_images=0)
    assert keep.exists(), 'host retention deleted a file outside capture_dir'
