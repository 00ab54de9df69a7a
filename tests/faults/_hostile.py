"""Shared by the hostile-input sweeps: hostile values, planted keys, and the containment check.

Every sweep runs one public operation on a prepared keyspace and asks
:func:`attempt` to judge it: a refusal must be a ``ThoonkError`` and leave the
whole keyspace as it was (a ``DUMP`` of every key before and after); a
success may change only the object's own keys (and its own registry entry).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

from thoonk_actors import ThoonkError
from thoonk_actors.contract import JsonCodec, ObjectKeys

from ..contract._redis import snapshot

SOAK = os.environ.get("THOONK_SOAK") == "1"

_deep: list[Any] = []
DEEP_LIST: Any = _deep
for _ in range(5000):
    DEEP_LIST = [DEEP_LIST]


def sweep_settings(ci_examples: int, soak_examples: int) -> Any:
    """Hypothesis settings for one sweep: ``ci_examples`` in CI, more with THOONK_SOAK=1."""
    return settings(
        max_examples=soak_examples if SOAK else ci_examples,
        deadline=None,
        database=None,  # no .hypothesis folder left behind
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


#: Ids: valid ones, and every kind another client (or a careless caller) may pass.
ids = st.one_of(
    st.just(""),
    st.just("x" * 1025),
    st.just("a\0b"),
    st.just("{sweep}"),
    st.just("\udcff\udcfe"),  # bytes that are not UTF-8, as our reader decodes them
    st.just("\ud800"),  # a lone surrogate that is no escaped byte
    st.text(max_size=20),
    st.integers(),
    st.none(),
    st.binary(max_size=8),
    st.floats(allow_nan=True),
    st.lists(st.integers(), max_size=2),
    st.just(DEEP_LIST),
)

#: Items: what JSON can store, and what it cannot.
items = st.one_of(
    st.none(),
    st.just(math.nan),
    st.just(math.inf),
    st.just(DEEP_LIST),
    st.just({"a": {1, 2}}),
    st.just({(1, 2): "tuple key"}),
    st.just("\ud800"),
    st.just("x" * 100_000),
    st.just(b"bytes"),
    st.just(object()),
    st.text(max_size=30),
    st.integers(),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)

#: Object names: valid and invalid.
names = st.one_of(
    st.just(""), st.just("a{b}"), st.just("x" * 5000), st.just("a\0b"), st.just("tab\there"),
    st.just("\ud800"), st.text(max_size=10), st.integers(), st.none(), st.binary(max_size=5),
)  # fmt: skip

#: Setting names: every real one, the stored-only ``created``, and nonsense.
SETTING_NAMES = (
    "timeout", "max_cancels", "result_ttl", "retry_delay", "retry_delay_max", "retry_factor",
    "max_length", "created", "", "\0", "{x}", "\ud800",
)  # fmt: skip
setting_values = st.one_of(
    st.none(),
    st.integers(-3, 5),
    st.integers(),
    st.just(2**63),
    st.just(2**40 + 1),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=5),
    st.just("\0"),
    st.just({"a": 1}),
    st.lists(st.integers(), max_size=2),
    st.binary(max_size=3),
    st.just(DEEP_LIST),
)
#: Whole configs for ``create``: dicts with hostile keys and values, and non-dicts.
configs = st.one_of(
    st.none(),
    st.just({}),
    st.dictionaries(st.sampled_from(SETTING_NAMES), setting_values, max_size=3),
    st.dictionaries(st.one_of(st.integers(), st.none(), st.binary(max_size=2)), st.integers(1, 5)),
    st.just([("max_length", 1)]),
    st.just("max_length=1"),
    st.integers(),
    st.just(DEEP_LIST),
)  # fmt: skip
#: Keyword changes for ``configure(**changes)``: the keys are always str there.
changes = st.dictionaries(
    st.one_of(st.sampled_from(SETTING_NAMES), st.text(max_size=4)), setting_values, max_size=3
)

CODEC = JsonCodec()


def same_item(stored: Any, given: Any) -> bool:
    """Whether ``stored`` (read back) is what publishing ``given`` stores (JSON-equal)."""
    return CODEC.encode(stored) == CODEC.encode(given)


def plant_wrong_type(client: redis.Redis, key: str | bytes, expected: str) -> None:
    """What another client may do: overwrite ``key`` with a type our scripts do not expect."""
    client.delete(key)
    if expected == "set":
        client.set(key, "not a set")
    else:
        client.sadd(key, "planted")


class Refused:
    """The outcome of an operation that raised a ThoonkError (see :func:`attempt`)."""

    def __init__(self, error: ThoonkError) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"Refused({self.error!r})"


def _members(client: redis.Redis, key: bytes) -> set[bytes] | None:
    if client.type(key) not in (b"set", b"none"):
        return None
    return set(client.smembers(key))


def attempt(
    client: redis.Redis,
    op: str,
    call: Callable[[], Any],
    *,
    own: ObjectKeys | None,
) -> Any:
    """Run ``call`` and judge it; its result, or :class:`Refused`.

    A ``ThoonkError`` must change nothing at all; any other exception fails
    the test. A success may change only ``own``'s keys and its own name in its
    registry; with ``own`` None (an operation on an object whose name was
    refused) nothing may change.
    """
    before = snapshot(client)
    registry = own.registry.encode() if own is not None else b""
    members_before = _members(client, registry) if own is not None else None
    try:
        result = call()
    except ThoonkError as exc:
        event(f"{op}: {type(exc).__name__}")
        assert snapshot(client) == before, f"{op} was refused ({exc!r}) but changed the keyspace"
        return Refused(exc)
    except Exception as exc:  # anything else escaping is the bug the sweeps look for
        pytest.fail(f"{op} raised {type(exc).__name__}: {exc!r} (not a ThoonkError)")
    event(f"{op}: ok")
    after = snapshot(client)
    if own is None:
        assert after == before, f"{op} on a refused name changed the keyspace"
        return result
    mine = {k.encode() for k in own.all_keys()}
    outside = lambda snap: {k: v for k, v in snap.items() if k not in mine and k != registry}  # noqa: E731
    assert outside(after) == outside(before), f"{op} changed keys of other objects"
    members_after = _members(client, registry)
    if members_before is None or members_after is None:
        assert after.get(registry) == before.get(registry), f"{op} rewrote a foreign registry key"
    else:
        changed = members_before ^ members_after
        assert changed <= {own.name.encode()}, f"{op} changed other registry entries: {changed}"
    return result


def ok(outcome: Any) -> bool:
    """Whether :func:`attempt` returned a result (not a refusal)."""
    return not isinstance(outcome, Refused)


def pick_plant(draw: st.DrawFn, plantable: Iterable[str]) -> str | None:
    """Which key (if any) another client overwrote before the call."""
    return draw(st.one_of(st.none(), st.sampled_from(tuple(plantable))), "plant")
