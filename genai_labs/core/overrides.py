"""``GENAI_LABS_*`` variables and keyword overrides: parsed, type-converted and applied to a profile (all labs).

Every profile field can be overridden with an environment variable ``GENAI_LABS_<FIELD>`` (nested fields joined by a
double underscore: ``GENAI_LABS_LAB2__LORA__R=8``) or a keyword argument of ``load_profile`` (``lab2__lora__r=8``).
:func:`env_overrides` reads the variables (an unknown name is an error that suggests the close ones),
:func:`apply_overrides` rebuilds the dataclass tree with the changes (each rebuilt dataclass checks itself once), and
:func:`resolve_path_overrides` makes relative paths absolute before ``genai-labs run`` starts kernels elsewhere.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from genai_labs.core.sources import is_world_source, looks_like_local_path
from genai_labs.core.validation import ENV_PREFIX, ConfigError, field_paths, hints, type_name

PROFILE_ENV = "GENAI_LABS_PROFILE"

# GENAI_LABS_* variables that are not profile fields, and who reads them; any other GENAI_LABS_* name must
# be a profile field (load_profile rejects typos).
NON_FIELD_ENV_VARS: dict[str, str] = {
    PROFILE_ENV: "the profile's name (genai_labs.core.profiles.load_profile)",
    "GENAI_LABS_CACHE": "the cache of the tiny world and of trained runs (genai_labs.core.folders.default_cache_dir)",
    "GENAI_LABS_RUN_DIR": "the run folder `genai-labs run` gives each notebook (genai_labs.core.run_figures)",
    "GENAI_LABS_LABS_DIR": "the folder of lab notebooks `genai-labs run` executes (genai_labs.instructor.runner)",
}
# Profile fields (override paths) that may name a local folder; otherwise they hold a hub id or a world source.
PATH_FIELDS = ("model", "dataset", "reward_model", "lab3__adapter_path")
# Non-field variables whose value is always a path.
PATH_ENV_VARS = ("GENAI_LABS_CACHE", "GENAI_LABS_RUN_DIR", "GENAI_LABS_LABS_DIR")

Changes = Mapping[str, tuple[Any, str]]  # {field path: (value, where it came from)}


def env_overrides(env: Mapping[str, str], root: type) -> dict[str, tuple[str, str]]:
    """``{field path: (value, source)}`` of the ``GENAI_LABS_*`` variables for settings class ``root``.

    An unknown name raises :class:`ConfigError` naming the close field names.
    """
    valid = field_paths(root)
    found: dict[str, tuple[str, str]] = {}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key in NON_FIELD_ENV_VARS:
            continue
        path = key[len(ENV_PREFIX) :].lower()
        if path not in valid:
            names = field_paths(root, groups=False) | {k[len(ENV_PREFIX) :].lower() for k in NON_FIELD_ENV_VARS}
            close = difflib.get_close_matches(path, sorted(names), n=3)
            hint = f" Did you mean {' or '.join(ENV_PREFIX + c.upper() for c in close)}?" if close else ""
            raise ConfigError(
                f"Unknown environment variable {key}: no profile field is called {path!r}.{hint} Rename or unset it. "
                "Profile fields are GENAI_LABS_<FIELD>, nested ones joined by a double underscore "
                f"(GENAI_LABS_LAB2__LORA__R=8; `genai-labs profile` lists them); the other GENAI_LABS_ variables "
                f"are {', '.join(NON_FIELD_ENV_VARS)}."
            )
        found[path] = (value, f"environment variable {key}")
    return found


def apply_overrides(obj: Any, changes: Changes, prefix: str = "") -> Any:
    """``obj`` with ``changes`` (``{path: (value, source)}``) applied, each dataclass rebuilt (and checked) once."""
    field_hints = hints(type(obj))
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, tuple[Any, str]]] = {}
    for path, (value, source) in changes.items():
        head, _, rest = path.partition("__")
        if head not in field_hints:
            close = difflib.get_close_matches(head, sorted(field_hints), n=3)
            raise ConfigError(
                f"Unknown setting {prefix + path!r} in {source}."
                + (f" Did you mean {' or '.join(repr(prefix + c) for c in close)}?" if close else "")
                + f" Valid names here: {', '.join(sorted(field_hints))} (nested settings use a double underscore, "
                "e.g. lab2__lora__r)."
            )
        if not rest:
            direct[head] = coerce(value, field_hints[head], name=prefix + head, source=source)
        elif dataclasses.is_dataclass(field_hints[head]):
            nested.setdefault(head, {})[rest] = (value, source)
        else:
            raise ConfigError(f"Setting {prefix + head!r} in {source} has no nested field {rest!r}.")
    for head, sub in nested.items():
        direct[head] = apply_overrides(getattr(obj, head), sub, prefix=f"{prefix}{head}__")
    try:
        return replace(obj, **direct) if direct else obj
    except ConfigError as err:  # a range check of the rebuilt dataclass: say which overrides were applied there
        applied = "; ".join(source for _, source in changes.values())
        raise ConfigError(f"{err} Overrides applied here: {applied}.") from None


def coerce(value: Any, hint: Any, *, name: str, source: str) -> Any:
    """Convert strings from the environment to the field's type; check other values' types (no bools for numbers)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if (value is None or (isinstance(value, str) and value.lower() in ("", "none"))) and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(value, inner[0], name=name, source=source)
    try:
        if origin is tuple:
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(
                coerce(v.strip() if isinstance(v, str) else v, args[0], name=name, source=source) for v in items if v != ""
            )
        if hint is bool:
            return _as_bool(value)
        if hint in (int, float) and isinstance(value, bool):
            raise ValueError(value)
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if hint is float:
            return float(value)
        if hint is str:
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"Setting {name!r} from {source} must be {type_name(hint)}; got {value!r}.") from None
    raise ConfigError(f"Setting {name!r} from {source} cannot be set this way (it is a group of settings).")


def _as_bool(value: Any) -> bool:
    """``true/false, 1/0, yes/no, on/off`` (any case) from the environment; a bool or an int as given."""
    if isinstance(value, str):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(value)
    if not isinstance(value, (bool, int)):
        raise ValueError(value)
    return bool(value)


def resolve_path_overrides(env: Mapping[str, str], base_dir: Path) -> dict[str, str]:
    """A copy of ``env`` whose relative local-path overrides are absolute against ``base_dir``.

    Used by ``genai-labs run`` before it starts notebook kernels, which run in ``labs/``: a
    ``GENAI_LABS_DATASET=data/world`` typed in the checkout must still name the checkout's folder there.
    Path-valued fields (:data:`PATH_FIELDS`) are resolved when the value exists under ``base_dir`` or reads
    as a path (:func:`~genai_labs.core.sources.looks_like_local_path`: ``./x``, ``../x``, ``a/b/c``); a hub id
    (``owner/name``) that is no folder there, or a tiny-world source, stays as it is. The variables in
    :data:`PATH_ENV_VARS` are always paths. Absolute and ``~`` paths are kept.
    """
    base = Path(base_dir).expanduser().absolute()
    resolved = dict(env)
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or not value or value.startswith("~") or Path(value).is_absolute():
            continue
        if key in PATH_ENV_VARS:
            make_absolute = True
        elif key not in NON_FIELD_ENV_VARS and key[len(ENV_PREFIX) :].lower() in PATH_FIELDS:
            make_absolute = not is_world_source(value) and ((base / value).exists() or looks_like_local_path(value))
        else:
            make_absolute = False
        if make_absolute:
            resolved[key] = str((base / value).resolve())
    return resolved
