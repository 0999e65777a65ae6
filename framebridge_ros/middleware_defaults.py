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
The middleware settings a framebridge process starts with: fast and lossless by default.

Every entry point (the node executables through ros_glue.run_node, and `framebridge`)
calls apply() before its first rclpy context, so a node started with `ros2 run`,
`ros2 launch`, a launch file of the user's own, `framebridge run` or in the container
gets the large-frame transport unless the user chose otherwise:

- Fast DDS (RMW_IMPLEMENTATION unset, rmw_fastrtps_cpp or rmw_fastrtps_dynamic_cpp)
  with no transport configuration of the user's own: FASTRTPS_DEFAULT_PROFILES_FILE
  names the shipped config/fastdds_shm.xml (a 64 MiB shared-memory segment).
- malloc huge pages for the large message buffers (GLIBC_TUNABLES=glibc.malloc.hugetlb=1).
  glibc reads GLIBC_TUNABLES only when a program starts, so the process executes
  itself once more with the variable added (same pid, same command line); a marker
  variable says what this module set, so it happens once.

Left alone: another RMW (Cyclone DDS, Zenoh: nothing is changed at all), a Fast DDS
configuration of the user's own (FASTRTPS_ or FASTDDS_DEFAULT_PROFILES_FILE, a
DEFAULT_FASTRTPS_PROFILES.xml in the working directory, which Fast DDS 2.x loads by
itself, RMW_FASTRTPS_USE_QOS_FROM_XML, FASTDDS_BUILTIN_TRANSPORTS), a GLIBC_TUNABLES
that names the hugetlb tunable, and every discovery setting (ROS_DOMAIN_ID,
ROS_AUTOMATIC_DISCOVERY_RANGE, ROS_STATIC_PEERS, ROS_DISCOVERY_SERVER): this module
never reads or writes them.

    FRAMEBRIDGE_DDS_PROFILE   unset or 'auto': as above; '', 'default' or 'none': the
                              middleware defaults (no profile, no huge pages); a path:
                              that Fast DDS profile instead of the shipped one
    FRAMEBRIDGE_HUGE_PAGES    '0': no huge pages (and no second start)

Plain Python, no rclpy: the decision has to be made before rclpy starts.
"""

from dataclasses import dataclass, field, replace
import os
from pathlib import Path
import sys
import threading
from typing import Callable, Dict, List, Mapping, MutableMapping, Optional, Set, Tuple

from framebridge_ros.core.share import shipped_file

__all__ = ['CHOICE_VARIABLE', 'HUGE_PAGES_VARIABLE', 'MARKER_VARIABLE', 'MiddlewareChoice',
           'PROFILE_NAME', 'apply', 'decide', 'huge_pages_supported', 'shipped_profile',
           'shm_size']

CHOICE_VARIABLE = 'FRAMEBRIDGE_DDS_PROFILE'
HUGE_PAGES_VARIABLE = 'FRAMEBRIDGE_HUGE_PAGES'
# Names of the variables this module set, comma-separated: tells a restarted process
# (and children) that the profile and tunables are framebridge's, not the user's.
MARKER_VARIABLE = 'FRAMEBRIDGE_MIDDLEWARE_SET'
PROFILE_NAME = 'fastdds_shm.xml'
PROFILE_VARIABLE = 'FASTRTPS_DEFAULT_PROFILES_FILE'  # the name Fast DDS 2.x reads
TUNABLES_VARIABLE = 'GLIBC_TUNABLES'
HUGE_PAGES_TUNABLE = 'glibc.malloc.hugetlb'
FAST_DDS_RMWS = ('rmw_fastrtps_cpp', 'rmw_fastrtps_dynamic_cpp')
DEFAULTS_WORDS = ('', 'default', 'defaults', 'none')
# A Fast DDS configuration of the user's own, in the order the message names them.
USER_CONFIG_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE',
                         'RMW_FASTRTPS_USE_QOS_FROM_XML', 'FASTDDS_BUILTIN_TRANSPORTS')
CWD_PROFILE = 'DEFAULT_FASTRTPS_PROFILES.xml'  # Fast DDS 2.x loads it unless told not to
HOW_TO_OPT_OUT = f'{CHOICE_VARIABLE}=default for the middleware defaults'
# The profile's segment is 64 MiB per publishing process; Docker's default /dev/shm is
# 64 MiB in all, and a write past a full tmpfs is a SIGBUS. Below this, no profile.
MIN_SHM_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class MiddlewareChoice:
    """What a process runs with, why, and what apply() changes in its environment."""

    rmw: str
    profile: Optional[str] = None      # the Fast DDS profile file in force, if known
    profile_source: str = ''           # 'framebridge', 'yours', 'defaults'
    huge_pages: bool = False           # GLIBC_TUNABLES asks glibc for huge pages
    notes: Tuple[str, ...] = ()
    environment: Dict[str, str] = field(default_factory=dict)  # to set
    restart: bool = False              # glibc must see GLIBC_TUNABLES at start

    def summary(self) -> str:
        """One log line: the transport settings in force and how to turn them off."""
        if self.rmw not in FAST_DDS_RMWS:
            return f'middleware: {self.rmw}, left as configured'
        if self.profile_source == 'framebridge':
            transport = f'Fast DDS, large-frame profile {self.profile}'
        elif self.profile_source == 'yours':
            transport = 'Fast DDS, your own configuration left alone'
        else:
            transport = 'Fast DDS defaults'
        pages = 'malloc huge pages on' if self.huge_pages else 'malloc huge pages off'
        notes = ''.join(f' ({note})' for note in self.notes)
        if self.profile_source == 'defaults' and not self.huge_pages:
            how = f'unset {CHOICE_VARIABLE} for the large-frame settings'
        else:
            how = HOW_TO_OPT_OUT
        return f'middleware: {transport}, {pages}{notes}; {how}'


def shipped_profile() -> Optional[Path]:
    """Return config/fastdds_shm.xml: the installed share dir, else the source tree."""
    return shipped_file('config', PROFILE_NAME)


def huge_pages_supported() -> Tuple[bool, str]:
    """Return whether glibc.malloc.hugetlb=1 can take effect here, and why not."""
    version = os.confstr('CS_GNU_LIBC_VERSION') if hasattr(os, 'confstr') else ''
    try:
        name, number = (version or '').split()
        major, minor = (int(part) for part in number.split('.')[:2])
    except ValueError:
        return False, 'not glibc'
    if name != 'glibc' or (major, minor) < (2, 35):
        return False, f'{version} has no {HUGE_PAGES_TUNABLE} (needs 2.35)'
    try:
        mode = Path('/sys/kernel/mm/transparent_hugepage/enabled').read_text()
    except OSError:
        return False, 'no transparent huge pages in this kernel'
    if '[never]' in mode:
        return False, 'transparent huge pages are off ([never])'
    return True, ''


def shm_size() -> Optional[int]:
    """Return the size of /dev/shm in bytes, None when there is none to ask."""
    try:
        stats = os.statvfs('/dev/shm')
    except OSError:
        return None
    return stats.f_blocks * stats.f_frsize


def _tunables_with_huge_pages(current: str) -> str:
    return ':'.join(filter(None, [current, f'{HUGE_PAGES_TUNABLE}=1']))


def _names_huge_pages(tunables: str) -> bool:
    return any(item.split('=', 1)[0].strip() == HUGE_PAGES_TUNABLE
               for item in tunables.split(':'))


def _huge_pages_on(tunables: str) -> bool:
    values = [item.split('=', 1)[1].strip() for item in tunables.split(':')
              if item.split('=', 1)[0].strip() == HUGE_PAGES_TUNABLE and '=' in item]
    return bool(values) and values[-1] not in ('0', '')


def decide(environ: Mapping[str, str], *, cwd: Path, profile: Optional[Path],
           huge_pages: Tuple[bool, str] = (True, ''),
           shm_bytes: Optional[int] = None) -> MiddlewareChoice:
    """
    Decide the middleware settings for an environment, without changing anything.

    profile is the shipped profile (None when not found); huge_pages says whether the
    malloc tunable can take effect here (huge_pages_supported()); shm_bytes is the size
    of /dev/shm (None: unknown, taken as large enough).
    """
    rmw = environ.get('RMW_IMPLEMENTATION') or 'rmw_fastrtps_cpp'
    if rmw not in FAST_DDS_RMWS:
        return MiddlewareChoice(rmw=rmw)
    choice = environ.get(CHOICE_VARIABLE, 'auto').strip()
    if choice.lower() in DEFAULTS_WORDS:
        return MiddlewareChoice(rmw=rmw, profile_source='defaults',
                                notes=(f'{CHOICE_VARIABLE}={choice!r}',))
    ours = set(filter(None, environ.get(MARKER_VARIABLE, '').split(',')))
    source, path, notes = _choose_profile(environ, ours=ours, choice=choice, cwd=cwd,
                                          profile=profile, shm_bytes=shm_bytes)
    changes = {}
    if source == 'framebridge' and environ.get(PROFILE_VARIABLE) != path:
        changes[PROFILE_VARIABLE] = path
    pages, tunables, pages_note = _choose_huge_pages(environ, ours=ours, possible=huge_pages)
    notes += [pages_note] if pages_note else []
    if tunables is not None:
        changes[TUNABLES_VARIABLE] = tunables
    if changes:
        changes[MARKER_VARIABLE] = ','.join(sorted(ours | set(changes)))
    return MiddlewareChoice(rmw=rmw, profile=path, profile_source=source, huge_pages=pages,
                            notes=tuple(notes), environment=changes,
                            restart=tunables is not None)


def _choose_profile(environ: Mapping[str, str], *, ours: Set[str], choice: str, cwd: Path,
                    profile: Optional[Path], shm_bytes: Optional[int]
                    ) -> Tuple[str, Optional[str], List[str]]:
    """Return (source, profile file, notes): 'framebridge', 'yours' or 'defaults'."""
    if choice.lower() != 'auto':  # a path: an explicit choice wins over the rest
        path = cwd / choice
        if path.is_file():
            return 'framebridge', str(path), []
        return 'defaults', None, [f'{CHOICE_VARIABLE}={choice} does not exist']
    own = [name for name in USER_CONFIG_VARIABLES
           if environ.get(name) and not (name == PROFILE_VARIABLE and name in ours)]
    if (cwd / CWD_PROFILE).is_file() and environ.get('SKIP_DEFAULT_XML_FILE') != '1':
        own.append(CWD_PROFILE)
    if own:
        named = [f'{name}={environ[name]}' if name in environ else f'./{name}'
                 for name in own]
        path = environ.get(PROFILE_VARIABLE) or environ.get('FASTDDS_DEFAULT_PROFILES_FILE')
        return 'yours', path, ['from ' + ', '.join(named)]
    if PROFILE_VARIABLE in ours and environ.get(PROFILE_VARIABLE):
        return 'framebridge', environ[PROFILE_VARIABLE], []  # set before the restart
    if profile is None:
        return 'defaults', None, [
            f'{PROFILE_NAME} not found in the installed share/ or the source tree']
    if shm_bytes is not None and shm_bytes < MIN_SHM_BYTES:
        return 'defaults', None, [
            f'/dev/shm has only {shm_bytes >> 20} MiB: give the container '
            '--shm-size=512m or --ipc=host for the large-frame profile']
    return 'framebridge', str(profile), []


def _choose_huge_pages(environ: Mapping[str, str], *, ours: Set[str],
                       possible: Tuple[bool, str]) -> Tuple[bool, Optional[str], str]:
    """Return (in force, GLIBC_TUNABLES to set or None, note)."""
    tunables = environ.get(TUNABLES_VARIABLE, '')
    if _names_huge_pages(tunables):
        note = '' if TUNABLES_VARIABLE in ours else f'{TUNABLES_VARIABLE}={tunables} is yours'
        return _huge_pages_on(tunables), None, note
    if environ.get(HUGE_PAGES_VARIABLE, '').strip() == '0':
        return False, None, f'{HUGE_PAGES_VARIABLE}=0'
    if not possible[0]:
        return False, None, f'no huge pages: {possible[1]}'
    return True, _tunables_with_huge_pages(tunables), ''


def _can_restart() -> Tuple[bool, str]:
    """Return whether this process can execute itself again, and why not."""
    argv = getattr(sys, 'orig_argv', None)
    if not argv or not sys.executable:
        return False, 'no command line to start again'
    if sys.argv and sys.argv[0] in ('', '-'):
        return False, 'an interactive or stdin program cannot be started again'
    if threading.active_count() > 1:
        return False, 'threads are running already'
    return True, ''


def apply(*, restart: bool = True, log: Optional[Callable[[str], None]] = None,
          environ: Optional[MutableMapping[str, str]] = None) -> MiddlewareChoice:
    """
    Put the middleware defaults in force for this process, before rclpy starts.

    May replace the process by itself (os.execv, same pid and command line) once, so
    glibc sees the huge-pages tunable; restart=False never does (a program that
    embeds nodes), and huge pages stay off then unless GLIBC_TUNABLES already asks.
    log, if given, is called once with the summary line.
    """
    env = os.environ if environ is None else environ
    choice = decide(env, cwd=Path.cwd(), profile=shipped_profile(),
                    huge_pages=huge_pages_supported(), shm_bytes=shm_size())
    if choice.restart:
        possible, why_not = _can_restart() if restart else (False, 'restart=False')
        if possible:
            before = {name: env.get(name) for name in choice.environment}
            env.update(choice.environment)
            sys.stdout.flush()
            sys.stderr.flush()
            try:
                os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
            except OSError as error:
                why_not = f'could not start again: {error}'
                for name, value in before.items():
                    if value is None:
                        env.pop(name, None)
                    else:
                        env[name] = value
        choice = _without_huge_pages(choice, env, why_not)
    env.update(choice.environment)
    if log is not None:
        log(choice.summary())
    return choice


def _without_huge_pages(choice: MiddlewareChoice, environ: Mapping[str, str],
                        why_not: str) -> MiddlewareChoice:
    """Return the same choice without the tunable: this process cannot take it."""
    changes = {name: value for name, value in choice.environment.items()
               if name not in (TUNABLES_VARIABLE, MARKER_VARIABLE)}
    if changes:
        ours = set(filter(None, environ.get(MARKER_VARIABLE, '').split(',')))
        changes[MARKER_VARIABLE] = ','.join(sorted(ours | set(changes)))
    return replace(choice, huge_pages=False, restart=False, environment=changes,
                   notes=choice.notes + (f'no huge pages: {why_not}',))
