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
One table of parameters per component, shared by the ROS node and the plain CLI.

A ROS node declares each spec with a descriptor (type, range, description); the host
CLI turns the same specs into argparse options, so both sides take the same names,
defaults and limits and validate them with the same code.
"""

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

__all__ = ['ParamSpec', 'ParameterError', 'validate_params']


class ParameterError(ValueError):
    """A parameter value is out of range or of the wrong type."""


@dataclass(frozen=True)
class ParamSpec:
    """
    One parameter: name, default, meaning and allowed values.

    The type is the default's type (bool, int, float, str or list of str).
    """

    name: str
    default: Any
    description: str
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    choices: Optional[Sequence[str]] = None
    read_only: bool = False

    @property
    def kind(self) -> type:
        return list if isinstance(self.default, (list, tuple)) else type(self.default)

    def check(self, value: Any) -> Any:
        """Return value converted to the spec's type, or raise ParameterError saying why."""
        kind = self.kind
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is list:
            if not isinstance(value, (list, tuple)) or not all(
                    isinstance(item, str) for item in value):
                raise ParameterError(f'{self.name} must be a list of strings, got {value!r}')
            return list(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ParameterError(
                f'{self.name} must be {kind.__name__}, got {type(value).__name__} {value!r}')
        if self.min_value is not None and value < self.min_value:
            raise ParameterError(
                f'{self.name}={value} is below its minimum {self.min_value}')
        if self.max_value is not None and value > self.max_value:
            raise ParameterError(
                f'{self.name}={value} is above its maximum {self.max_value}')
        if self.choices is not None and value not in self.choices:
            raise ParameterError(
                f'{self.name}={value!r} is not one of {", ".join(self.choices)}')
        return value


def validate_params(specs: Iterable[ParamSpec], values: Mapping[str, Any]) -> dict:
    """
    Check every value against its spec and return them converted.

    Missing values take their defaults. All problems are gathered into one
    ParameterError so the user fixes them in one go.
    """
    checked, problems = {}, []
    for spec in specs:
        try:
            checked[spec.name] = spec.check(values.get(spec.name, spec.default))
        except ParameterError as error:
            problems.append(str(error))
    if problems:
        raise ParameterError('; '.join(problems))
    return checked
