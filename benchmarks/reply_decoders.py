"""Python cost of the hot reply decoders: their common-reply path against the general one.

Usage::

    python benchmarks/reply_decoders.py [--number 20000] [--repeat 7]

The decoders of the hot calls read their ``ok`` reply in one pass. Three of
them (publish_many, finish_many, feed publish) keep a general path as well
(``ok_values`` and the ``as_*`` readers) for their rarer ``ok`` forms (a delayed
batch, per-id refusals, evictions); the others send every other reply to
``ok_values`` only for the refusal's error. This times ``call.decode(reply)`` of
typical replies as a server sends them (a ``list``: the one pass) and of the
same replies as a ``list`` subclass, which the one pass's ``type(reply) is
list`` turns away: the general path alone, where there is one ("-": the
decoder has none and calls such a reply malformed).
Prints the best of ``--repeat`` runs per decode, in microseconds, and the ratio.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

from thoonk_actors import UnexpectedReplyError
from thoonk_actors.contract import (
    FeedKeys,
    FinishRequest,
    JobKeys,
    NewJob,
    Reply,
    feed_publish,
    job_claim,
    job_finish,
    job_finish_many,
    job_publish,
    job_publish_many,
    job_publish_new,
)


class General(list):  # type: ignore[type-arg]
    """The same reply; the common path (``type(reply) is list``) does not take it."""


def cases() -> list[tuple[str, Callable[[Reply], object], list[Reply]]]:
    keys = JobKeys.of("emails")
    ten = [f"job-{i}" for i in range(10)]
    claim_ten: list[Reply] = [b"ok", 1_700_000_000_000, 10, 0]
    for i in range(10):
        claim_ten += [ten[i].encode(), b'{"to": "a@b.example"}', b"tok%d" % i, 0]
    return [
        ("job_publish", job_publish(keys, "j1", b"{}").decode, [b"ok", b"j1", 1_700_000_000_000]),
        (
            "job_publish delayed",
            job_publish(keys, "j1", b"{}", delay_ms=5000).decode,
            [b"ok", b"j1", 1_700_000_000_000, 1_700_000_005_000],
        ),
        (
            "job_publish_new",
            job_publish_new(keys, "j1", b"{}").decode,
            [b"ok", b"j1", 1_700_000_000_000],
        ),
        (
            "job_publish_many x10",
            job_publish_many(keys, [NewJob(i, b"{}") for i in ten]).decode,
            [b"ok", 1_700_000_000_000, *[i.encode() for i in ten]],
        ),
        (
            "job_claim x1",
            job_claim(keys, "w1").decode,
            [b"ok", 1_700_000_000_000, 1, 0, b"j1", b'{"to": "a@b.example"}', b"tok", 0],
        ),
        ("job_claim x10", job_claim(keys, "w1", max_jobs=10).decode, claim_ten),
        (
            "job_finish",
            job_finish(keys, "j1", token="tok").decode,
            [b"ok", b"j1", 1_700_000_000_000],
        ),
        (
            "job_finish_many x10",
            job_finish_many(keys, [FinishRequest(i, "tok") for i in ten]).decode,
            [b"ok", 1_700_000_000_000, *[x for i in ten for x in (i.encode(), b"ok")]],
        ),
        (
            "feed_publish",
            feed_publish(FeedKeys.of("news"), "a", b"{}").decode,
            [b"ok", b"publish", 1_700_000_000_000],
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"{'decode':<22} {'common us':>10} {'general us':>11} {'general/common':>15}")
    for name, decode, reply in cases():
        general = General(reply)
        variants: tuple[tuple[str, Reply], ...] = (("common", reply), ("general", general))
        try:
            assert decode(reply) == decode(general), name  # same value either way
        except UnexpectedReplyError:
            variants = variants[:1]
        best = {"common": float("inf"), "general": float("inf")}
        for _ in range(args.repeat):
            # Interleaved: each repeat times both, so a noisy moment hits both.
            for label, value in variants:
                took = timeit.timeit(lambda d=decode, v=value: d(v), number=args.number)
                best[label] = min(best[label], took)
        common = best["common"] / args.number * 1e6
        slow = best["general"] / args.number * 1e6
        if len(variants) == 1:
            print(f"{name:<22} {common:>10.2f} {'-':>11} {'-':>15}")
        else:
            print(f"{name:<22} {common:>10.2f} {slow:>11.2f} {slow / common:>15.2f}")


if __name__ == "__main__":
    main()
