"""Codecs: how items and results become bytes in Redis, and back.

Synopsis::

    codec = JsonCodec()                  # the default; JS Thoonk Jobs can read it
    raw = codec.encode({"to": "a@b"})    # b'{"to":"a@b"}'
    codec.decode(raw)                    # {'to': 'a@b'}
    codec.decode_result(b"plain text")   # 'plain text' (an original JS worker's result)
    RawCodec().encode("x")               # b'x'; RawCodec(text=True).decode(b'x') -> 'x'

Never pickle: every language must be able to read what we store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from .._errors import PayloadError, PayloadTooLargeError

DEFAULT_MAX_SIZE = 16 * 1024 * 1024

# One encoder for every call: json.dumps builds a new JSONEncoder per call when it
# is given options, which costs as much as encoding a small item.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
# json.loads without its checks for bytes input (we decode UTF-8 ourselves, strictly).
_DECODE = json.JSONDecoder().decode


class Codec(Protocol):
    """What the objects layer needs from a codec."""

    def encode(self, value: Any) -> bytes:
        """``codec.encode(value)`` -> bytes to store (PayloadError, PayloadTooLargeError)."""
        ...

    def decode(self, data: bytes) -> Any:
        """``codec.decode(data)`` -> the item (PayloadError when it cannot be read)."""
        ...

    def decode_result(self, data: bytes) -> Any:
        """``codec.decode_result(data)`` -> the job result (more lenient than decode)."""
        ...


def _check_size(data: bytes, limit: int) -> bytes:
    if len(data) > limit:
        raise PayloadTooLargeError(
            f"the encoded payload is {len(data)} bytes, over the limit of {limit}; store large "
            "data elsewhere and publish a reference, or raise the codec's max_size"
        )
    return data


def _check_stored_size(data: bytes, limit: int, what: str) -> bytes:
    # Another client of the same Redis may store anything: a 100 MiB item
    # decoded as JSON would cost several times that in Python objects.
    if len(data) > limit:
        raise PayloadTooLargeError(
            f"the stored {what} is {len(data)} bytes, over the codec's limit of {limit}; "
            "it was not decoded. Read it with a codec whose max_size is larger if you "
            "trust whoever stored it"
        )
    return data


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"the stored {what} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "it was probably written by a raw-bytes client: read it with RawCodec()"
        ) from None


@dataclass(frozen=True, slots=True)
class JsonCodec:
    """Compact JSON in UTF-8, as ``JSON.stringify`` writes it (the original's format).

    ``max_size`` bounds a payload in bytes (default 16 MiB), when encoded
    and when a stored one is decoded.
    """

    max_size: int = DEFAULT_MAX_SIZE

    def encode(self, value: Any) -> bytes:
        """``JsonCodec().encode([1, "a"])`` -> ``b'[1,"a"]'``.

        Raises:
            PayloadError: not JSON-serialisable (NaN and infinities included: JSON.parse
                rejects them), or a str that is not valid UTF-8.
            PayloadTooLargeError: over ``max_size``.
        """
        try:
            text = _ENCODE(value)
        except (TypeError, ValueError) as exc:
            raise PayloadError(
                f"cannot encode {type(value).__name__} as JSON ({exc}); pass dicts, lists, "
                "str, int, float, bool and None, or use RawCodec for bytes"
            ) from None
        except RecursionError:
            raise PayloadError(
                "cannot encode a self-referencing or too deeply nested value as JSON"
            ) from None
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadError(
                "the value holds a str that is not valid UTF-8 (a lone surrogate); "
                "clean the text before publishing it"
            ) from None
        return _check_size(data, self.max_size)

    def decode(self, data: bytes) -> Any:
        """``JsonCodec().decode(b'{"a":1}')`` -> ``{"a": 1}``.

        Raises:
            PayloadError: not UTF-8, not JSON, or nested too deeply for Python.
            PayloadTooLargeError: over ``max_size``.
        """
        text = _text(_check_stored_size(data, self.max_size, "item"), "item")
        try:
            return _DECODE(text)
        except ValueError:
            raise PayloadError(
                f"the stored item {text[:60]!r} is not valid JSON; it was probably published "
                "by a client that does not JSON-encode: read it with RawCodec(text=True)"
            ) from None
        except RecursionError:
            # Another client may store anything; nesting deeper than Python's stack
            # must be a typed refusal like any other unreadable item, not a crash.
            raise PayloadError(
                f"the stored item ({len(data)} bytes) is JSON nested too deeply to decode; "
                "read it with RawCodec(text=True)"
            ) from None

    def decode_result(self, data: bytes) -> Any:
        """Like :meth:`decode`, but text that is not JSON is returned as that text.

        Original JS workers finish with plain strings (``finish(id, "done")``).

        Raises:
            PayloadError: not UTF-8, or JSON nested too deeply for Python.
            PayloadTooLargeError: over ``max_size``.
        """
        text = _text(_check_stored_size(data, self.max_size, "result"), "result")
        try:
            return _DECODE(text)
        except ValueError:
            return text
        except RecursionError:
            raise PayloadError(
                f"the stored result ({len(data)} bytes) is JSON nested too deeply to decode; "
                "read it with RawCodec(text=True)"
            ) from None


@dataclass(frozen=True, slots=True)
class RawCodec:
    """Bytes in, bytes out (``text=True``: str out, decoded as UTF-8).

    ``encode`` accepts bytes-like objects and str (stored as UTF-8).
    ``max_size`` bounds a payload both ways, like :class:`JsonCodec`'s.
    """

    text: bool = False
    max_size: int = DEFAULT_MAX_SIZE

    def encode(self, value: Any) -> bytes:
        """``RawCodec().encode("é")`` -> ``b'\\xc3\\xa9'``.

        Raises:
            PayloadError: neither bytes-like nor str, or a str that is not valid UTF-8.
            PayloadTooLargeError: over ``max_size``.
        """
        if isinstance(value, str):
            try:
                data = value.encode("utf-8")
            except UnicodeEncodeError:
                raise PayloadError(
                    "the str is not valid UTF-8 (a lone surrogate); clean it first"
                ) from None
        elif isinstance(value, bytes | bytearray | memoryview):
            data = bytes(value)
        else:
            raise PayloadError(
                f"RawCodec stores bytes or str, not {type(value).__name__}; encode it "
                "yourself or use JsonCodec"
            )
        return _check_size(data, self.max_size)

    def decode(self, data: bytes) -> Any:
        """The stored bytes (or text with ``text=True``; PayloadError if not UTF-8).

        Raises PayloadTooLargeError over ``max_size``.
        """
        _check_stored_size(data, self.max_size, "item")
        return _text(data, "item") if self.text else data

    def decode_result(self, data: bytes) -> Any:
        """Same as :meth:`decode`."""
        _check_stored_size(data, self.max_size, "result")
        return _text(data, "result") if self.text else data
