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

from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Tuple

__all__ = ['ParamSpec', 'ParameterError', 'config_from_params', 'config_params',
           'validate_params']


class ParameterError(ValueError):
    """A parameter value is out of range or of the wrong type."""


@dataclass(frozen=True)
class ParamSpec:
    """
    One parameter: name, default, meaning and allowed values.

    The type is the default's type (bool, int, float, str, or a list of str or float;
    an empty list's items are str unless item_type says otherwise). parse, if given,
    turns the checked value into what the code uses (a polygon from a flat list, say)
    and raises ValueError saying what is wrong.
    """

    name: str
    default: Any
    description: str
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    choices: Optional[Sequence[str]] = None
    read_only: bool = False
    item_type: Optional[type] = None
    parse: Optional[Callable[[Any], Any]] = None

    @property
    def kind(self) -> type:
        return list if isinstance(self.default, (list, tuple)) else type(self.default)

    @property
    def items(self) -> type:
        """Return the item type of a list parameter (str or float)."""
        if self.item_type is not None:
            return self.item_type
        return float if self.default and isinstance(self.default[0], (int, float)) else str

    def check(self, value: Any) -> Any:
        """Return value converted to the spec's type, or raise ParameterError saying why."""
        value = self._check_type(value)
        if self.parse is not None:
            try:
                return self.parse(value)
            except (TypeError, ValueError) as error:
                raise ParameterError(f'{self.name}: {error}') from None
        return value

    def _check_type(self, value: Any) -> Any:
        kind = self.kind
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is list:
            if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
                value = list(value)  # rclpy hands arrays over as array.array
            items = self.items
            if isinstance(value, (list, tuple)) and items is float and all(
                    isinstance(item, (int, float)) and not isinstance(item, bool)
                    for item in value):
                return [float(item) for item in value]
            if not isinstance(value, (list, tuple)) or not all(
                    isinstance(item, items) for item in value):
                raise ParameterError(
                    f'{self.name} must be a list of {items.__name__}, got {value!r}')
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


def config_params(config_type: type, help_text: Mapping[str, tuple]) -> Tuple[ParamSpec, ...]:
    """
    Return one ParamSpec per field of a config dataclass that help_text describes.

    help_text maps a field name to (description, minimum, maximum); the default is the
    dataclass's own, so the algorithm's defaults live in one place.
    """
    defaults = asdict(config_type())
    return tuple(ParamSpec(name, defaults[name], text, min_value=low, max_value=high)
                 for name, (text, low, high) in help_text.items())


def config_from_params(config_type: type, values: Mapping[str, Any]):
    """Build a config dataclass from the matching keys of values (others are ignored)."""
    names = {field.name for field in fields(config_type)}
    return config_type(**{key: value for key, value in values.items() if key in names})
