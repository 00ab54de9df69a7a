"""Codecs (no Redis)."""

from __future__ import annotations

import json
import math

import pytest

from thoonk_actors._errors import PayloadError, PayloadTooLargeError
from thoonk_actors.contract import DEFAULT_MAX_SIZE, Codec, JsonCodec, RawCodec


def test_json_is_compact_utf8_like_json_stringify() -> None:
    codec = JsonCodec()
    assert codec.encode({"to": "a@b", "n": [1, 2]}) == b'{"to":"a@b","n":[1,2]}'
    assert codec.encode("x") == b'"x"'  # JS stores a string item with its quotes
    assert codec.encode("é日") == '"é日"'.encode()
    assert codec.encode(None) == b"null"


@pytest.mark.parametrize("value", [{"a": [1, 2.5, None, True]}, "x", 0, [], "é\n\0"])
def test_json_round_trip(value: object) -> None:
    codec = JsonCodec()
    assert codec.decode(codec.encode(value)) == value
    assert codec.decode_result(codec.encode(value)) == value


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", math.nan, math.inf])
def test_json_refuses_what_json_parse_cannot_read(value: object) -> None:
    with pytest.raises(PayloadError, match="cannot encode"):
        JsonCodec().encode(value)


def test_json_refuses_lone_surrogates() -> None:
    with pytest.raises(PayloadError, match="not valid UTF-8"):
        JsonCodec().encode("a\ud800")


def test_json_refuses_cycles() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(PayloadError):
        JsonCodec().encode(loop)


def test_size_limit() -> None:
    assert DEFAULT_MAX_SIZE == 16 * 1024 * 1024
    codec = JsonCodec(max_size=10)
    assert codec.encode("12345678") == b'"12345678"'
    with pytest.raises(PayloadTooLargeError, match="over the limit of 10"):
        codec.encode("123456789")
    with pytest.raises(PayloadTooLargeError):
        RawCodec(max_size=2).encode(b"abc")
    assert issubclass(PayloadTooLargeError, PayloadError)


def test_json_decode_errors() -> None:
    with pytest.raises(PayloadError, match="not JSON"):
        JsonCodec().decode(b"plain")
    with pytest.raises(PayloadError, match="not UTF-8"):
        JsonCodec().decode(b"\xff")


def test_results_from_original_js_workers_are_plain_text() -> None:
    codec = JsonCodec()
    assert codec.decode_result(b"done") == "done"
    assert codec.decode_result(b"[object Object]") == "[object Object]"
    assert codec.decode_result(b"") == ""
    assert codec.decode_result(b'{"ok":true}') == {"ok": True}
    with pytest.raises(PayloadError, match="not UTF-8"):
        codec.decode_result(b"\xff")


def test_raw_codec() -> None:
    codec = RawCodec()
    assert codec.encode(b"\x00\xff") == b"\x00\xff"
    assert codec.encode(bytearray(b"ab")) == b"ab"
    assert codec.encode(memoryview(b"ab")) == b"ab"
    assert codec.encode("é") == b"\xc3\xa9"
    assert codec.decode(b"\xff") == b"\xff"
    assert codec.decode_result(b"\xff") == b"\xff"
    with pytest.raises(PayloadError, match="bytes or str"):
        codec.encode(3)
    with pytest.raises(PayloadError, match="not valid UTF-8"):
        codec.encode("\udc80")


def test_raw_text_codec() -> None:
    codec = RawCodec(text=True)
    assert codec.decode(b"\xc3\xa9") == "é"
    assert codec.decode_result(b"x") == "x"
    with pytest.raises(PayloadError, match="not UTF-8"):
        codec.decode(b"\xff")


def test_codecs_satisfy_the_protocol() -> None:
    codecs: list[Codec] = [JsonCodec(), RawCodec()]
    assert [c.decode(c.encode("x")) for c in codecs] == ["x", b"x"]


def test_json_matches_js_for_unicode_escapes() -> None:
    # JSON.stringify leaves non-ASCII as is and escapes control characters.
    assert JsonCodec().encode("\u2028\x01") == json.dumps("\u2028\x01", ensure_ascii=False).encode()
