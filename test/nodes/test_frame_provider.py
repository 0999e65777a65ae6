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

"""frame_provider over real rclpy and DDS, with real frames in a real volume."""

import json
import logging
import shutil
import subprocess
import sys
import time

import cv2
from diagnostic_msgs.msg import DiagnosticArray
from framebridge_ros.core.health import Level
from framebridge_ros.nodes.frame_provider import FrameProvider
from framebridge_ros.ros_glue import frame_qos, latched_qos, msg_to_image, stamp_to_epoch
from framebridge_testing import Collector, encode, Spinner, test_image, wait_for, write_frame
import numpy as np
import pytest
import rclpy
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import String

RAW, COMPRESSED = 'camera/image_raw', 'camera/image_raw/compressed'
SCALED, METADATA, INFO = 'camera/image_scaled', 'camera/metadata', 'camera/camera_info'


def _topics(max_age_s):
    return [(RAW, Image, frame_qos(max_age_s)), (COMPRESSED, CompressedImage,
                                                 frame_qos(max_age_s)),
            (SCALED, Image, frame_qos(max_age_s)), (METADATA, String, latched_qos()),
            (INFO, CameraInfo, latched_qos())]


def _provider(context, volume, **overrides):
    values = {'capture_dir': str(volume.root), 'max_age_s': 5.0, 'min_file_bytes': 100,
              **overrides}
    return FrameProvider(context=context, parameter_overrides=[
        Parameter(name, value=value) for name, value in values.items()])


@pytest.fixture
def graph(rclpy_context, volume):
    """Yield a function that starts an active provider and a collector in one executor."""
    spinners = []

    def start(*, max_age_s=5.0, activate=True, collect=True, **overrides):
        provider = _provider(rclpy_context, volume, max_age_s=max_age_s, **overrides)
        assert provider.trigger_configure() == TransitionCallbackReturn.SUCCESS
        collector = Collector(rclpy_context, _topics(max_age_s)) if collect else None
        spinner = Spinner(rclpy_context, provider, *([collector.node] if collect else []))
        spinners.append(spinner)
        if collect:  # discovery first, so the test is about the provider, not DDS
            wait_for(lambda: provider._raw_pub.get_subscription_count() == 1
                     and provider._metadata_pub.get_subscription_count() == 1,
                     timeout_s=10, what='subscriber discovery')
        if activate:
            assert provider.trigger_activate() == TransitionCallbackReturn.SUCCESS
        return provider, collector, spinner

    yield start
    for spinner in spinners:
        spinner.close()


def test_frame_reaches_every_topic_with_capture_stamp_and_exact_content(graph, volume):
    provider, collector, _ = graph()
    path, jpeg, metadata = write_frame(volume)
    for topic in (RAW, COMPRESSED, SCALED, METADATA, INFO):
        wait_for(lambda: collector.count(topic) == 1, timeout_s=10, what=topic)
    raw, compressed = collector.last(RAW), collector.last(COMPRESSED)
    scaled, info = collector.last(SCALED), collector.last(INFO)
    for message in (raw, compressed, scaled, info):
        assert stamp_to_epoch(message.header.stamp) == pytest.approx(
            metadata['capture_time'], abs=1e-6)
        assert message.header.frame_id == 'camera_optical_frame'
    expected = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert raw.encoding == 'bgr8' and np.array_equal(msg_to_image(raw), expected)
    assert compressed.format == 'jpeg' and bytes(compressed.data) == path.read_bytes()
    assert (scaled.width, scaled.height) == (80, 60)
    assert json.loads(collector.last(METADATA).data) == metadata
    assert (info.width, info.height) == (320, 240)


@pytest.mark.parametrize('watch_mode, in_use', [
    ('events', 'events'), ('poll', 'poll'), ('auto', 'events+poll')])
def test_watch_modes_deliver(graph, volume, watch_mode, in_use):
    provider, collector, _ = graph(watch_mode=watch_mode, poll_interval_s=0.05)
    assert provider._feed.watch_mode_in_use == in_use
    assert provider.health()['frame_provider: frames'].values['watch_mode'] == in_use
    for number in range(3):
        write_frame(volume)
        wait_for(lambda: collector.count(COMPRESSED) == number + 1, timeout_s=10,
                 what=f'frame {number + 1} via {watch_mode}')
    latency = sorted(provider._feed.stats.discovery_latency_s)
    print(f'{watch_mode}: discovery latency median {1000 * latency[len(latency) // 2]:.2f} ms')


# Run a command in a user namespace of its own in which no inotify instance may be
# created: the limit is kept per user namespace, so the kernel refuses inotify_init1
# (EMFILE) for this process alone, and nothing else on the machine is affected.
_NO_INOTIFY = ['unshare', '--user', '--map-root-user', 'sh', '-c',
               'echo 0 > /proc/sys/user/max_inotify_instances && exec "$@"', 'no-inotify']
_PROBE = ('import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); '
          'fd = libc.inotify_init1(0); print(fd, os.strerror(ctypes.get_errno()))')


def _without_inotify(argv):
    if shutil.which('unshare') is None:
        pytest.skip('unshare (util-linux) is not installed: cannot take inotify away')
    probe = subprocess.run(_NO_INOTIFY + [sys.executable, '-c', _PROBE],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0 or not probe.stdout.startswith('-1 '):
        pytest.skip(f'cannot make a user namespace without inotify here: '
                    f'{(probe.stdout + probe.stderr).strip()}')
    return _NO_INOTIFY + argv


def test_without_inotify_auto_falls_back_to_polling_and_events_refuses(
        rclpy_context, volume, tmp_path):
    provider_argv = [sys.executable, '-m', 'framebridge_ros.cli', 'run', '--nodes',
                     'provider', '--capture-dir', str(volume.root), '--status-period', '3600',
                     '--param', 'min_file_bytes:=100', '--param', 'poll_interval_s:=0.05']
    refused = subprocess.run(_without_inotify(provider_argv + ['--param', 'watch_mode:=events']),
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert 'use watch_mode poll' in refused.stdout + refused.stderr

    collector = Collector(rclpy_context, _topics(5.0) + [('/diagnostics', DiagnosticArray, 50)])
    spinner = Spinner(rclpy_context, collector.node)
    log = tmp_path / 'provider.log'
    with open(log, 'w') as stream:
        process = subprocess.Popen(
            _without_inotify(provider_argv + ['--param', 'watch_mode:=auto']),
            stdout=stream, stderr=subprocess.STDOUT)

    def watch_mode():
        with collector._lock:
            arrays = [message for _, message in collector.messages['/diagnostics']]
        for array in reversed(arrays):
            for status in array.status:
                if status.name == 'frame_provider: frames':
                    return {pair.key: pair.value for pair in status.values}['watch_mode']
        return None

    try:
        wait_for(lambda: watch_mode() is not None, timeout_s=30,
                 what=f'the provider on /diagnostics; log: {log.read_text()}')
        assert watch_mode() == 'poll'
        assert 'file events unavailable' in log.read_text()
        for number in range(2):
            _, jpeg, _ = write_frame(volume)
            wait_for(lambda: collector.count(COMPRESSED) == number + 1, timeout_s=10,
                     what=f'frame {number + 1} by polling')
            assert bytes(collector.last(COMPRESSED).data) == jpeg
    finally:
        process.terminate()
        process.wait(timeout=15)
        spinner.close()


def test_stale_frame_is_never_published(graph, volume):
    provider, collector, _ = graph(max_age_s=1.0)
    write_frame(volume, capture_time=time.time() - 1.5)
    wait_for(lambda: provider._feed.stats.rejected['stale'] == 1, timeout_s=10,
             what='stale frame refused')
    _, _, fresh = write_frame(volume)
    wait_for(lambda: collector.count(COMPRESSED) == 1, timeout_s=10, what='fresh frame')
    assert stamp_to_epoch(collector.last(COMPRESSED).header.stamp) == pytest.approx(
        fresh['capture_time'], abs=1e-6)
    # Topics arrive in no fixed order across subscriptions: wait for the fresh frame's
    # metadata, then check the stale frame's never came.
    wait_for(lambda: collector.count(METADATA) >= 1, timeout_s=10, what='fresh metadata')
    assert collector.count(METADATA) == 1


def test_future_dated_frame_is_refused(graph, volume):
    provider, collector, _ = graph()
    write_frame(volume, capture_time=time.time() + 3600)
    wait_for(lambda: provider._feed.stats.rejected['future'] == 1, timeout_s=10,
             what='future frame refused')
    assert collector.count(COMPRESSED) == 0


def test_late_joiner_gets_the_last_frame_only_while_it_is_fresh(rclpy_context, graph, volume):
    max_age_s = 1.5
    provider, _, spinner = graph(max_age_s=max_age_s, collect=False)
    _, _, metadata = write_frame(volume)
    wait_for(lambda: provider.frames_published == 1, timeout_s=10, what='publication')
    published_by = time.time()  # DDS counts the lifespan from the publication

    early = Collector(rclpy_context, _topics(max_age_s), name='early_joiner')
    spinner.add(early.node)
    for topic in (COMPRESSED, RAW, METADATA):
        wait_for(lambda: early.count(topic) == 1, timeout_s=5, what=f'late joiner {topic}')
    assert stamp_to_epoch(early.last(RAW).header.stamp) == pytest.approx(
        metadata['capture_time'], abs=1e-6)

    # Once the frame is older than max_age_s, lifespan keeps it from new subscribers;
    # the latched metadata (no lifespan) still arrives, proving the subscriber is live.
    wait_for(lambda: time.time() - published_by > max_age_s + 0.1,
             timeout_s=5, what='the frame to age out')
    late = Collector(rclpy_context, _topics(max_age_s), name='late_joiner')
    spinner.add(late.node)
    wait_for(lambda: late.count(METADATA) == 1, timeout_s=5, what='latched metadata')
    wait_for(lambda: provider._compressed_pub.get_subscription_count() == 2, timeout_s=5,
             what='late joiner matched')
    deadline = time.monotonic() + 0.5  # a window for any stale sample to show up
    while time.monotonic() < deadline:
        assert late.count(COMPRESSED) == 0 and late.count(RAW) == 0, 'stale frame delivered'
        time.sleep(0.01)


@pytest.mark.parametrize('kind, reason', [
    ('truncated', 'corrupt'), ('empty', 'corrupt'), ('not_jpeg', 'corrupt'),
    ('symlink_out', 'unsafe'), ('directory', 'unsafe'), ('bad_metadata', None),
    ('huge_metadata', None), ('foreign_name', 'foreign_name')])
def test_bad_input_is_skipped_and_the_next_frame_still_arrives(graph, volume, tmp_path, kind,
                                                               reason):
    provider, collector, _ = graph()
    # A frame published first: a refusal after it is a WARN, not "no frame yet".
    write_frame(volume, capture_time=time.time() - 1.5)
    wait_for(lambda: collector.count(COMPRESSED) == 1, timeout_s=10, what='first frame')
    good = encode(test_image(seed=7))  # bytes unlike any frame the test publishes
    name = f'{time.strftime("%Y%m%dT%H%M%S", time.gmtime())}.000000Z_{{:06d}}.jpg'
    bad = volume.live / name.format(1)
    if kind == 'truncated':
        bad.write_bytes(good[:len(good) // 2])
    elif kind == 'empty':
        bad.write_bytes(b'')
    elif kind == 'not_jpeg':
        bad.write_bytes(b'<html>' + b'x' * 5000)
    elif kind == 'symlink_out':
        outside = tmp_path / 'outside.jpg'
        outside.write_bytes(good)
        bad.symlink_to(outside)
    elif kind == 'directory':
        bad.mkdir()
    elif kind in ('bad_metadata', 'huge_metadata'):
        (volume.metadata / (bad.stem + '.json')).write_bytes(
            b'{"capture_time": ' if kind == 'bad_metadata'
            else b'{"x": "' + b'y' * 1000000 + b'"}')
        bad.write_bytes(good)
    elif kind == 'foreign_name':
        # A real, fresh JPEG: only its name says it is not a frame of ours.
        (volume.live / 'holiday.jpg').write_bytes(good)
    if reason is None:
        # Broken metadata is replaced by metadata derived from the file, and said so.
        wait_for(lambda: collector.count(METADATA) == 2 and collector.count(COMPRESSED) == 2,
                 timeout_s=10, what='derived')
        derived = json.loads(collector.last(METADATA).data)
        assert derived['derived'] is True and derived['derived_reason']
        assert bytes(collector.last(COMPRESSED).data) == good
        return
    wait_for(lambda: provider._feed.stats.rejected[reason] >= 1, timeout_s=10,
             what=f'{kind} refused as {reason}')
    report = provider.health()['frame_provider: frames']
    assert report.level == Level.WARN and 'frames are being refused' in report.message
    assert report.values[f'skipped_{reason}'] >= 1
    assert (bad.name if kind != 'foreign_name' else 'holiday.jpg') in report.values[
        'last_refused']
    assert collector.count(COMPRESSED) == 1, 'nothing published for the bad input'
    path, jpeg, metadata = write_frame(volume)
    wait_for(lambda: collector.count(COMPRESSED) == 2, timeout_s=10, what='good frame')
    published = collector.last(COMPRESSED)
    assert bytes(published.data) == jpeg == path.read_bytes()
    assert stamp_to_epoch(published.header.stamp) == pytest.approx(
        metadata['capture_time'], abs=1e-6)
    wait_for(lambda: provider._feed.stats.delivered == 2, timeout_s=5, what='delivery count')
    assert provider.health()['frame_provider: frames'].level == Level.OK
    if reason != 'corrupt':  # a corrupt file gets another look at its closed event
        assert provider._feed.stats.rejected[reason] == 1, 'refused once, however often seen'


def test_bad_configuration_fails_configure_with_a_reason(rclpy_context, volume, tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    provider = _provider(rclpy_context, volume, capture_dir=str(blocker / 'volume'))
    assert provider.trigger_configure() == TransitionCallbackReturn.FAILURE
    provider.destroy_node()
    provider = _provider(rclpy_context, volume, camera_info_url=str(tmp_path / 'none.yaml'))
    assert provider.trigger_configure() == TransitionCallbackReturn.FAILURE
    provider.destroy_node()


def test_camera_info_comes_from_the_calibration_file(graph, volume, tmp_path):
    calibration = tmp_path / 'imx500.yaml'
    calibration.write_text(
        'image_width: 320\nimage_height: 240\ncamera_name: imx500\n'
        'camera_matrix: {rows: 3, cols: 3, data: [300, 0, 160, 0, 300, 120, 0, 0, 1]}\n'
        'distortion_model: plumb_bob\n'
        'distortion_coefficients: {rows: 1, cols: 5, data: [0.1, 0, 0, 0, 0]}\n')
    _, collector, _ = graph(camera_info_url=f'file://{calibration}')
    write_frame(volume)
    wait_for(lambda: collector.count(INFO) == 1, timeout_s=10, what='camera_info')
    info = collector.last(INFO)
    assert info.k[0] == 300.0 and info.d[0] == 0.1 and info.distortion_model == 'plumb_bob'


def test_out_of_range_parameter_is_refused_at_run_time(graph):
    provider, _, _ = graph(collect=False)
    result = provider.set_parameters([Parameter('max_age_s', value=-1.0)])[0]
    assert not result.successful and 'out of range' in result.reason
    result = provider.set_parameters([Parameter('watch_mode', value='magic')])[0]
    assert not result.successful and 'not one of' in result.reason
    # Float parameters take a whole number (YAML's 3 for 3.0) but nothing else.
    assert provider.set_parameters([Parameter('max_age_s', value=3)])[0].successful
    result = provider.set_parameters([Parameter('max_age_s', value='soon')])[0]
    assert not result.successful and 'must be float' in result.reason


def test_deactivate_pauses_and_activate_publishes_the_newest_fresh_frame(graph, volume):
    provider, collector, _ = graph()
    write_frame(volume)
    wait_for(lambda: collector.count(COMPRESSED) == 1, timeout_s=10, what='first frame')
    assert provider.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    write_frame(volume)
    _, _, newest = write_frame(volume)
    assert provider.trigger_activate() == TransitionCallbackReturn.SUCCESS
    wait_for(lambda: collector.count(COMPRESSED) == 2, timeout_s=10, what='newest frame')
    assert stamp_to_epoch(collector.last(COMPRESSED).header.stamp) == pytest.approx(
        newest['capture_time'], abs=1e-6)
    assert provider.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert provider.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    assert provider._raw_pub is None


def test_no_subscriber_means_no_decode(graph, volume):
    provider, _, _ = graph(collect=False)
    write_frame(volume)
    wait_for(lambda: provider.frames_published == 1, timeout_s=10, what='publication')
    assert provider._cache.misses == 0


def test_a_frame_landing_after_ctrl_c_shut_the_context_down_is_no_error(
        rclpy_context, graph, volume, caplog):
    # SIGINT shuts the context down first; the feed's thread runs until on_shutdown. A
    # frame it delivers in between used to fail to publish, with an ERROR and a traceback.
    provider, _, _ = graph()
    feed = provider._feed
    rclpy.try_shutdown(context=rclpy_context)
    write_frame(volume)
    wait_for(lambda: feed.stats.delivered == 1, timeout_s=10, what='the feed handing it over')
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert provider.frames_published == 0
