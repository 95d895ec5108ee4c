import pytest

from scanflow.archive.terms import HalfTerm
from scanflow.errors import UsageError


@pytest.mark.parametrize("text,expected", [
    ("2026-27-autumn-1", "2026-27-autumn-1"),
    ("2026-27 Spring 2", "2026-27-spring-2"),
    ("2099-00-summer-1", "2099-00-summer-1"),
])
def test_parse_accepts_and_normalises(text, expected):
    assert str(HalfTerm.parse(text)) == expected


@pytest.mark.parametrize("text,fragment", [
    ("2026-autumn-1", "is not a half term"),
    ("2026-28-autumn-1", "runs from one year into the next (2026-27)"),
    ("2026-27-winter-1", "unknown season 'winter'"),
    ("2026-27-autumn-3", "is not a half term"),
])
def test_parse_rejects_with_a_fix(text, fragment):
    with pytest.raises(UsageError) as err:
        HalfTerm.parse(text)
    assert fragment in str(err.value)
    assert "2026-27-autumn-1" in str(err.value)  # the hint shows the right form


def test_order_and_previous():
    a1 = HalfTerm.parse("2026-27-autumn-1")
    assert a1.previous() == HalfTerm.parse("2025-26-summer-2")
    assert HalfTerm.parse("2026-27-spring-1").previous() == HalfTerm.parse("2026-27-autumn-2")
    assert a1.index < HalfTerm.parse("2026-27-autumn-2").index < HalfTerm.parse("2027-28-autumn-1").index
    assert a1.label == "Autumn 1 2026-27"
