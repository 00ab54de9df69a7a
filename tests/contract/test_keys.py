"""Key and channel names, standalone and cluster (no Redis)."""

from __future__ import annotations

import dataclasses

import pytest

from thoonk_actors._errors import InvalidNameError
from thoonk_actors.contract import (
    KEYS_BY_KIND,
    REGISTRIES,
    FeedKeys,
    JobKeys,
    QueueKeys,
    SortedFeedKeys,
    channel,
)

ORIGINAL_JOB_KEYS = {
    "config": "job.config:emails",
    "ids": "job.ids:emails",
    "items": "job.items:emails",
    "published": "job.published:emails",
    "claimed": "job.claimed:emails",
    "cancelled": "job.cancelled:emails",
    "stalled": "job.stalled:emails",
    "publishes": "job.publishes:emails",
    "finishes": "job.finishes:emails",
}
EXTENSION_JOB_KEYS = {
    "owners": "job.owners:emails",
    "workers": "job.workers:emails",
    "errors": "job.errors:emails",
    "orphans": "job.orphans:emails",
    "tokens": "job.tokens:emails",
    "leases": "job.leases:emails",
    "scheduled": "job.scheduled:emails",
    "ticks": "job.ticks:emails",
    "seen": "job.seen:emails",
    "progress": "job.progress:emails",
}


def test_job_keys_standalone_are_the_originals() -> None:
    keys = JobKeys.of("emails")
    for field, name in {**ORIGINAL_JOB_KEYS, **EXTENSION_JOB_KEYS}.items():
        assert getattr(keys, field) == name
    assert keys.registry == "jobs"
    assert keys.all_keys() == (
        "job.config:emails",
        "job.ids:emails",
        "job.items:emails",
        "job.published:emails",
        "job.claimed:emails",
        "job.cancelled:emails",
        "job.stalled:emails",
        "job.publishes:emails",
        "job.finishes:emails",
        "job.owners:emails",
        "job.workers:emails",
        "job.errors:emails",
        "job.orphans:emails",
        "job.tokens:emails",
        "job.leases:emails",
        "job.scheduled:emails",
        "job.ticks:emails",
        "job.seen:emails",
        "job.limits:emails",
        "job.progress:emails",
    )


def test_job_keys_cluster_are_hash_tagged() -> None:
    keys = JobKeys.of("emails", cluster=True)
    assert keys.ids == "job.ids:{emails}"
    assert keys.config == "job.config:{emails}"
    assert keys.tokens == "job.tokens:{emails}"
    assert all(key.endswith(":{emails}") for key in keys.all_keys())
    # The registry has no name in it; channels keep the plain name.
    assert keys.registry == "jobs"
    assert keys.channel("finish") == "event.job.finish:emails"


def test_result_key_always_braces_the_name() -> None:
    assert JobKeys.of("emails").result("j1") == "job.result:{emails}:j1"
    assert JobKeys.of("emails", cluster=True).result("j1") == "job.result:{emails}:j1"
    # ':' in names and ids cannot make two results share a key.
    assert JobKeys.of("a").result("b:c") != JobKeys.of("a:b").result("c")


def test_channels() -> None:
    assert JobKeys.of("emails").channel("finish") == "event.job.finish:emails"
    assert FeedKeys.of("news").channel("retract") == "event.feed.retract:news"
    assert SortedFeedKeys.of("p").channel("position") == "event.sorted_feed.position:p"
    assert QueueKeys.of("q").channel("delete") == "event.queue.delete:q"
    assert channel("job", "config", "x") == "event.job.config:x"


@pytest.mark.parametrize("cluster", [False, True])
def test_other_types(cluster: bool) -> None:
    tag = "{n}" if cluster else "n"
    assert FeedKeys.of("n", cluster=cluster).all_keys() == tuple(
        f"feed.{f}:{tag}" for f in ("config", "ids", "items", "publishes")
    )
    assert SortedFeedKeys.of("n", cluster=cluster).all_keys() == tuple(
        f"sorted_feed.{f}:{tag}" for f in ("config", "ids", "items", "idincr", "publishes", "seq")
    )
    assert QueueKeys.of("n", cluster=cluster).all_keys() == tuple(
        f"queue.{f}:{tag}" for f in ("config", "ids", "items", "publishes")
    )


def test_registries() -> None:
    assert REGISTRIES == {
        "job": "jobs",
        "feed": "feeds",
        "sorted_feed": "sorted_feeds",
        "queue": "queues",
    }
    for kind, cls in KEYS_BY_KIND.items():
        assert cls.of("x").registry == REGISTRIES[kind]
        assert cls.of("x").kind == kind


def test_keys_are_frozen_and_slotted() -> None:
    keys = JobKeys.of("emails")
    with pytest.raises(dataclasses.FrozenInstanceError):
        keys.ids = "other"  # type: ignore[misc]
    assert not hasattr(keys, "__dict__")


def test_invalid_name_is_refused_before_any_key_is_built() -> None:
    with pytest.raises(InvalidNameError, match="job queue"):
        JobKeys.of("a{b}")
    with pytest.raises(InvalidNameError, match="sorted feed"):
        SortedFeedKeys.of("")


def test_labels() -> None:
    assert JobKeys.of("emails").label == "job queue 'emails'"
    assert SortedFeedKeys.of("p").label == "sorted feed 'p'"
