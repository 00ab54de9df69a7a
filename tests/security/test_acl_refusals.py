"""A call the user's ACL refuses changes nothing (issue 17.3).

Each write operation of every object type runs as a user who lacks one thing
the operation needs -- the event channels, one key, one command -- and must
raise ``ThoonkNoPermissionError`` with the store byte-identical (a DUMP of
every key before and after). Keys are checked by Redis itself before a script
starts (every key is in KEYS), on 6.2 and 7 alike; commands and channels by the
generated ACL preamble (``contract/_acl.py``), which needs Redis 7's
``redis.acl_check_cmd``. On 6.2 those cases skip, and
``test_on_redis_6_2_the_documented_limitation_holds`` proves what
docs/security.md says remains possible there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from thoonk_actors.contract import (
    FeedKeys,
    JobKeys,
    QueueKeys,
    SortedFeedKeys,
    load_script,
    script_names,
)
from thoonk_actors.contract._acl import (
    NOT_COMMANDS,
    READS,
    WRITES,
    acl_preamble,
    script_commands,
    upper_literals,
)
from thoonk_actors.contract._build import KEY_LAYOUT
from thoonk_actors.sync import SyncThoonk, connect
from thoonk_actors.transport import ThoonkNoPermissionError

from ..conftest import RedisTestServer
from ..contract._redis import snapshot
from ._urls import url_with_user
from .test_acl import DOC, documented_acl_line

PASSWORD = "acl-refusal-pw"
KEYS_OF = {"job": JobKeys, "feed": FeedKeys, "sorted_feed": SortedFeedKeys, "queue": QueueKeys}
NAMES = {"job": "mail", "feed": "news", "sorted_feed": "deck", "queue": "tasks"}


@dataclass(frozen=True)
class Op:
    """One write operation: ``run(thoonk, prepared)`` calls it; ``script`` is what it runs."""

    label: str
    kind: str
    script: str
    run: Callable[[SyncThoonk, dict[str, Any]], object]
    key_field: str | None = None  # the key to withhold (default: the layout's first)


def _prepare(t: SyncThoonk) -> dict[str, Any]:
    """The state every operation acts on, written as the unrestricted user."""
    feed = t.feed("news")
    feed.publish({"a": 1}, id="x")
    deck = t.sorted_feed("deck")
    first = deck.append("one")
    second = deck.append("two")
    t.queue("tasks").put("t1")
    jobs = t.job("mail")
    for n in range(3):
        jobs.publish({"n": n}, id=f"j{n}")
    held = jobs.get(timeout=5)
    to_stall = jobs.get(timeout=5)
    assert held is not None and to_stall is not None
    jobs.stall(to_stall)
    return {"first": first, "second": second, "held": held, "stalled": to_stall.id}


OPS = [
    Op("feed publish", "feed", "feed/publish", lambda t, p: t.feed("news").publish(1, id="y")),
    Op("feed edit", "feed", "feed/publish", lambda t, p: t.feed("news").publish(2, id="x")),
    Op("feed retract", "feed", "feed/retract", lambda t, p: t.feed("news").retract("x")),
    Op(
        "feed configure",
        "feed",
        "object/config",
        lambda t, p: t.feed("news").configure(max_length=5),
    ),
    Op("feed create", "feed", "object/create", lambda t, p: t.feed("fresh").create()),
    Op("feed delete", "feed", "object/delete", lambda t, p: t.feed("news").delete(), "config"),
    Op(
        "sorted append",
        "sorted_feed",
        "sorted_feed/append",
        lambda t, p: t.sorted_feed("deck").append(3),
    ),
    Op(
        "sorted prepend",
        "sorted_feed",
        "sorted_feed/prepend",
        lambda t, p: t.sorted_feed("deck").prepend(0),
    ),
    Op(
        "sorted publish_before",
        "sorted_feed",
        "sorted_feed/publish_before",
        lambda t, p: t.sorted_feed("deck").publish_before(p["second"], 1),
    ),
    Op(
        "sorted publish_after",
        "sorted_feed",
        "sorted_feed/publish_after",
        lambda t, p: t.sorted_feed("deck").publish_after(p["first"], 1),
    ),
    Op(
        "sorted edit",
        "sorted_feed",
        "sorted_feed/edit",
        lambda t, p: t.sorted_feed("deck").edit(p["first"], "uno"),
    ),
    Op(
        "sorted move",
        "sorted_feed",
        "sorted_feed/move",
        lambda t, p: t.sorted_feed("deck").move_to_begin(p["second"]),
    ),
    Op(
        "sorted retract",
        "sorted_feed",
        "sorted_feed/retract",
        lambda t, p: t.sorted_feed("deck").retract(p["first"]),
    ),
    Op("queue put", "queue", "queue/put", lambda t, p: t.queue("tasks").put("t2")),
    Op("queue get", "queue", "queue/get", lambda t, p: t.queue("tasks").get_nowait()),
    Op("queue configure", "queue", "object/config", lambda t, p: t.queue("tasks").configure()),
    Op("queue delete", "queue", "object/delete", lambda t, p: t.queue("tasks").delete(), "config"),
    Op("job publish", "job", "job/publish", lambda t, p: t.job("mail").publish({"n": 9}, id="j9")),
    Op(
        "job publish_many",
        "job",
        "job/publish_many",
        lambda t, p: t.job("mail").publish_many([{"n": 7}, {"n": 8}]),
    ),
    Op("job claim", "job", "job/claim", lambda t, p: t.job("mail").get(timeout=0)),
    Op("job finish", "job", "job/finish", lambda t, p: t.job("mail").finish(p["held"], {"ok": 1})),
    Op("job cancel", "job", "job/cancel", lambda t, p: t.job("mail").cancel(p["held"])),
    Op("job stall", "job", "job/stall", lambda t, p: t.job("mail").stall(p["held"])),
    Op("job release", "job", "job/release", lambda t, p: t.job("mail").release(p["held"])),
    Op("job retry", "job", "job/retry", lambda t, p: t.job("mail").retry(p["stalled"])),
    Op("job retract", "job", "job/retract", lambda t, p: t.job("mail").retract(p["stalled"])),
    Op("job touch", "job", "job/touch", lambda t, p: t.job("mail").touch(p["held"])),
    Op("job reap", "job", "job/reap", lambda t, p: t.job("mail").reap()),
    Op("job configure", "job", "object/config", lambda t, p: t.job("mail").configure(timeout=1000)),
]


def _words_without_key(kind: str, field: str) -> list[str]:
    """The documented line with ``~<kind>.*`` replaced by every key of the object but one."""
    keys = KEYS_OF[kind].of(NAMES[kind])
    withheld = getattr(keys, field)
    granted = [f"~{k}" for k in keys.all_keys() if k != withheld]
    if kind == "job":
        granted.append("~job.result:*")
    out: list[str] = []
    for word in documented_acl_line():
        out.extend(granted if word == f"~{kind}.*" else [word])
    return out


def _withheld_command(script: str) -> str:
    """A write command ``script`` uses (not PUBLISH: the channel cases cover that)."""
    return sorted(set(script_commands(load_script(script).source)) & WRITES - {"PUBLISH"})[0]


@pytest.fixture
def as_user(sync_redis: redis.Redis, redis_url: str) -> Iterator[Callable[[list[str]], str]]:
    """``as_user(words)``: create a uniquely named ACL user from ``words``; its URL."""
    made: list[str] = []

    def make(words: list[str]) -> str:
        user = f"thoonk_acl_{uuid.uuid4().hex[:12]}"
        words = [user if i == 2 else w for i, w in enumerate(words)]
        words = [f">{PASSWORD}" if w == ">CHANGE-ME" else w for w in words]
        sync_redis.execute_command(*words, "+select")
        made.append(user)
        return url_with_user(redis_url, user, PASSWORD)

    try:
        yield make
    finally:
        for user in made:
            sync_redis.execute_command("ACL", "DELUSER", user)


def _has_acl_check(server: RedisTestServer) -> bool:
    return int(server.version.split(".")[0]) >= 7


@pytest.fixture
def acl_check(redis_test_server: RedisTestServer) -> None:
    """Skip on a server without ``redis.acl_check_cmd`` (Redis < 7)."""
    if not _has_acl_check(redis_test_server):
        pytest.skip("Redis < 7 has no redis.acl_check_cmd: a script cannot ask before it writes")


def _without_channels() -> list[str]:
    """The documented line without ``&event.*``: no channel at all."""
    return [w for w in documented_acl_line() if w != "&event.*"]


def _assert_refused_and_unchanged(
    op: Op, url: str, t: SyncThoonk, sync_redis: redis.Redis, says: str
) -> None:
    prepared = _prepare(t)
    with connect(url) as restricted:
        before = snapshot(sync_redis)
        with pytest.raises(ThoonkNoPermissionError) as caught:
            op.run(restricted, prepared)
        assert snapshot(sync_redis) == before, f"{op.label} changed the store before refusing"
    assert says in str(caught.value), str(caught.value)
    if "may not" in str(caught.value):  # our preamble's refusal says where the right line is
        assert "docs/security.md" in str(caught.value)


@pytest.mark.usefixtures("acl_check")
@pytest.mark.parametrize(
    "op", [op for op in OPS if "PUBLISH" in load_script(op.script).source], ids=lambda op: op.label
)
def test_a_user_without_the_event_channels_changes_nothing(
    op: Op,
    as_user: Callable[[list[str]], str],
    t: SyncThoonk,
    sync_redis: redis.Redis,
) -> None:
    url = as_user(_without_channels())
    _assert_refused_and_unchanged(op, url, t, sync_redis, "channel")


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.label)
def test_a_user_without_one_key_changes_nothing(
    op: Op, as_user: Callable[[list[str]], str], t: SyncThoonk, sync_redis: redis.Redis
) -> None:
    field = op.key_field or KEY_LAYOUT[op.script][0]
    url = as_user(_words_without_key(op.kind, field))
    _assert_refused_and_unchanged(
        op, url, t, sync_redis, "no permissions to access one of the keys"
    )


@pytest.mark.usefixtures("acl_check")
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.label)
def test_a_user_without_one_command_changes_nothing(
    op: Op,
    as_user: Callable[[list[str]], str],
    t: SyncThoonk,
    sync_redis: redis.Redis,
) -> None:
    command = _withheld_command(op.script)
    url = as_user([*documented_acl_line(), f"-{command.lower()}"])
    _assert_refused_and_unchanged(
        op, url, t, sync_redis, f"may not run the command {command} that this script uses"
    )


#: What docs/security.md says remains possible on Redis 6.2 (checked word for word).
LIMITATION_62 = (
    "On Redis 6.2 a user who lacks a command or an event channel that a script "
    "uses can still leave that call half done"
)


def test_on_redis_6_2_the_documented_limitation_holds(
    as_user: Callable[[list[str]], str],
    t: SyncThoonk,
    sync_redis: redis.Redis,
    redis_test_server: RedisTestServer,
) -> None:
    """6.2 cannot ask before writing: the refusal is typed, but the doc must say what is left."""
    assert LIMITATION_62 in " ".join(DOC.read_text().split())
    if _has_acl_check(redis_test_server):
        pytest.skip("Redis 7+ checks first (the tests above); the limitation is 6.2's")
    url = as_user(_without_channels())
    with connect(url) as restricted:
        with pytest.raises(ThoonkNoPermissionError, match="can't publish to the channel"):
            restricted.feed("news").publish({"a": 1}, id="x")
    # As documented: the item was stored, the event never sent.
    assert sync_redis.hget(FeedKeys.of("news").items, "x") is not None


@pytest.mark.parametrize("name", script_names())
def test_every_write_script_starts_with_the_acl_check(name: str) -> None:
    """New scripts get the check without anyone adding it (it is generated from their text)."""
    source = load_script(name).source
    commands = set(script_commands(source))
    assert upper_literals(source) <= READS | WRITES | NOT_COMMANDS, (
        f"{name}: classify {sorted(upper_literals(source) - READS - WRITES - NOT_COMMANDS)} "
        "in contract/_acl.py (a command the ACL check must ask about, or not a command)"
    )
    if commands & WRITES:
        script = load_script(name)
        checked = script.source.removeprefix(acl_preamble(source))
        assert acl_preamble(source) and checked != script.source
        for command in commands:
            assert f"ok('{command}')" in acl_preamble(source)
        channels = "ok('PUBLISH', v, '')"
        assert (channels in acl_preamble(source)) == ("PUBLISH" in commands)
        # The light form (run once the full one passed on a connection): channels only.
        if "PUBLISH" in commands:
            assert script.light is not None
            assert script.light.source == acl_preamble(source, commands=False) + checked
            assert channels in script.light.source and "ok('HSET')" not in script.light.source
        else:
            assert script.light is None or "acl_check_cmd" not in script.light.source
    else:
        assert "acl_check_cmd" not in source  # a read-only script has nothing to protect


@pytest.mark.usefixtures("acl_check")
def test_channels_are_checked_on_every_call_not_only_the_first(
    as_user: Callable[[list[str]], str],
    sync_redis: redis.Redis,
) -> None:
    """The full check runs once per script per connection; the channel check on every call."""
    url = as_user(documented_acl_line())
    user = url.split("//", 1)[1].split(":", 1)[0]
    with connect(url) as restricted:
        feed = restricted.feed("news")
        feed.publish({"a": 1}, id="x")
        feed.publish({"a": 2}, id="y")  # the light form from now on
        sync_redis.execute_command("ACL", "SETUSER", user, "resetchannels")
        before = snapshot(sync_redis)
        with pytest.raises(ThoonkNoPermissionError, match="may not publish to the channel"):
            feed.publish({"a": 3}, id="z")
        assert snapshot(sync_redis) == before


@pytest.mark.usefixtures("acl_check")
@pytest.mark.parametrize("kind", ["feed", "sorted_feed"])
def test_cluster_key_names_find_the_channels_too(
    kind: str,
    as_user: Callable[[list[str]], str],
    sync_redis: redis.Redis,
) -> None:
    """With hash-tagged keys (``feed.ids:{news}``) the check still finds ``event.feed.*:news``."""
    url = as_user(_without_channels())
    with connect(url, cluster=True) as restricted:
        before = snapshot(sync_redis)
        obj = restricted.feed("news") if kind == "feed" else restricted.sorted_feed("deck")
        with pytest.raises(ThoonkNoPermissionError, match=f"channel event.{kind}.publish:"):
            obj.publish({"a": 1}, id="x")
        assert snapshot(sync_redis) == before
