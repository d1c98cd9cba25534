"""Structure raw TOML data into attrs config classes, collecting every problem with its key path.

cattrs stops at the first failing `__init__` (an attrs validator), so this walker checks each field on its own —
type, then validator — and only builds the class when its subtree has no problem. Leaf values go through the
shared converter. Fields marked with `plugin_section(category)` are validated by the class the plugin registered.
"""

from __future__ import annotations

import difflib
import enum
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Final, Union

import attrs
import cattrs

from fundarb_core.plugins import NOUN, Category, Plugins

__all__ = ["INVALID", "PluginSection", "Walker", "plugin_section"]

_PLUGIN_KEY: Final = "fundarb_plugin_category"


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Final = _Invalid()


@attrs.frozen
class PluginSection:
    """A config section handled by a plugin: its registered `kind` and its settings, built by the plugin's class."""

    kind: str
    config: Any


def plugin_section(category: Category, **kwargs: Any) -> Any:
    """Declare an attrs field whose value (or values, for a dict) is a `PluginSection` of `category`."""
    metadata = dict(kwargs.pop("metadata", {}))
    metadata[_PLUGIN_KEY] = category
    return attrs.field(metadata=metadata, **kwargs)


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return {"str": "a string", "int": "an integer", "bool": "true or false", "Decimal": "a decimal string"}.get(
            tp.__name__, tp.__name__
        )
    return str(tp)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Walker:
    """One validation pass; `problems` collects `"key.path: what is wrong"` lines."""

    def __init__(self, converter: cattrs.Converter, plugins: Plugins | None) -> None:
        self.converter = converter
        self.plugins = plugins
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> _Invalid:
        self.problems.append(f"{path or '<top>'}: {message}")
        return INVALID

    # -- dispatch ----------------------------------------------------------------------------------------------

    def value(self, data: Any, tp: Any, path: str, category: Category | None = None) -> Any:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if category is not None and tp is PluginSection:
            return self.plugin(data, category, path)
        if origin in (Union, types.UnionType):
            non_none = [a for a in args if a is not type(None)]
            if data is None and len(non_none) < len(args):
                return None
            if len(non_none) == 1:
                return self.value(data, non_none[0], path, category)
            return self.leaf(data, tp, path)
        if origin in (dict, Mapping, typing.Mapping) or tp is dict:
            if not isinstance(data, Mapping):
                return self.problem(path, f"expected a table, found {type(data).__name__} {data!r}")
            _, val_tp = args or (str, Any)
            out = {}
            for key, item in data.items():
                out[key] = self.value(item, val_tp, _join(path, str(key)), category)
            return INVALID if any(v is INVALID for v in out.values()) else out
        if origin in (list, tuple, Sequence) or tp in (list, tuple):
            if isinstance(data, str | bytes) or not isinstance(data, Sequence):
                return self.problem(path, f"expected a list, found {type(data).__name__} {data!r}")
            item_tp = args[0] if args else Any
            items = [self.value(item, item_tp, _join(path, i), category) for i, item in enumerate(data)]
            if any(v is INVALID for v in items):
                return INVALID
            return tuple(items) if origin is tuple else items
        if origin is typing.Literal:
            if data not in args:
                allowed = ", ".join(repr(a) for a in args)
                return self.problem(path, f"expected one of {allowed}, found {data!r}")
            return data
        if isinstance(tp, type) and attrs.has(tp):
            return self.attrs_class(data, tp, path)
        if tp is Any:
            return data
        return self.leaf(data, tp, path)

    def leaf(self, data: Any, tp: Any, path: str) -> Any:
        try:
            return self.converter.structure(data, tp)
        except (ValueError, TypeError) as exc:
            return self.problem(path, str(exc) or f"expected {_type_name(tp)}, found {data!r}")
        except cattrs.BaseValidationError as exc:
            inner = exc.exceptions[0] if exc.exceptions else exc
            return self.problem(path, str(inner))

    # -- attrs classes -----------------------------------------------------------------------------------------

    def attrs_class(self, data: Any, cls: type[Any], path: str, *, skip: frozenset[str] = frozenset()) -> Any:
        if not isinstance(data, Mapping):
            return self.problem(path, f"expected a table, found {type(data).__name__} {data!r}")
        attrs.resolve_types(cls)
        # Keys are the `__init__` names: a private attribute `_x` is written `x` in the file.
        fields = {f.alias or f.name: f for f in attrs.fields(cls) if f.init}
        before = len(self.problems)
        for key in data:
            if key in skip:
                continue
            if key not in fields:
                hint = difflib.get_close_matches(str(key), list(fields), n=1)
                suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
                self.problem(_join(path, str(key)), f"unknown key{suffix}")
        kwargs: dict[str, Any] = {}
        for name, field in fields.items():
            sub = _join(path, name)
            if name not in data:
                if field.default is attrs.NOTHING:
                    self.problem(sub, "missing")
                continue
            category = field.metadata.get(_PLUGIN_KEY)
            value = self.value(data[name], field.type, sub, category)
            if value is INVALID:
                continue
            if field.validator is not None:
                try:
                    field.validator(None, field, value)
                except (ValueError, TypeError) as exc:
                    self.problem(sub, _validator_message(exc, value))
                    continue
                except AttributeError:
                    pass  # the validator reads other fields of the instance: it runs when the class is built
            kwargs[name] = value
        if len(self.problems) > before:
            return INVALID
        try:
            return cls(**kwargs)
        except (ValueError, TypeError) as exc:
            return self.problem(path, str(exc))

    # -- plugin sections ---------------------------------------------------------------------------------------

    def plugin(self, data: Any, category: Category, path: str) -> Any:
        if not isinstance(data, Mapping):
            return self.problem(path, f"expected a table, found {type(data).__name__} {data!r}")
        kind = data.get("kind")
        if kind is None:
            return self.problem(_join(path, "kind"), f"missing (which {NOUN[category]} to use)")
        if not isinstance(kind, str):
            return self.problem(_join(path, "kind"), f"expected a string, found {kind!r}")
        if self.plugins is None:
            return PluginSection(kind, {k: v for k, v in data.items() if k != "kind"})
        registry = self.plugins.registry
        if (category, kind) not in registry:
            known = ", ".join(registry.names(category)) or "none"
            return self.problem(
                _join(path, "kind"),
                f"unknown {NOUN[category]} {kind!r} (known: {known}){self.plugins.broken_hint()}",
            )
        registration = registry.get(category, kind)
        if registration.config_cls is None:
            extra = [k for k in data if k != "kind"]
            for key in extra:
                self.problem(_join(path, key), f"unknown key ({NOUN[category]} {kind!r} takes no settings)")
            return INVALID if extra else PluginSection(kind, None)
        config = self.attrs_class(data, registration.config_cls, path, skip=frozenset({"kind"}))
        return INVALID if config is INVALID else PluginSection(kind, config)


def _validator_message(exc: Exception, value: Any) -> str:
    text = str(exc)
    # attrs' own validators say "'name' must be ... : value"; keep the part after the quoted name.
    if text.startswith("'") and "' " in text:
        text = text.split("' ", 1)[1]
    if isinstance(value, enum.Enum):
        value = value.value
    return text if repr(value) in text or str(value) in text else f"{text}, found {value}"
