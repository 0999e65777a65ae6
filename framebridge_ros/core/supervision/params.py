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

"""The supervisor's parameters (docs/SUPERVISOR.md has them as a table)."""

from framebridge_ros.core.params import ParamSpec
from framebridge_ros.core.volume.retention import RETENTION_PARAMS

__all__ = ['SUPERVISOR_PARAMS']

SUPERVISOR_PARAMS = (
    ParamSpec('managed_nodes', ['frame_provider', 'vehicle_detector', 'sky_analyzer'],
              'Lifecycle nodes to manage, in start-up order (as `ros2 lifecycle` names '
              'them, relative to the supervisor namespace).', read_only=True),
    ParamSpec('autostart', True, 'Bring the managed nodes to active at start.',
              read_only=True),
    ParamSpec('capture_dir', '/mnt/storage/camera_capture',
              'Root of the shared volume, as host capture and frame_provider see it.'),
    ParamSpec('max_frame_age_s', 5.0, 'A newest frame older than this is WARN; cleanup '
              'never moves or deletes a frame younger than this.',
              min_value=0.1, max_value=3600.0),
    ParamSpec('host_stale_s', 60.0, 'No new frame for this long: ERROR, and '
              'host_restart_command runs.', min_value=0.5, max_value=86400.0),
    ParamSpec('host_restart_command', [], 'Command that restarts host capture, as an '
              'argument list run without a shell (e.g. [systemctl, restart, '
              'host-camera-capture]); empty: none. At most once per back-off period.'),
    ParamSpec('host_restart_timeout_s', 30.0, 'host_restart_command is killed after this.',
              min_value=0.1, max_value=3600.0),
    ParamSpec('health_period_s', 30.0, 'Seconds between health checks (/diagnostics, '
              '~/status, stall and disk checks).', min_value=0.05, max_value=3600.0,
              read_only=True),
    ParamSpec('monitor_period_s', 1.0, 'Seconds between lifecycle state polls of each '
              'managed node.', min_value=0.05, max_value=60.0, read_only=True),
    ParamSpec('cleanup_period_s', 3600.0, 'Seconds between retention runs.',
              min_value=1.0, max_value=7 * 86400.0, read_only=True),
    *RETENTION_PARAMS,
    ParamSpec('warn_free_percent', 20.0, 'Free disk below this (percent) is WARN.',
              min_value=0.0, max_value=100.0),
    ParamSpec('service_timeout_s', 5.0, 'Deadline of each get_state call and of waiting '
              'for a service.', min_value=0.05, max_value=300.0),
    ParamSpec('transition_timeout_s', 60.0, 'Deadline of each change_state call '
              '(configure may load models).', min_value=0.05, max_value=3600.0),
    ParamSpec('startup_timeout_s', 30.0, 'How long start-up waits for the lifecycle '
              'services of the managed nodes.', min_value=0.0, max_value=3600.0),
    ParamSpec('restart_backoff_base_s', 2.0, 'Wait before the 2nd restart in a row; it '
              'doubles with each further one.', min_value=0.01, max_value=3600.0),
    ParamSpec('restart_backoff_max_s', 60.0, 'Longest wait between restarts; a node fine '
              'for this long starts again from no wait.', min_value=0.01, max_value=86400.0),
    ParamSpec('rate_window_s', 60.0, 'Window of frames/min and output rates (60 s suits '
              'a 1 Hz camera).', min_value=1.0, max_value=3600.0),
    ParamSpec('output_stall_s', 30.0, 'An active node whose output counter has not moved '
              'for this long while frames land is restarted.',
              min_value=0.5, max_value=86400.0),
    ParamSpec('output_counter_keys', ['frames_published', 'frames_analysed'],
              'Keys read as the output counter from the /diagnostics status a managed '
              'node publishes about itself (named "<node>: ..."); first match wins.'),
)
