"""The client's reconnect loop takes its pauses from the one backoff rule.

A Unix socket nobody listens on refuses at once, so on ``autojump_clock`` the
attempts happen at exact virtual times: 0.02 s doubling to 1 s between them,
and the client gives up at the first pause that would end past
``reconnect_timeout``.
"""

from __future__ import annotations

import logging
import uuid

import pytest
import trio
import trio.testing

from thoonk_actors import ThoonkConnectionError
from thoonk_actors.transport import open_redis


async def test_reconnect_pauses_double_to_one_second_until_reconnect_timeout(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="thoonk_actors.transport._client")
    url = f"unix:///tmp/thoonk-no-such-server-{uuid.uuid4().hex[:8]}.sock"
    with pytest.raises(ThoonkConnectionError, match=r"gave up after 8 attempts in 3 s"):
        async with open_redis(url, reconnect_timeout=3.0):
            pass
    pauses = [r.message.rsplit(" ", 1)[-1] for r in caplog.records if "retrying in" in r.message]
    # 0.02 + ... + 0.64 + 1.0 = 2.26 s; a further 1 s would end past 3 s.
    assert pauses == ["0.02s", "0.04s", "0.08s", "0.16s", "0.32s", "0.64s", "1.00s"]
    assert trio.current_time() == pytest.approx(2.26)
