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
Launch, configuration and deployment files.

What can be checked without launch_ros, Docker or systemd on this machine.
"""

import ast
import configparser
import os
from pathlib import Path
import re
import subprocess
import sys

from framebridge_ros.cli import NODE_NAMES, NODES
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / 'deploy'


def _console_scripts():
    tree = ast.parse((ROOT / 'setup.py').read_text())
    scripts = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and ' = ' in node.value and ':' in node.value:
            name, target = node.value.split(' = ')
            scripts[name.strip()] = target.strip()
    return scripts


def _launch_executables(path: Path):
    """Return executable= names, and the node lists that name executables by variable."""
    tree = ast.parse(path.read_text())
    names = {node.value.value for node in ast.walk(tree)
             if isinstance(node, ast.keyword) and node.arg == 'executable'
             and isinstance(node.value, ast.Constant)}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == 'MANAGED_NODES'
                for target in node.targets):
            names.update(element.value for element in node.value.elts)
    return names


@pytest.mark.parametrize('launch_file', sorted((ROOT / 'launch').glob('*.launch.py')),
                         ids=lambda path: path.name)
def test_every_launched_executable_is_installed(launch_file):
    scripts = _console_scripts()
    missing = _launch_executables(launch_file) - set(scripts)
    assert not missing, f'{launch_file.name} runs {missing}, which setup.py does not install'
    for target in scripts.values():
        module, function = target.split(':')
        assert (ROOT / (module.replace('.', '/') + '.py')).exists(), target


def test_launch_files_compile_and_define_the_entry_point():
    for path in (ROOT / 'launch').glob('*.launch.py'):
        tree = ast.parse(path.read_text())
        functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert 'generate_launch_description' in functions, path.name
    whole_graph = (ROOT / 'launch' / 'framebridge.launch.py').read_text()
    included = re.findall(r"'(\w+\.launch\.py)'", whole_graph)
    assert included and all((ROOT / 'launch' / name).exists() for name in included)


def test_every_configured_parameter_is_declared_with_its_type(rclpy_context, tmp_path):
    """Load config/framebridge.yaml into the real nodes, as launch would."""
    import rclpy
    config = yaml.safe_load((ROOT / 'config' / 'framebridge.yaml').read_text())
    overlay = tmp_path / 'overlay.yaml'
    overlay.write_text(yaml.safe_dump({'/**': {'ros__parameters': {
        'capture_dir': str(tmp_path / 'volume')}}, 'host_capture': {
        'ros__parameters': {'source': 'simulated', 'width': 320, 'height': 240}}}))
    context = rclpy.Context()
    rclpy.init(context=context, args=['--ros-args', '--params-file',
                                      str(ROOT / 'config' / 'framebridge.yaml'),
                                      '--params-file', str(overlay)])
    try:
        for short_name, node_name in NODE_NAMES.items():
            section = config.get(node_name, {}).get('ros__parameters', {})
            module_name, class_name = NODES[short_name]
            try:
                module = __import__(module_name, fromlist=[class_name])
            except ImportError:
                assert not section, f'{node_name} is configured but not installed'
                continue
            # A parameter of the wrong type makes the declaration raise here.
            node = getattr(module, class_name)(context=context)
            try:
                wildcard = config['/**']['ros__parameters']
                for name, value in section.items():
                    assert node.has_parameter(name), f'{node_name} does not declare {name}'
                    declared = node.get_parameter(name).value
                    assert type(declared) is type(value), (node_name, name)
                for name in wildcard:
                    if node.has_parameter(name):
                        assert node.get_parameter(name).value == str(tmp_path / 'volume')
            finally:
                node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_compose_file_is_unprivileged_restarts_and_checks_health():
    service = yaml.safe_load((DEPLOY / 'compose.yaml').read_text())['services']['framebridge']
    assert not service.get('privileged') and 'devices' not in service
    assert service['user'] != 'root' and not service['user'].startswith('0')
    assert service['cap_drop'] == ['ALL']
    assert service['restart'] == 'unless-stopped'
    assert 'framebridge' in service['healthcheck']['test'] and \
        'health' in service['healthcheck']['test']
    assert service['ipc'] == 'host' and service['network_mode'] == 'host'
    capture_dir = yaml.safe_load((ROOT / 'config' / 'framebridge.yaml').read_text())[
        '/**']['ros__parameters']['capture_dir']
    assert any(volume.endswith(':' + capture_dir) for volume in service['volumes'])
    launch_file = service['command'][3]
    assert (ROOT / 'launch' / launch_file).exists()
    assert (ROOT / service['build']['dockerfile']).exists()


def test_dockerfile_copies_what_exists_and_runs_unprivileged():
    lines = (DEPLOY / 'Dockerfile').read_text().splitlines()
    for line in lines:
        if line.startswith('COPY '):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f'Dockerfile copies missing {source}'
    users = [line.split()[1] for line in lines if line.startswith('USER ')]
    assert users and not users[-1].startswith(('root', '0'))
    text = '\n'.join(lines)
    assert 'framebridge", "health' in text
    assert re.search(r'CMD \["ros2", "launch", "framebridge_ros", "container.launch.py"\]',
                     text)
    assert '--privileged' not in text and '/dev/video' not in text


def test_dockerfile_copies_every_folder_the_package_installs_from():
    # setup.py's data_files read config/, launch/, models/ (the vehicle network) and
    # resource/: an image built without one of them lacks what the nodes load.
    folders = set(re.findall(r"glob\('(\w+)/", (ROOT / 'setup.py').read_text()))
    folders.add('resource')
    copied = {line.split()[1] for line in (DEPLOY / 'Dockerfile').read_text().splitlines()
              if line.startswith('COPY ')}
    assert {'config', 'launch', 'models'} <= folders
    assert folders <= copied, f'Dockerfile does not copy {sorted(folders - copied)}'


def test_systemd_unit_restarts_and_runs_an_existing_script():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(DEPLOY / 'host-camera-capture.service')
    service = unit['Service']
    assert service['Restart'] == 'always' and int(service['RestartSec']) > 0
    assert unit['Unit']['StartLimitBurst'] and service['MemoryMax']
    assert service['User'] != 'root'
    script = Path(service['ExecStart']).name
    assert (DEPLOY / script).exists() and os.access(DEPLOY / script, os.X_OK)
    env_file = service['EnvironmentFile'].lstrip('-')
    assert Path(env_file).name == 'framebridge-capture'
    assert (DEPLOY / 'framebridge-capture.env').exists()


def test_host_script_falls_back_to_plain_python_without_ros(tmp_path):
    volume = tmp_path / 'volume'
    env = {'PATH': '/usr/bin:/bin', 'PYTHONPATH': str(ROOT), 'PYTHON': sys.executable,
           'CAPTURE_DIR': str(volume), 'SOURCE': 'simulated', 'WIDTH': '320',
           'HEIGHT': '240', 'INTERVAL_S': '0.05'}
    result = subprocess.run([str(DEPLOY / 'host-capture.sh'), '--count', '2'], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'plain Python' in result.stdout
    assert len(list((volume / 'live').glob('*.jpg'))) == 2
