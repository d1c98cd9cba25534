"""The error hierarchy: one root, families under it, built-ins subclassed where the meaning matches."""

from __future__ import annotations

import importlib
import re

import pytest

from fundarb_core.errors import (
    AmbiguousOutcome,
    ConfigError,
    ExecutionError,
    FundarbError,
    PluginError,
    RateLimited,
    StoreError,
    VenueError,
    VenueRejected,
    VenueUnavailable,
)


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        (ConfigError, (FundarbError, ValueError)),
        (PluginError, (FundarbError,)),
        (VenueError, (FundarbError,)),
        (VenueUnavailable, (VenueError,)),
        (RateLimited, (VenueUnavailable, VenueError)),
        (VenueRejected, (VenueError,)),
        (AmbiguousOutcome, (VenueError,)),
        (ExecutionError, (FundarbError,)),
        (StoreError, (FundarbError,)),
    ],
)
def test_hierarchy(error: type[Exception], bases: tuple[type[Exception], ...]) -> None:
    for base in bases:
        assert issubclass(error, base)
    assert issubclass(error, FundarbError)


def test_families_do_not_overlap() -> None:
    assert not issubclass(VenueRejected, VenueUnavailable)
    assert not issubclass(AmbiguousOutcome, VenueUnavailable)
    assert not issubclass(AmbiguousOutcome, VenueRejected)
    assert not issubclass(PluginError, ValueError)


def test_config_error_joins_its_problems() -> None:
    error = ConfigError(["a.b: missing", "c: unknown key"])
    assert error.problems == ("a.b: missing", "c: unknown key")
    assert str(error) == "a.b: missing\nc: unknown key"
    assert str(ConfigError([])) == "invalid configuration"
    with pytest.raises(ValueError, match=r"a\.b: missing"):
        raise error


def test_plugin_error_names_the_plugin() -> None:
    error = PluginError("plugin fundarb-x: broken", plugin="fundarb-x")
    assert error.plugin == "fundarb-x"
    assert PluginError("no plugin").plugin is None


def test_venue_error_carries_venue_status_and_code() -> None:
    error = VenueError("Order would immediately trigger.", venue="aster", status=400, code=-2021)
    assert (error.venue, error.status, error.code, error.message) == (
        "aster",
        400,
        -2021,
        "Order would immediately trigger.",
    )
    assert str(error) == "[aster] HTTP 400 code -2021: Order would immediately trigger."
    assert str(VenueError("down", venue="lighter")) == "[lighter]: down"


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (VenueError("x", venue="v"), False),
        (VenueUnavailable("timeout before send", venue="v", status=503), True),
        (RateLimited("slow down", venue="v", retry_after=1.5), True),
        (VenueRejected("post only would cross", venue="v", reason="post_only_would_cross"), False),
        (AmbiguousOutcome("reply lost", venue="v", client_order_id="c-1"), False),
    ],
)
def test_transient_flag(error: VenueError, transient: bool) -> None:
    assert error.transient is transient


def test_family_details() -> None:
    limited = RateLimited("slow down", venue="aster", retry_after=2.0)
    assert (limited.status, limited.retry_after) == (429, 2.0)
    rejected = VenueRejected("margin", venue="lighter", reason="insufficient_margin", code=21706)
    assert (rejected.reason, rejected.code) == ("insufficient_margin", 21706)
    ambiguous = AmbiguousOutcome("timeout after send", venue="aster", client_order_id="fa-1-0")
    assert ambiguous.client_order_id == "fa-1-0"
    assert "[aster]" in str(ambiguous)


def test_every_class_a_docstring_names_lives_where_it_says() -> None:
    import fundarb_core.errors as errors

    named = {
        (module, name)
        for error in vars(errors).values()
        if isinstance(error, type) and issubclass(error, FundarbError)
        for module, name in re.findall(r"`(fundarb_core(?:\.\w+)*)\.([A-Z]\w+)`", error.__doc__ or "")
    }
    assert ("fundarb_core.model", "RejectReason") in named
    for module, name in named:
        assert name in importlib.import_module(module).__all__, f"{module} exports no {name}"
