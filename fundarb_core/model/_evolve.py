"""`attrs.evolve` for the hot paths: a copy that converts and validates only the fields it changes.

The monitor copies every open position two or three times a tick (its marks, then the stored version). Each
`attrs.evolve` runs every field's converter and validator again, although the fields it does not change were checked
when the record was built and a frozen record cannot have changed since. `evolve` runs them for the changed fields
alone. That is only the same as `attrs.evolve` for a class whose validators each look at their own field, whose
`__init__` is the one attrs wrote, and whose records are never built with validators switched off: a class says so
by being decorated `@checks_fields_alone`. For any other class, or one it cannot copy that way (not slotted, a
pre- or post-init hook, an aliased field, an `attrs.Converter`, a cached hash), `evolve` is `attrs.evolve` itself.
A property test checks that both give the same copy or the same error.
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs
from attrs import AttrsInstance

__all__ = ["checks_fields_alone", "evolve"]

T = TypeVar("T", bound=AttrsInstance)
C = TypeVar("C", bound=type)

_DECLARED: set[type] = set()  # classes decorated `checks_fields_alone`
_PLANS: dict[type, dict[str, attrs.Attribute[Any]] | None] = {}  # class -> its fields by name, or None: attrs.evolve


def checks_fields_alone(cls: C) -> C:
    """Declare that `cls` (a frozen, slotted attrs class) validates each field on its own, with the `__init__` attrs
    writes: `evolve` may then copy it checking only the changed fields."""
    _DECLARED.add(cls)
    _PLANS.pop(cls, None)
    return cls


def _plan(cls: type) -> dict[str, attrs.Attribute[Any]] | None:
    fields = attrs.fields(cls)
    simple = (
        cls in _DECLARED
        and "__slots__" in cls.__dict__
        and "_attrs_cached_hash" not in cls.__slots__  # type: ignore[attr-defined]  # cache_hash: a hidden slot
        and not hasattr(cls, "__attrs_post_init__")
        and not hasattr(cls, "__attrs_pre_init__")
        and all(a.init and a.alias == a.name and (a.converter is None or _plain(a.converter)) for a in fields)
    )
    plan = {a.name: a for a in fields} if simple else None
    _PLANS[cls] = plan
    return plan


def _plain(converter: object) -> bool:
    """A converter that is a function of the value alone (not an `attrs.Converter` asking for the instance)."""
    return callable(converter) and not isinstance(converter, attrs.Converter)


def evolve(inst: T, /, **changes: Any) -> T:
    """`attrs.evolve(inst, **changes)`: a copy with `changes`, each converted and validated as `attrs` would."""
    cls = type(inst)
    plan = _PLANS[cls] if cls in _PLANS else _plan(cls)
    if plan is None or not changes.keys() <= plan.keys():
        return attrs.evolve(inst, **changes)  # type: ignore[misc]  # (attrs plugin: T is bound) and its errors
    new = object.__new__(cls)
    setter = object.__setattr__
    for name in plan:
        setter(new, name, changes[name] if name in changes else getattr(inst, name))
    names = changes.keys() if len(changes) == 1 else [name for name in plan if name in changes]  # attrs' order
    for name in names:
        field = plan[name]
        if field.converter is not None:
            setter(new, name, field.converter(changes[name]))  # type: ignore[operator]  # plain (see `_plain`)
    if attrs.validators.get_disabled():
        return new
    for name in names:
        field = plan[name]
        if field.validator is not None:
            field.validator(new, field, getattr(new, name))
    return new
