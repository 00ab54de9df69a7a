"""Name and id validation (no Redis)."""

from __future__ import annotations

import pytest

from thoonk_actors._errors import InvalidIdError, InvalidNameError, UsageError
from thoonk_actors.contract import (
    MAX_ID_BYTES,
    MAX_NAME_BYTES,
    id_arg,
    id_bytes,
    id_text,
    validate_id,
    validate_name,
)


@pytest.mark.parametrize("name", ["emails", "a", "ünïcødé", "with space", "a:b", "x.y-z_1", "日本"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "must not be empty"),
        ("a\nb", "control character"),
        ("a\tb", "control character"),
        ("a\0b", "control character"),
        ("a\x7fb", "control character"),
        ("a\x85b", "control character"),
        ("a{b", "braces are reserved"),
        ("a}b", "braces are reserved"),
        ("a\ud800b", "not valid UTF-8"),
        ("x" * (MAX_NAME_BYTES + 1), "bytes long"),
        ("é" * (MAX_NAME_BYTES // 2 + 1), "bytes long"),
    ],
)
def test_invalid_names(name: str, fragment: str) -> None:
    with pytest.raises(InvalidNameError, match=fragment):
        validate_name(name, kind="feed")


def test_name_at_the_limit_is_fine() -> None:
    assert validate_name("x" * MAX_NAME_BYTES) == "x" * MAX_NAME_BYTES


@pytest.mark.parametrize("name", [None, b"emails", 3])
def test_name_must_be_str(name: object) -> None:
    with pytest.raises(InvalidNameError, match="must be a str"):
        validate_name(name)


def test_name_errors_are_usage_errors() -> None:
    assert issubclass(InvalidNameError, UsageError)
    assert issubclass(InvalidIdError, UsageError)


@pytest.mark.parametrize("value", ["1", "de7fd8de-dfeb-43eb-a493-9d265c75fd27", "a\nb", "a:b{c}"])
def test_valid_ids(value: str) -> None:
    assert validate_id(value) == value


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "must not be empty"),
        ("a\0b", "NUL"),
        ("x" * (MAX_ID_BYTES + 1), "bytes long"),
        ("\ud800", "not valid UTF-8"),
        (None, "must be a str"),
        (b"x", "must be a str"),
        (7, "must be a str"),
    ],
)
def test_invalid_ids(value: object, fragment: str) -> None:
    with pytest.raises(InvalidIdError, match=fragment):
        validate_id(value)
    with pytest.raises(InvalidIdError, match=fragment):
        id_arg(value)


@pytest.mark.parametrize(
    "value", ["1", "é", "x" * MAX_ID_BYTES, "\udcff\udcfeid", "a\nb", "a:b{c}"]
)
def test_id_arg_is_validate_id_then_id_bytes(value: str) -> None:
    assert id_arg(value) == id_bytes(validate_id(value))


def test_id_arg_accepts_str_subclasses_like_validate_id() -> None:
    class Name(str):
        pass

    assert id_arg(Name("job-1")) == b"job-1"
    with pytest.raises(InvalidIdError, match="claim token"):
        id_arg("", what="claim token")


def test_id_message_names_the_value() -> None:
    with pytest.raises(InvalidIdError, match="worker id"):
        validate_id("", what="worker id")


def test_ids_round_trip_through_bytes() -> None:
    assert id_bytes("é") == b"\xc3\xa9"
    # An id another client wrote as arbitrary bytes survives a round trip.
    raw = b"\xff\xfeid"
    assert id_bytes(id_text(raw)) == raw
    assert validate_id(id_text(raw)) == id_text(raw)
