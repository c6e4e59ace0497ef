from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coordination.errors import InvalidInputError
from coordination.quantity import format_quantity, parse_quantity, parse_resources


@pytest.mark.parametrize(
    ("value", "name", "expected"),
    [
        ("500m", "cpu", 500),
        ("2", "cpu", 2000),
        (2, "cpu", 2000),
        (0.25, "cpu", 250),
        ("1.5", "gpu", 1500),
        ("4Gi", "memory", 4 * 2**30),
        ("512Mi", "memory", 512 * 2**20),
        ("1G", "memory", 10**9),
        (8 * 1024**3, "memory", 8 * 2**30),
        ("1.5Gi", "memory", 3 * 2**29),
        ("100", "memory", 100),
        ("3", "licenses", 3000),
    ],
)
def test_parses(value: str | int | float, name: str, expected: int) -> None:
    assert parse_quantity(value, name) == expected


@pytest.mark.parametrize(
    ("value", "name", "reason"),
    [
        ("-1", "cpu", "negative"),
        (-2, "memory", "negative"),
        ("4Xi", "memory", "unknown unit"),
        ("4Gi", "cpu", "unknown unit"),
        ("lots", "cpu", "not a quantity"),
        (True, "cpu", "must be a number"),
        (None, "cpu", "must be a number"),
        (float("inf"), "cpu", "finite"),
    ],
)
def test_refuses_with_the_field_named(value: object, name: str, reason: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_resources({name: value})  # type: ignore[dict-item]
    assert info.value.field == f"resources.{name}"
    assert reason in info.value.reason


def test_zero_amounts_are_dropped() -> None:
    assert parse_resources({"cpu": 0, "memory": "1Ki"}) == {"memory": 1024}


@given(st.integers(min_value=0, max_value=2**50))
def test_memory_round_trips(amount: int) -> None:
    assert parse_quantity(format_quantity("memory", amount), "memory") == amount


@given(st.integers(min_value=0, max_value=10**9))
def test_milli_round_trips(amount: int) -> None:
    assert parse_quantity(format_quantity("cpu", amount), "cpu") == amount
