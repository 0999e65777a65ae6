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
The soak of bench/soak.py, shortened for CI: the whole graph as five processes.

About 15 s measured after a 5 s warm-up (some 35 s in all on 2 cores), judged by the
same checks as the 10-minute run (`python -m bench.soak`), with a memory tolerance
suited to a short run: over 15 s a leak cannot be told from the allocator settling, so
this catches gross growth, descriptor leaks, stale deliveries, a disk over its bound and
dead or restarted nodes; the 10-minute figures are in docs/RELIABILITY.md.
"""

import os

from bench.soak import CHECKED_TOPICS, PROCESSES, run_soak, SoakConfig


def test_short_soak_of_the_whole_graph():
    config = SoakConfig(duration_s=15.0, warmup_s=5.0, rss_tolerance_mib=24.0,
                        rss_tolerance_percent=10.0, fd_tolerance=0, startup_timeout_s=40.0,
                        domain_id=int(os.environ['ROS_DOMAIN_ID']))
    result = run_soak(config)
    print('\n' + result.table)
    assert not result.failures, result.table
    assert result.measured_s >= config.duration_s
    assert sorted(result.processes) == sorted(PROCESSES)
    for figures in result.processes.values():
        assert figures.died_at_s is None and figures.rss_growth_kib is not None
    # Frames flowed through every stage at close to the camera's rate, none too old.
    expected = config.fps * config.duration_s
    for topic in CHECKED_TOPICS:
        assert result.topics[topic].received >= 0.5 * expected, topic
        assert result.topics[topic].max_age_s <= config.max_age_s
    assert result.frames['captured'] >= 0.8 * expected
    assert result.frames['published'] >= 0.5 * expected
    assert 0 < result.disk_max_bytes <= result.disk_bound_bytes
    assert result.live_max <= config.max_images + 1
