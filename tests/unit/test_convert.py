"""The shared converter: exact decimals, durations as text, datetimes in UTC, secrets from the environment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fundarb_core.convert import (
    format_duration,
    get_converter,
    parse_datetime,
    parse_decimal,
    parse_duration,
    resolve_secret,
)
from fundarb_core.secrets import MASK, Secret

# -- durations -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("500ms", timedelta(milliseconds=500)),
        ("8h", timedelta(hours=8)),
        ("2d", timedelta(days=2)),
        ("1w2d", timedelta(days=9)),
        ("1.5h", timedelta(minutes=90)),
        ("1m1ms", timedelta(minutes=1, milliseconds=1)),
        (" 1h 30m ", timedelta(hours=1, minutes=30)),
        (90, timedelta(seconds=90)),
        (0.25, timedelta(milliseconds=250)),
    ],
)
def test_parse_duration(text: str | float, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(seconds=30), "30s"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(0), "0s"),
        (timedelta(days=9, seconds=1), "9d1s"),
        (timedelta(microseconds=1499), "1ms"),
        (timedelta(microseconds=1500), "2ms"),
    ],
)
def test_format_duration(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected


@pytest.mark.parametrize("text", ["", "5", "1x", "h", "1h-30m", "30s1", "-5s", "1.h", True, None, [1]])
def test_parse_duration_refuses_what_it_cannot_read(text: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        parse_duration(text)


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), 10**20, "99999999999w"])
def test_parse_duration_refuses_negative_or_unbounded_numbers(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


def test_format_duration_refuses_negative() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        format_duration(timedelta(seconds=-1))


millisecond_durations = st.integers(min_value=0, max_value=timedelta.max // timedelta(milliseconds=1)).map(
    lambda ms: timedelta(milliseconds=ms)
)


@given(millisecond_durations)
def test_duration_round_trips_through_text(value: timedelta) -> None:
    text = format_duration(value)
    assert parse_duration(text) == value
    assert format_duration(parse_duration(text)) == text


@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["w", "d", "h", "m", "s", "ms"])), min_size=1))
def test_any_written_duration_reads_as_the_sum_of_its_parts(parts: list[tuple[int, str]]) -> None:
    unit = {
        "w": timedelta(weeks=1),
        "d": timedelta(days=1),
        "h": timedelta(hours=1),
        "m": timedelta(minutes=1),
        "s": timedelta(seconds=1),
        "ms": timedelta(milliseconds=1),
    }
    text = "".join(f"{count}{u}" for count, u in parts)
    expected = sum((count * unit[u] for count, u in parts), timedelta(0))
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


# -- decimals --------------------------------------------------------------------------------------------------


def test_decimal_from_string_and_int_is_exact() -> None:
    assert parse_decimal("0.1") == Decimal("0.1")
    assert parse_decimal(" 12.50 ") == Decimal("12.50")
    assert parse_decimal(7) == Decimal(7)


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (0.1, TypeError, r'expected a decimal string such as "0\.1", found the float 0\.1'),
        (True, TypeError, "expected a decimal string"),
        ("abc", ValueError, "expected a decimal number, found 'abc'"),
        ("NaN", ValueError, "finite"),
        ("Infinity", ValueError, "finite"),
        (Decimal("NaN"), ValueError, "finite"),
        (None, TypeError, "expected a decimal string"),
    ],
)
def test_decimal_refuses_inexact_or_non_numbers(value: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        parse_decimal(value)


def test_converter_keeps_decimals_as_strings() -> None:
    converter = get_converter()
    assert converter.unstructure(Decimal("0.00010")) == "0.00010"
    assert converter.structure("0.00010", Decimal) == Decimal("0.00010")


# -- datetimes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01T08:00:00Z", datetime(2026, 3, 1, 8, tzinfo=UTC)),
        ("2026-03-01T10:00:00+02:00", datetime(2026, 3, 1, 8, tzinfo=UTC)),
        ("2026-03-01T08:00:00", datetime(2026, 3, 1, 8, tzinfo=UTC)),
        (date(2026, 3, 1), datetime(2026, 3, 1, tzinfo=UTC)),
        (datetime(2026, 3, 1, 9, tzinfo=timezone(timedelta(hours=1))), datetime(2026, 3, 1, 8, tzinfo=UTC)),
    ],
)
def test_datetimes_are_utc(value: object, expected: datetime) -> None:
    result = parse_datetime(value)
    assert result == expected
    assert result.tzinfo == UTC


def test_datetime_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_datetime("yesterday")


# -- secrets ---------------------------------------------------------------------------------------------------


def test_env_secret_is_read_from_the_environment() -> None:
    secret = resolve_secret("env:EXCHANGE_KEY", {"EXCHANGE_KEY": "sk-live-from-env-42"})
    assert secret.reveal() == "sk-live-from-env-42"
    assert str(secret) == MASK
    assert "sk-live" not in repr(secret)


@pytest.mark.parametrize("environ", [{}, {"EXCHANGE_KEY": ""}])
def test_env_secret_unset_or_empty_is_reported(environ: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="environment variable EXCHANGE_KEY is not set"):
        resolve_secret("env:EXCHANGE_KEY", environ)


def test_literal_secret_and_refusals() -> None:
    assert resolve_secret("literal-key-value").reveal() == "literal-key-value"
    assert resolve_secret(Secret("kept-as-is")) == Secret("kept-as-is")
    with pytest.raises(ValueError, match="needs a variable name"):
        resolve_secret("env:", {})
    with pytest.raises(ValueError, match="must not be empty"):
        resolve_secret("")
    with pytest.raises(TypeError):
        resolve_secret(12345)


def test_converter_masks_secrets_on_the_way_out() -> None:
    assert get_converter().unstructure(Secret("sk-live-unstructure")) == MASK
