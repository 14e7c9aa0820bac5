"""Parameter parsing: every value is bounded and typed, with the allowed range in the error."""

import pytest

from lessons.params import BadInput, Param

AGE = Param("conn_max_age", "seconds_or_none", 60, 0, 3600)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (None, 60),
        ("", 60),
        ("0", 0),
        ("3600", 3600),
        ("none", None),
        ("None", None),
        (30, 30),
    ],
)
def test_seconds_or_none_accepts_numbers_and_none(raw, value):
    assert AGE.parse(raw) == value


@pytest.mark.parametrize("raw", ["-1", "3601", "1.5", "inf", "abc", True])
def test_seconds_or_none_rejects_the_rest_with_the_range(raw):
    with pytest.raises(BadInput) as caught:
        AGE.parse(raw)
    assert caught.value.field == "conn_max_age"
    assert caught.value.allowed == "0 to 3600 (seconds), or none for no limit"


def test_float_params_keep_fractions():
    timeout = Param("timeout", "float", 5.0, 0.1, 30)
    assert timeout.parse("0.5") == 0.5
    with pytest.raises(BadInput):
        timeout.parse("0.05")


@pytest.mark.parametrize(
    ("raw", "value"),
    [("true", True), ("FALSE", False), ("on", True), (False, False), (None, False)],
)
def test_bools(raw, value):
    assert Param("health_checks", "bool", False).parse(raw) is value
