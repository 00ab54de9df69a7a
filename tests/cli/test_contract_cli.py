"""``thoonk contract``: the layout it prints is complete, exact, and needs no Redis."""

from __future__ import annotations

import json

import pytest

from thoonk_actors import contract
from thoonk_actors.cli._contract import describe
from thoonk_actors.cli._layout import CHANNELS, KEYS
from thoonk_actors.contract import KEYS_BY_KIND, Kind
from thoonk_actors.objects import Feed, Job, Queue, ThoonkObject
from thoonk_actors.objects._sorted_feed import SortedFeed

from ._cli import ok, one_line_error, thoonk

KINDS: list[Kind] = ["job", "feed", "sorted_feed", "queue"]
OBJECTS: dict[Kind, type[ThoonkObject]] = {  # type: ignore[type-arg]
    "job": Job,
    "feed": Feed,
    "sorted_feed": SortedFeed,
    "queue": Queue,
}
UNREACHABLE = {"THOONK_REDIS_URL": "unix:///tmp/thoonk-nonexistent.sock"}


@pytest.mark.parametrize("cluster", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_every_key_and_every_event_is_described_once(kind: Kind, cluster: bool) -> None:
    keys = KEYS_BY_KIND[kind].of("n:1", cluster=cluster)
    layout = describe(kind, "n:1", cluster=cluster)
    described = [k["key"] for k in layout["keys"]]
    expected = [keys.registry, *keys.all_keys()]
    if isinstance(keys, contract.JobKeys):
        expected.append(keys.result("<id>"))
    assert sorted(described) == sorted(expected)

    events = (*OBJECTS[kind].EVENTS, "config", "delete")
    assert [c["channel"] for c in layout["channels"]] == [
        contract.channel(kind, event, "n:1") for event in events
    ]
    assert len(KEYS[kind]) == len(described) and len(CHANNELS[kind]) == len(events)
    for key in layout["keys"]:
        assert key["redis_type"] in {"set", "hash", "list", "zset", "string"}
        assert key["origin"] in {"original", "ext"} and key["role"]


def test_json_needs_no_redis() -> None:
    done = thoonk("contract", "job", "emails", "--json", env=UNREACHABLE)
    assert (done.returncode, done.stderr) == (0, "")
    layout = json.loads(done.stdout)
    assert layout == describe("job", "emails")
    assert (layout["type"], layout["name"], layout["cluster"]) == ("job", "emails", False)
    assert layout["keys"][2] == {
        "key": "job.ids:emails",
        "redis_type": "list",
        "role": "queued ids: publish, cancel and retry push left; priority publish and "
        "release push right; claims pop from the right",
        "origin": "original",
    }
    finish = next(c for c in layout["channels"] if c["event"] == "finish")
    assert finish == {
        "channel": "event.job.finish:emails",
        "event": "finish",
        "payload": "id, or id\\0result",
        "meaning": "it was finished (what JS producers wait for)",
        "origin": "original",
    }


def test_cluster_names_are_hash_tagged() -> None:
    layout = json.loads(ok("contract", "sorted-feed", "deck", "--cluster", "--json"))
    assert layout["type"] == "sorted-feed"
    assert [k["key"] for k in layout["keys"]] == [
        "sorted_feeds",
        "sorted_feed.config:{deck}",
        "sorted_feed.ids:{deck}",
        "sorted_feed.items:{deck}",
        "sorted_feed.idincr:{deck}",
        "sorted_feed.publishes:{deck}",
        "sorted_feed.seq:{deck}",
    ]
    assert layout["channels"][3]["channel"] == "event.sorted_feed.position:deck"


def test_text_is_two_tables_and_the_notes() -> None:
    text = ok("contract", "feed", "news", "--cluster")
    blocks = text.rstrip("\n").split("\n\n")
    assert blocks[0] == "The keys and channels of feed 'news', Redis Cluster key names:"
    assert blocks[1].splitlines() == [
        "KEY                    TYPE    ORIGIN    HOLDS",
        "feeds                  set     original  registry: the names of all feeds",
        "feed.config:{news}     hash    original  config: max_length (>= 1; unset = unbounded), "
        "created (ms)",
        "feed.ids:{news}        zset    original  id -> publish time (ms): the feed's order, "
        "oldest first",
        "feed.items:{news}      hash    original  id -> item (JSON text)",
        "feed.publishes:{news}  string  original  counter of publishes and edits",
    ]
    assert blocks[2].splitlines()[1] == (
        "event.feed.publish:news  id\\0item                                    original  a new item"
    )
    assert blocks[3].startswith("Times are integer ms since the Unix epoch")
    assert blocks[4].startswith("Cluster mode: every key of the object shares the slot")


def test_an_invalid_name_exits_2() -> None:
    assert one_line_error(thoonk("contract", "job", "a\tb"), 2) == (
        "job queue name 'a\\tb' holds the control character '\\t'; remove control characters "
        "(newlines, tabs, NUL, ...) from the name"
    )


def test_contract_accepts_url_like_every_command_and_needs_no_server() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "thoonk_actors", "contract", "job", "emails",
         "--url", "unix:///tmp/no-such-server.sock", "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"job.ids:emails"' in done.stdout
