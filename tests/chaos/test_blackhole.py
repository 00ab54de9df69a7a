"""Silently dead connections: a proxy that stops forwarding without closing anything.

Policy: a private redis-server behind an in-test loopback TCP proxy; the
clients under test go through the proxy with a short ``health_timeout``, the
witness and the other side of each exchange talk to the server directly.
Only the recovery is asserted (with a generous deadline), never its timing.
"""

from __future__ import annotations

from typing import Any

import redis
import trio

from thoonk_actors import App, open_thoonk
from thoonk_actors.contract import QueueKeys
from thoonk_actors.objects._queue_waits import waiting
from thoonk_actors.transport import Gap

from ..polling import wait_until
from ..transport._private_server import PrivateRedis
from ._proxy import open_proxy

HEALTH = 1.5  # seconds: the detection time under test (15 by default)


async def test_workers_waiters_and_subscribers_recover_from_a_black_hole() -> None:
    with PrivateRedis() as server:
        witness = redis.Redis(unix_socket_path=server.socket)
        async with open_proxy(server.socket) as proxy, open_thoonk(server.url) as direct:
            url = f"{proxy.url}?health_timeout={HEALTH}"
            app = App(url)

            @app.job("q", concurrency=2)
            async def double(item: int) -> dict[str, Any]:
                return {"twice": item * 2}

            waiter_job = await direct.job("w").publish("for the waiter")
            async with (
                open_thoonk(url) as thoonk,
                app.open(),
                thoonk.feed("news").events() as events,
                trio.open_nursery() as nursery,
            ):
                waited: list[Any] = []

                async def wait_through_proxy() -> None:
                    waited.append(await thoonk.job("w").wait_result(waiter_job))

                nursery.start_soon(wait_through_proxy)

                def ready() -> bool:
                    blocked = any(c.get("cmd") == "blmove" for c in witness.client_list())
                    ((_channel, subscribers),) = witness.pubsub_numsub("event.job.finish:w")
                    return blocked and subscribers >= 1

                await wait_until(ready, what="the worker and the waiter to wait")
                accepted = proxy.accepted
                proxy.blackhole()
                holed = trio.current_time()
                recovered: dict[str, float] = {}  # seconds after the black hole: figures

                with trio.fail_after(HEALTH * 10):
                    # Work published after the black hole is done by the worker.
                    job_id = await direct.job("q").publish(21)
                    assert await direct.job("q").wait_result(job_id) == {"twice": 42}
                    recovered["worker"] = trio.current_time() - holed
                    # The waiter behind the black hole gets its result.
                    claimed = await direct.job("w").get(timeout=5)
                    assert claimed is not None and claimed.id == waiter_job
                    await direct.job("w").finish(claimed, {"ok": True})
                    await wait_until(lambda: waited == [{"ok": True}], what="the waiter")
                    recovered["waiter"] = trio.current_time() - holed
                    # The subscriber is told it may have missed events.
                    await direct.feed("news").publish("after the black hole")
                    while not isinstance(await events.receive(), Gap):
                        pass
                    recovered["subscriber"] = trio.current_time() - holed
                print(  # the figures of docs/reliability.md (shown with -s)
                    f"\nblack hole (health_timeout {HEALTH} s): recovered after "
                    + ", ".join(f"{who} {s:.2f} s" for who, s in recovered.items())
                )
                # Recovery went through new connections, not the dead ones.
                assert proxy.accepted > accepted
        witness.close()


async def test_blocked_queue_gets_recover_from_a_black_hole() -> None:
    """``Queue.get`` waits in blocks of ``max_block``: a dead wait is noticed and resent.

    One get waits for ever, one with a long timeout (a single server-side
    block used to last the whole timeout, up to 600 s). They share one wait
    (one blocked connection); it must see the black hole within the
    detection time and wait again on a new connection, and both gets are served.
    """
    with PrivateRedis() as server:
        witness = redis.Redis(unix_socket_path=server.socket)
        async with open_proxy(server.socket) as proxy, open_thoonk(server.url) as direct:
            async with open_thoonk(f"{proxy.url}?health_timeout={HEALTH}") as thoonk:
                queue = thoonk.queue("tasks")
                keys = QueueKeys.of("tasks")
                got: list[Any] = []

                async def getter(seconds: float | None) -> None:
                    got.append(await queue.get(timeout=seconds))

                def blocked() -> set[int]:
                    return {int(c["id"]) for c in witness.client_list() if c["cmd"] == "blmove"}

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(getter, None)
                    nursery.start_soon(getter, 300)
                    await wait_until(
                        lambda: len(blocked()) == 1 and waiting(thoonk, keys) == 2,
                        what="both gets to wait behind one BLMOVE",
                    )
                    first = blocked()
                    shared = await thoonk.redis.connection()
                    proxy.blackhole()
                    with trio.fail_after(HEALTH * 10):
                        # The wait is sent again on a new connection, and the
                        # dead shared connection is noticed (the take uses it).
                        await wait_until(
                            lambda: len(blocked() - first) >= 1 and not shared.usable,
                            what="the wait to be resent on a new connection",
                        )
                        await direct.queue("tasks").put_many(["a", "b"])
                        await wait_until(lambda: len(got) == 2, what="both gets")
                assert sorted(got) == ["a", "b"]
        witness.close()
