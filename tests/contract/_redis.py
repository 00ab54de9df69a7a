"""Helpers for the contract tests that talk to Redis (a plain redis-py client).

The client speaks RESP2 with redis-py's reply post-processing turned off, so
replies have the shapes hiredis hands our transport.
"""

from __future__ import annotations

from typing import Any, TypeVar

import redis
from redis.exceptions import NoScriptError

from thoonk_actors.contract import Call, Command

T = TypeVar("T")


def raw_client(url: str) -> redis.Redis:
    """A redis-py client on ``url`` that returns raw RESP2 replies."""
    client = redis.Redis.from_url(url, protocol=2)
    client.response_callbacks.clear()
    return client


class Events:
    """Collects every ``event.*`` message, in order, up to a sentinel."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.pubsub = client.pubsub()  # type: ignore[no-untyped-call]
        self.pubsub.psubscribe("event.*")
        self.pubsub.subscribe("sentinel")
        for _ in range(2):  # the two subscribe confirmations
            assert self.pubsub.get_message(timeout=5) is not None

    def take(self) -> list[tuple[str, bytes]]:
        self.client.publish("sentinel", "x")
        out: list[tuple[str, bytes]] = []
        while True:
            message = self.pubsub.get_message(timeout=5)
            assert message is not None, "sentinel not received"
            if message["channel"] == b"sentinel":
                return out
            out.append((message["channel"].decode(), message["data"]))


def x(client: redis.Redis, *args: object) -> Any:
    """One raw command (redis-py's execute_command is untyped)."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def run(client: redis.Redis, call: Call[T]) -> T:
    """Run a contract script (EVALSHA, EVAL on NOSCRIPT), decode it, then ``call.after``."""
    try:
        reply = client.evalsha(call.script.sha1, len(call.keys), *call.keys, *call.args)
    except NoScriptError:
        reply = client.eval(call.script.source, len(call.keys), *call.keys, *call.args)
    value = call.decode(reply)
    for command in call.after:
        x(client, *command)
    return value


def read(client: redis.Redis, command: Command[T]) -> T:
    """Run a plain contract command and decode it."""
    return command.decode(x(client, *command.args))


def snapshot(client: redis.Redis) -> dict[bytes, Any]:
    """Every key and its DUMP: equal snapshots mean nothing changed."""
    return {key: x(client, "DUMP", key) for key in x(client, "KEYS", "*")}
