"""The search space of `fundarb optimize`: a TOML file naming config keys and the ranges to try for each.

Each parameter is a table named by its key's path in the config file, under `[strategy]`, `[exit]`,
`[risk_manager]` or `[close_policy]`:

    [strategy.min_net_apr]
    type = "float"            # float | int | categorical
    low = "0.05"
    high = "0.60"
    step = "0.05"             # optional (not with log)

    [risk_manager.max_age]
    type = "int"
    low = 24
    high = 336
    step = 24
    unit = "h"                # a duration key: the value is written "48h"

    [close_policy.timeout]
    type = "categorical"
    choices = ["10s", "30s", "2m"]

No key is known here: the space is checked against the config model itself (the core's classes and the
plugins'), by writing the range's ends, a value between them and every choice into the config and validating
it. So a key added to the strategy or to a plugin is tunable at once, and a misspelt key, a value of the wrong
type or a range leaving the key's allowed values is one line per problem.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

import attrs

from fundarb_core.config import parse_config, read_toml
from fundarb_core.errors import ConfigError
from fundarb_core.plugins import Plugins

__all__ = ["SECTIONS", "Param", "Space", "apply", "load_space", "parse_space"]

SECTIONS: Final = ("strategy", "exit", "risk_manager", "close_policy")
UNITS: Final = ("ms", "s", "m", "h", "d", "w")
_FIELDS: Final = {
    "float": {"type", "low", "high", "step", "log", "unit"},
    "int": {"type", "low", "high", "step", "log", "unit"},
    "categorical": {"type", "choices"},
}


@attrs.frozen
class Param:
    """One tuned key: its dotted path in the config and the values to draw from."""

    path: str
    kind: str  # float | int | categorical
    low: Decimal | None = None
    high: Decimal | None = None
    step: Decimal | None = None
    log: bool = False
    unit: str | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """Draw a value from an Optuna trial; returns it as the config file would hold it."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.path, list(self.choices))
        assert self.low is not None
        assert self.high is not None
        if self.kind == "int":
            step = int(self.step) if self.step is not None else 1
            drawn: Any = trial.suggest_int(self.path, int(self.low), int(self.high), step=step, log=self.log)
        else:
            step_f = float(self.step) if self.step is not None else None
            drawn = trial.suggest_float(self.path, float(self.low), float(self.high), step=step_f, log=self.log)
        return self.config_value(drawn)

    def config_value(self, drawn: Any) -> Any:
        """Turn a drawn number (Optuna's float or int) into the config's form: decimal text, integer, duration."""
        if self.kind == "categorical":
            return drawn
        if self.kind == "int":
            number: Decimal | int = int(drawn)
        elif self.step is not None:
            number = Decimal(repr(float(drawn))).quantize(self.step)
        else:
            number = Decimal(f"{float(drawn):.6g}")
        if self.unit is not None:
            return f"{_plain(number)}{self.unit}"
        return number if isinstance(number, int) else _plain(number)

    def probes(self) -> list[tuple[str, Any]]:
        """The values that must all be valid in the config: both ends, one between, every choice."""
        if self.kind == "categorical":
            return [(f"choice {c!r}", c) for c in self.choices]
        assert self.low is not None
        assert self.high is not None
        if self.kind == "int":
            return [("low", self.config_value(self.low)), ("high", self.config_value(self.high))]
        between = self.low + (self.high - self.low) / 3  # not a whole number unless the range is whole
        if self.step is not None:
            between = self.low + ((between - self.low) / self.step).to_integral_value() * self.step
        probes = [("low", self.low), ("high", self.high), ("a value between", between)]
        return [(label, self.config_value(value)) for label, value in probes]

    def describe(self) -> str:
        if self.kind == "categorical":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        unit = self.unit or ""
        step = f" step {_plain(self.step)}" if self.step is not None else ""
        log = " (log)" if self.log else ""
        return f"{self.kind} {_plain(self.low)}{unit} … {_plain(self.high)}{unit}{step}{log}"


@attrs.frozen
class Space:
    """The parameters to tune, in the file's order."""

    params: tuple[Param, ...]

    def suggest(self, trial: Any) -> dict[str, Any]:
        return {p.path: p.suggest(trial) for p in self.params}

    def config_values(self, drawn: Mapping[str, Any]) -> dict[str, Any]:
        """Optuna's stored params (a trial's `params`) as config values."""
        by_path = {p.path: p for p in self.params}
        return {path: by_path[path].config_value(value) for path, value in drawn.items() if path in by_path}

    def as_dict(self) -> dict[str, str]:
        return {p.path: p.describe() for p in self.params}


def _plain(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def apply(data: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of raw config data with each dotted key set to its value (tables created as needed)."""
    out: dict[str, Any] = copy.deepcopy(dict(data))
    for path, value in values.items():
        *parents, key = path.split(".")
        table = out
        for part in parents:
            table = table.setdefault(part, {})
        table[key] = value
    return out


def _number(raw: Any, where: str, problems: list[str]) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        problems.append(f"{where}: expected a number, found {type(raw).__name__} {raw!r}")
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        problems.append(f"{where}: expected a number, found {raw!r}")
        return None
    if not value.is_finite():
        problems.append(f"{where}: expected a finite number, found {raw!r}")
        return None
    return value


def _param(path: str, spec: Mapping[str, Any], problems: list[str]) -> Param | None:
    before = len(problems)
    kind = spec.get("type")
    if kind not in _FIELDS:
        problems.append(f'{path}.type: expected "float", "int" or "categorical", found {kind!r}')
        return None
    for key in spec:
        if key not in _FIELDS[kind]:
            problems.append(f"{path}.{key}: unknown field for a {kind} parameter "
                            f"(known: {', '.join(sorted(_FIELDS[kind]))})")  # fmt: skip
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            problems.append(f"{path}.choices: expected a non-empty list of values, found {choices!r}")
            return None
        bad = [c for c in choices if not isinstance(c, str | int | float | bool)]
        if bad:
            problems.append(f"{path}.choices: each choice must be a string, number or boolean, found {bad[0]!r}")
        if len({repr(c) for c in choices}) != len(choices):
            problems.append(f"{path}.choices: a choice is listed twice")
        return Param(path, kind, choices=tuple(choices)) if len(problems) == before else None
    ends = {}
    for end in ("low", "high"):
        if end not in spec:
            problems.append(f"{path}.{end}: missing")
        else:
            ends[end] = _number(spec[end], f"{path}.{end}", problems)
    step = _number(spec["step"], f"{path}.step", problems) if "step" in spec else None
    log = spec.get("log", False)
    unit = spec.get("unit")
    if not isinstance(log, bool):
        problems.append(f"{path}.log: expected true or false, found {log!r}")
    if unit is not None and unit not in UNITS:
        problems.append(f"{path}.unit: expected one of {', '.join(UNITS)}, found {unit!r}")
    low, high = ends.get("low"), ends.get("high")
    if kind == "int":
        for name, value in (("low", low), ("high", high), ("step", step)):
            if value is not None and value != value.to_integral_value():
                problems.append(f"{path}.{name}: an int parameter needs a whole number, found {_plain(value)}")
    if low is not None and high is not None and low >= high:
        problems.append(f"{path}: low ({_plain(low)}) must be below high ({_plain(high)})")
    if step is not None and step <= 0:
        problems.append(f"{path}.step: must be positive, found {_plain(step)}")
    if log is True and step is not None and step != 1:
        problems.append(f"{path}: a log range takes no step")
    if log is True and low is not None and low <= 0:
        problems.append(f"{path}.low: a log range must start above 0, found {_plain(low)}")
    if len(problems) > before:
        return None
    return Param(path, kind, low=low, high=high, step=step if not log else None, log=log, unit=unit)


def _collect(
    table: Mapping[str, Any], path: str, out: list[tuple[str, Mapping[str, Any]]], problems: list[str]
) -> None:
    for key, value in table.items():
        sub = f"{path}.{key}"
        if not isinstance(value, Mapping):
            problems.append(f'{sub}: expected a parameter table (type = "float", "int" or "categorical"), '
                            f"found {type(value).__name__} {value!r}")  # fmt: skip
        elif "type" in value:
            out.append((sub, value))
        else:
            _collect(value, sub, out, problems)


def parse_space(data: Mapping[str, Any], config_data: Mapping[str, Any], plugins: Plugins | None) -> Space:
    """Validate a search space against the config it tunes; `ConfigError` lists every problem, one per line."""
    problems: list[str] = []
    specs: list[tuple[str, Mapping[str, Any]]] = []
    for section, table in data.items():
        if section not in SECTIONS:
            problems.append(f"{section}: not a tunable section (tunable: {', '.join(SECTIONS)})")
        elif not isinstance(table, Mapping):
            problems.append(f"{section}: expected a table of parameters, found {type(table).__name__} {table!r}")
        else:
            _collect(table, section, specs, problems)
    params = [p for path, spec in specs if (p := _param(path, spec, problems)) is not None]
    for param in params:
        problems += _check_against_config(param, config_data, plugins)
    if not specs and not problems:
        problems.append(f"no parameter to tune: add a table such as [strategy.min_net_apr] under {', '.join(SECTIONS)}")
    if problems:
        raise ConfigError(problems)
    return Space(tuple(params))


def _check_against_config(param: Param, config_data: Mapping[str, Any], plugins: Plugins | None) -> list[str]:
    section = param.path.split(".", 1)[0]
    if section in ("risk_manager", "close_policy") and section not in config_data:
        return [f"{param.path}: the config has no [{section}] section (its kind) to tune"]
    lines: list[str] = []
    for label, value in param.probes():
        try:
            parse_config(apply(config_data, {param.path: value}), plugins)
        except ConfigError as exc:
            kind_wrong = False
            for problem in exc.problems:
                what = problem.split(": ", 1)[-1]
                kind_wrong |= what.startswith(("unknown key", "expected"))
                if what.startswith("unknown key"):
                    line = problem
                elif param.kind == "float" and what.startswith("expected an integer"):
                    line = f'{problem} (the space\'s {label}: {value!r}; a whole-number key takes type = "int")'
                else:
                    line = f"{problem} (the space's {label}: {value!r})"
                if line not in lines:
                    lines.append(line)
            if kind_wrong:  # the same for every value: say it once
                break
    return lines


def load_space(path: Path, config_data: Mapping[str, Any], plugins: Plugins | None) -> Space:
    """Read a space file and validate it against `config_data` (the config file's raw tables)."""
    data = read_toml(path)
    try:
        return parse_space(data, config_data, plugins)
    except ConfigError as exc:
        raise ConfigError([f"{path}: {p}" for p in exc.problems]) from None
