"""The embedded server SIGKILLed again and again under a live ``sync`` client (issue 10.4).

Policy: a real embedded server in a fresh data directory (``THOONK_DATA_DIR``,
``appendfsync always``), found by a real ``thoonk_actors.sync`` connection;
each round writes, kills the server, waits until the client has read the EOF,
then makes the next call with no reconnect by hand. ``THOONK_SOAK=1`` kills
it more often.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from functools import partial

import pytest

from thoonk_actors import sync
from thoonk_actors.embedded import embedded_server_status

from ..polling import eventually
from ._embedded import embedded_data_dir, gone, noticed_the_loss

SOAK = os.environ.get("THOONK_SOAK") == "1"
KILLS = 20 if SOAK else 3


@pytest.fixture
def data_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with embedded_data_dir(monkeypatch) as path:
        yield path


@pytest.mark.slow
def test_a_killed_embedded_server_is_restarted_and_the_data_kept(data_dir: str) -> None:
    with sync.connect() as t:
        jobs, news = t.job("emails"), t.feed("news")
        published: list[str] = []
        pids: list[int] = []
        slowest = 0.0  # the longest next call (restart included): a figure, not asserted
        for kill in range(KILLS):
            published += [jobs.publish({"kill": kill, "n": n}) for n in range(10)]
            news.publish({"kill": kill}, id=f"k{kill}")
            server = embedded_server_status(data_dir)
            assert server is not None
            pids.append(server.pid)
            os.kill(server.pid, signal.SIGKILL)
            eventually(partial(gone, server.pid), "the killed server to be gone")
            eventually(lambda: noticed_the_loss(t), "the client to read the EOF")

            # The next call: no error, no reconnect by hand.
            before = time.monotonic()
            published.append(jobs.publish({"kill": kill, "n": "after"}))
            slowest = max(slowest, time.monotonic() - before)

        last = embedded_server_status(data_dir)
        assert last is not None
        assert len({*pids, last.pid}) == KILLS + 1, "each kill was followed by a restart"
        # Every acknowledged write survived every kill, in order.
        assert jobs.available_ids() == tuple(published)
        assert jobs.item(published[0]) == {"kill": 0, "n": 0}
        assert jobs.item(published[-1]) == {"kill": KILLS - 1, "n": "after"}
        assert news.items() == [(f"k{kill}", {"kill": kill}) for kill in range(KILLS)]
        print(  # the figures of docs/reliability.md (shown with -s)
            f"\nembedded server killed {KILLS} times: the next call took at most {slowest:.2f} s"
        )
        claimed = jobs.get(timeout=1)
        assert claimed is not None and claimed.id == published[0]
        jobs.finish(claimed, "ok")
        assert jobs.wait_result(published[0], timeout=5) == "ok"
