"""The checks every profile dataclass runs on itself in ``__post_init__`` (all labs' settings).

Each check raises :class:`ConfigError` naming the setting the way users spell it (dotted path, environment
variable, ``load_profile`` keyword), its value and what it accepts. The path of a nested dataclass (``lab3.ppo``)
comes from the dataclass tree under the class marked with :func:`settings_root` (``core.profiles.Profile``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import types
import typing
from dataclasses import fields
from typing import Any

ENV_PREFIX = "GENAI_LABS_"


class ConfigError(ValueError):
    """A profile name or an override is not valid; the message names the field and the fix."""


_ROOTS: list[type] = []  # the classes marked with settings_root (one: core.profiles.Profile)


def settings_root(cls: type) -> type:
    """Class decorator: ``cls`` is the top of a settings tree, so error messages spell nested fields from it."""
    _ROOTS.append(cls)
    class_prefixes.cache_clear()
    return cls


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    """The resolved field types of a dataclass."""
    return typing.get_type_hints(cls)


@functools.cache
def class_prefixes() -> dict[type, str]:
    """Override prefix of each dataclass under the settings roots: ``{PPOConfig: "lab3__ppo__", ...}``."""
    prefixes: dict[type, str] = {}

    def walk(cls: type, prefix: str) -> None:
        prefixes[cls] = prefix
        for f in fields(cls):
            hint = hints(cls)[f.name]
            if dataclasses.is_dataclass(hint):
                walk(hint, f"{prefix}{f.name}__")

    for root in _ROOTS:
        walk(root, "")
    return prefixes


def field_paths(root: type, *, groups: bool = True) -> set[str]:
    """Every override path under ``root`` (``lab2__lora__r``), with or without the groups (``lab2__lora``)."""
    paths: set[str] = set()

    def walk(cls: type, prefix: str) -> None:
        for f in fields(cls):
            nested = dataclasses.is_dataclass(hints(cls)[f.name])
            if groups or not nested:
                paths.add(prefix + f.name)
            if nested:
                walk(hints(cls)[f.name], f"{prefix}{f.name}__")

    walk(root, "")
    return paths


def _setting(config: object, name: str) -> str:
    """How users spell field ``name`` of ``config`` (error messages): dotted path, variable, keyword."""
    path = class_prefixes().get(type(config), "") + name
    return f"{path.replace('__', '.')} ({ENV_PREFIX}{path.upper()}=..., or load_profile({path}=...))"


def require(config: object, name: str, ok: bool, accepted: str) -> None:
    """Raise ConfigError naming the field, its value and what it accepts unless ``ok``."""
    if not ok:
        raise ConfigError(f"Setting {_setting(config, name)} is {getattr(config, name)!r}; it must be {accepted}.")


_COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def bounds(
    config: object,
    name: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    note: str = "",
) -> None:
    """Check a number field against open (gt/lt) and closed (ge/le) bounds; ``note`` explains special values."""
    limits = {op: limit for op, limit in ((">", gt), (">=", ge), ("<", lt), ("<=", le)) if limit is not None}
    ok = all(_COMPARE[op](getattr(config, name), limit) for op, limit in limits.items())
    require(config, name, ok, " and ".join(f"{op} {limit}" for op, limit in limits.items()) + note)


def one_of(config: object, name: str, choices: tuple[str, ...]) -> None:
    """The field holds one of ``choices``."""
    require(config, name, getattr(config, name) in choices, "one of " + ", ".join(repr(c) for c in choices))


def non_empty(config: object, *names: str) -> None:
    """Each named string field holds more than whitespace."""
    for name in names:
        require(config, name, bool(getattr(config, name).strip()), "a non-empty string")


def dropout_rate(config: object, name: str) -> None:
    """A dropout probability in [0, 1) (None too where the field allows it: the model's own rate)."""
    value = getattr(config, name)
    optional = type(None) in typing.get_args(hints(type(config))[name])
    accepted = "in [0, 1)" + (" or None (the model's own)" if optional else "")
    require(config, name, value is None or 0 <= value < 1, accepted)


def _type_ok(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if origin is tuple:
        return isinstance(value, tuple) and all(_type_ok(item, args[0]) for item in value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, hint)


def type_name(hint: Any) -> str:
    """How an error message names a field type ("an int (a whole number, not True/False)")."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in args)
    if origin is tuple:
        return f"a tuple of {type_name(args[0])} (comma-separated in the environment)"
    names = {
        int: "an int (a whole number, not True/False)",
        float: "a float (a finite number)",
        bool: "a bool (true/false, 1/0, yes/no, on/off)",
        str: "a string",
        type(None): "None",
    }
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def check_types(config: object) -> None:
    """Every field holds its declared type (bools are not ints, floats are finite)."""
    for f in fields(config):
        hint, value = hints(type(config))[f.name], getattr(config, f.name)
        if not _type_ok(value, hint):
            raise ConfigError(f"Setting {_setting(config, f.name)} must be {type_name(hint)}; got {value!r}.")
