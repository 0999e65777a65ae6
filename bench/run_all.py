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
Run every benchmark in bench/ one after the other and print their tables.

    .venv/bin/python -m bench.run_all [--quick]      (make bench runs this)

The known benchmarks run in this order, those present: handoff (hand-off latency, CPU,
memory), capture_latency, analysis_quality, soak. Any other bench/<name>.py with a main()
runs after them, except run_all itself and helper modules of a known benchmark
(bench/handoff_sub.py and the like). --quick asks each for its smoke run. A benchmark
that fails is reported and the others still run; the exit status is 1 if any failed.
"""

import argparse
import importlib
from pathlib import Path
import sys
import time
import traceback
from typing import Dict, List, Optional, Sequence

__all__ = ['KNOWN', 'discover', 'main']

BENCH_DIR = Path(__file__).resolve().parent

# name -> the arguments of its smoke run (None: it has no smoke run, run it in full)
KNOWN: Dict[str, Optional[List[str]]] = {
    'handoff': ['--quick'],
    'capture_latency': ['--frames', '5'],
    'analysis_quality': ['--quick'],
    'soak': ['--quick'],
}


def discover(directory: Path = BENCH_DIR) -> List[str]:
    """Return the benchmark modules present in directory: the known ones first."""
    present = {path.stem for path in directory.glob('*.py')}
    names = [name for name in KNOWN if name in present]
    for name in sorted(present - set(KNOWN) - {'__init__', 'run_all'}):
        if any(name.startswith(known + '_') for known in KNOWN):
            continue  # a helper of a known benchmark (a subprocess entry point)
        names.append(name)
    return names


def _arguments(name: str, module, quick: bool) -> List[str]:
    if not quick:
        return []
    if name in KNOWN:
        return list(KNOWN[name] or [])
    source = Path(module.__file__).read_text(errors='replace')
    return ['--quick'] if "'--quick'" in source else []


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    parser.add_argument('--quick', action='store_true', help="each benchmark's smoke run")
    parser.add_argument('--only', default='', help='comma list of benchmark names')
    args = parser.parse_args(argv)
    names = discover()
    if args.only:
        wanted = set(args.only.split(','))
        names = [name for name in names if name in wanted]
    failed = []
    for name in names:
        module = importlib.import_module(f'bench.{name}')
        if not callable(getattr(module, 'main', None)):
            continue
        arguments = _arguments(name, module, args.quick)
        print(f'\n## bench.{name} {" ".join(arguments)}\n', flush=True)
        started = time.monotonic()
        try:
            status = module.main(arguments)
        except SystemExit as exit_:
            status = exit_.code
        except Exception:  # noqa: B902 - one broken benchmark must not hide the others
            traceback.print_exc()
            status = 1
        print(f'\n(bench.{name}: {time.monotonic() - started:.0f} s, status {status or 0})',
              flush=True)
        if status:
            failed.append(name)
    if failed:
        print(f'\nfailed: {", ".join(failed)}', file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
