"""``redis+cluster://`` URLs and key routing: parsed without a server."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from thoonk_actors import UsageError
from thoonk_actors.transport import command_slot, is_cluster_url, parse_cluster_url
from thoonk_actors.transport._cluster import slot_map_from_shards, slot_map_from_slots


def test_seeds_and_options_of_a_cluster_url() -> None:
    config, seeds = parse_cluster_url(
        "redis+cluster://u:pw@10.0.0.1:7000,10.0.0.2:7001, node3?health_timeout=4"
    )
    assert seeds == [("10.0.0.1", 7000), ("10.0.0.2", 7001), ("node3", 6379)]
    assert (config.host, config.port, config.username, config.password) == (
        "10.0.0.1",
        7000,
        "u",
        "pw",
    )
    assert config.health_timeout == 4
    assert config.tls is False


def test_tls_cluster_url() -> None:
    config, seeds = parse_cluster_url("rediss+cluster://[::1]:7000/0?ssl_cert_reqs=none")
    assert seeds == [("::1", 7000)]
    assert config.tls is True


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://h:1", "starts with redis\\+cluster://"),
        ("redis+cluster://h:1/3", "only database 0"),
        ("redis+cluster://h:port", "not host:port"),
        ("redis+cluster://h:1,,h:2", "not host:port"),
        ("redis+cluster://h:70000", "not host:port"),
    ],
)
def test_bad_cluster_urls_are_refused_with_advice(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_cluster_url(url)


def test_is_cluster_url() -> None:
    assert is_cluster_url("redis+cluster://h:1")
    assert is_cluster_url("REDISS+CLUSTER://h:1")
    assert not is_cluster_url("redis://h:1")
    assert not is_cluster_url("unix:///tmp/r.sock")


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("GET", "job.ids:{emails}"), b"{emails}"),
        ((b"hset", b"feed.items:{news}", b"a", b"b"), b"{news}"),
        (("EVALSHA", "abc", 2, "job.ids:{q}", "job.items:{q}", "x"), b"{q}"),
        (("EVAL", "return 1", 0), None),
        (("PING",), None),
        (("SCRIPT", "LOAD", "return 1"), None),
        (("PUBLISH", "ch", "x"), None),
        (("BLMOVE", "{q}a", "{q}b", "RIGHT", "LEFT", 1), b"{q}"),
    ],
)
def test_the_first_key_decides_the_slot(args: tuple[object, ...], key: bytes | None) -> None:
    assert command_slot(args) == (None if key is None else key_slot(key))  # type: ignore[arg-type]


def test_slot_map_from_cluster_shards() -> None:
    """Redis 7's CLUSTER SHARDS (RESP2 as hiredis gives it): the healthy primary per range."""
    node = [b"id", b"a" * 40, b"port", 7000, b"ip", b"10.0.0.1", b"endpoint", b"10.0.0.1"]
    reply = [
        [
            b"slots",
            [0, 99, 200, 299],
            b"nodes",
            [
                [*node, b"role", b"master", b"health", b"online"],
                [b"port", 7003, b"ip", b"10.0.0.4", b"endpoint", b"10.0.0.4", b"role", b"replica"],
            ],
        ],
        [
            b"slots",
            [100, 199],
            b"nodes",
            [
                [b"port", 7001, b"endpoint", b"10.0.0.2", b"role", b"master", b"health", b"fail"],
                [b"port", 7004, b"endpoint", b"?", b"role", b"master", b"health", b"online"],
            ],
        ],
    ]
    assert slot_map_from_shards(reply, ("seed", 1)) == {
        (0, 99): ("10.0.0.1", 7000),
        (200, 299): ("10.0.0.1", 7000),
        (100, 199): ("seed", 7004),  # the failed primary's promoted replica; '?' = the node asked
    }


def test_slot_map_from_cluster_slots() -> None:
    reply = [
        [0, 5460, [b"10.0.0.1", 7000, b"id1"], [b"10.0.0.4", 7003, b"id4"]],
        [5461, 16383, [b"", 7001, b"id2"]],
    ]
    assert slot_map_from_slots(reply, ("seed", 1)) == {
        (0, 5460): ("10.0.0.1", 7000),
        (5461, 16383): ("seed", 7001),
    }
