"""Items on the command line: where they come from, how they are read and shown.

Synopsis::

    parse_item('{"n": 1}') -> {"n": 1}      # valid JSON: the JSON value
    parse_item("hello") -> "hello"          # anything else: the text
    parse_item("42", raw=True) -> "42"      # --raw: always the text
    parse_item('{"a": ', strict=True)       # UsageError: looks like JSON, is not
    read_item(args)                          # ITEM, --file PATH, or stdin
    decode_item(b'{"n":1}') -> {"n": 1}     # stored bytes -> value (never fails)
    show({"n": 1}) -> '{"n":1}'             # value -> one line of compact JSON

Items are stored with the JSON codec (what the original JavaScript Thoonk
reads and writes), so a string item ``hello`` is stored as ``"hello"``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .._errors import UsageError


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON for other languages (JSON.parse rejects them).
    raise ValueError(f"{name} is not JSON")


def parse_item(text: str, *, raw: bool = False, strict: bool = False) -> Any:
    """The JSON value of ``text`` when it is valid JSON (and not ``raw``), else the text.

    ``strict`` (items and results typed by a person): text that starts like a
    JSON object, array or string (``{``, ``[``, ``"``) but does not parse is
    refused rather than stored as text, since it is almost surely a typo.

    Raises:
        UsageError: ``strict`` and the text looks like JSON but is not.
    """
    if raw:
        return text
    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        return text
    except ValueError as exc:
        if strict and text.lstrip()[:1] in ("{", "[", '"'):
            reason, where = str(exc), ""
            if isinstance(exc, json.JSONDecodeError):
                reason = exc.msg.removesuffix(" at")  # "Unterminated string starting at"
                where = f" at character {exc.pos + 1}"
            raise UsageError(
                f"{text[:40]!r} looks like JSON but is not valid JSON ({reason}{where}); "
                "fix it, or pass --raw to store it as text"
            ) from None
        return text


def _strip_newline(text: str) -> str:
    # The one newline `echo` (or an editor) puts at the end is not part of the item.
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def _text(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{where} is not UTF-8 text ({exc.reason} at byte {exc.start}); items are text or JSON"
        ) from None


def read_text(given: str | None, path: str | None, *, what: str = "item") -> str:
    """The text of the item: the argument, the file, or stdin (``-`` or no argument).

    Raises:
        UsageError: both an argument and a file; no item at all (no argument and
            stdin is a terminal); an empty stdin; a file that cannot be read.
    """
    if path is not None:
        if given is not None:
            raise UsageError(f"give the {what} either as an argument or with --file, not both")
        try:
            with open(path, "rb") as file:
                data = file.read()
        except OSError as exc:
            raise UsageError(f"cannot read --file {path!r}: {exc.strerror or exc}") from None
        return _strip_newline(_text(data, f"file {path!r}"))
    if given is not None and given != "-":
        return given
    if given is None and (sys.stdin is None or sys.stdin.isatty()):
        raise UsageError(
            f"no {what}: give it as an argument, with --file PATH, or pipe it on stdin"
        )
    if sys.stdin is None:
        raise UsageError(f"no {what}: '-' reads stdin, but stdin is closed")
    text = _strip_newline(_text(sys.stdin.buffer.read(), "stdin"))
    if not text:
        raise UsageError(
            f"stdin was empty; pipe the {what} in, or give an empty one as an argument ('')"
        )
    return text


def read_item(args: argparse.Namespace) -> Any:
    """The item of ``publish``: ``args.item`` / ``args.file`` / stdin, parsed per ``args.raw``."""
    return parse_item(read_text(args.item, args.file), raw=args.raw, strict=True)


def decode_item(data: bytes) -> Any:
    """A stored item as a value: its JSON value, or its text when it is not JSON.

    Never fails: an item written by a client that does not JSON-encode (or not
    even UTF-8) is shown as text (undecodable bytes as ``\\xNN``).
    """
    return parse_item(data.decode("utf-8", "backslashreplace"))


def show(value: Any) -> str:
    """``value`` as one line of compact JSON (what text output prints for an item)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
