"""Frozen-dataclass configuration loaded from YAML, strictly.

Every stage describes its settings as a frozen dataclass whose fields may
carry ``metadata={"min": ..., "max": ..., "choices": ...}`` (``"min_open":
True`` / ``"max_open": True`` make a bound exclusive). :func:`load_config`
builds one from a YAML file or a dict, rejecting unknown keys, wrong types,
non-finite numbers (YAML ``.nan``, ``.inf``) and out-of-range values with a
message that names the key path. :func:`option_type` turns the same metadata
into the click type of a command-line option that sets the field, so a range
is declared once.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path

import yaml

from polyhpc.errors import ConfigError


def _check_value(name: str, value, field: dataclasses.Field):
    meta = field.metadata
    if isinstance(value, (list, tuple)) and ("min" in meta or "max" in meta):
        for i, item in enumerate(value):
            _check_value(f"{name}[{i}]", item, field)
        return
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{name}: {value!r} is not one of {list(meta['choices'])}")
    if value is None:
        return
    if "min" in meta:
        if meta.get("min_open") and value <= meta["min"]:
            raise ConfigError(f"{name}: {value!r} must be above {meta['min']}")
        if value < meta["min"]:
            raise ConfigError(f"{name}: {value!r} is below the minimum {meta['min']}")
    if "max" in meta:
        if meta.get("max_open") and value >= meta["max"]:
            raise ConfigError(f"{name}: {value!r} must be below {meta['max']}")
        if value > meta["max"]:
            raise ConfigError(f"{name}: {value!r} is above the maximum {meta['max']}")


def _convert(name: str, value, hint):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        others = [arg for arg in args if arg is not type(None)]
        if len(others) == 1:  # Optional[X]: X's own message says what is wrong
            return _convert(name, value, others[0])
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(name, value, arg)
            except ConfigError:
                continue
        raise ConfigError(f"{name}: {value!r} does not fit {hint}")
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a mapping, got {value!r}")
        return _build(hint, value, name + ".")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{name}: expected {len(args)} items, got {len(value)}")
            return tuple(_convert(f"{name}[{i}]", v, a) for i, (v, a) in
                         enumerate(zip(value, args, strict=True)))
        item = args[0] if args else typing.Any
        converted = [_convert(f"{name}[{i}]", v, item) for i, v in enumerate(value)]
        return tuple(converted) if origin is tuple else converted
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{name}: expected a finite number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {value!r}")
        return value
    return value


def _build(cls, data: dict, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(prefix + k for k in unknown)}; "
                          f"allowed: {', '.join(sorted(fields))}")
    kwargs = {}
    for key, value in data.items():
        converted = _convert(prefix + key, value, hints[key])
        _check_value(prefix + key, converted, fields[key])
        kwargs[key] = converted
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{prefix or cls.__name__}: {exc}") from None


def load_config(source: Path | str | dict | None, cls):
    """Build the frozen dataclass ``cls`` from a YAML file, a dict or defaults.

    Raises
    ------
    ConfigError
        Unknown key, wrong type or out-of-range value (the message names it).
    """
    if source is None:
        return cls()
    if isinstance(source, dict):
        return _build(cls, source)
    path = Path(source)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return _build(cls, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def option_type(cls, name: str):
    """The click type of an option that sets field ``name`` of config class ``cls``.

    The field's ``min``/``max`` metadata (and ``min_open``/``max_open``)
    become a ``click.IntRange`` or ``click.FloatRange``, so the command line
    refuses what :func:`load_config` refuses, with the option named, e.g.
    ``@click.option("--chains", type=option_type(BuildSettings, "chains"))``.
    Non-finite floats are refused for every option by the CLI's command class.
    """
    import click

    fields = {f.name: f for f in dataclasses.fields(cls)}
    if name not in fields:
        raise KeyError(f"{cls.__name__} has no field {name!r}")
    hint = typing.get_type_hints(cls)[name]
    kinds = {hint} | set(typing.get_args(hint))
    meta = fields[name].metadata
    bounds = {"min": meta.get("min"), "max": meta.get("max"),
              "min_open": bool(meta.get("min_open")), "max_open": bool(meta.get("max_open"))}
    if int in kinds and float not in kinds:
        if bounds["min_open"] or bounds["max_open"]:
            raise ValueError(f"{cls.__name__}.{name}: give integer bounds as inclusive")
        return click.IntRange(min=bounds["min"], max=bounds["max"])
    if float in kinds:
        return click.FloatRange(**bounds)
    raise TypeError(f"{cls.__name__}.{name} is not a number field ({hint})")


def to_dict(config) -> dict:
    """Plain-data form of a config dataclass (tuples become lists)."""

    def plain(value):
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(config))
