"""Packing commands: hiredis' C packer where it applies, the same bytes as the Python path."""

from __future__ import annotations

import pytest

from thoonk_actors.transport._protocol import _pack_each, pack_command


@pytest.mark.parametrize(
    "args",
    [
        ("PING",),
        ("SET", "k", b"\x00\xff", 12, -3, 2**70),
        ("ZADD", "z", 0.1 + 0.2, "m", 1e20, "n", 2.0, "o"),
        ["EVALSHA", "a" * 40, 2, "k1", "k2", "é", b""],  # a list is packed too
    ],
)
def test_the_c_packer_writes_what_the_python_path_writes(args: tuple[object, ...]) -> None:
    assert pack_command(args) == _pack_each(args)  # type: ignore[arg-type]


def test_what_the_c_packer_refuses_takes_the_python_path() -> None:
    assert pack_command(("SET", bytearray(b"k"), memoryview(b"v"))) == (
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
    )
    with pytest.raises(TypeError, match="cannot be a bool"):
        pack_command(("SET", "k", True))
    with pytest.raises(TypeError, match="must be bytes, str, int or float"):
        pack_command(("SET", "k", None))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        pack_command(())
