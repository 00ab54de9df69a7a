"""Job commands: ``thoonk get``, ``finish``, ``cancel``, ``stall``, ``retry``, ``retract``
(which also retracts feed and sorted-feed items).

Synopsis::

    thoonk get emails --timeout 5          # claims one: prints  ID<TAB>TOKEN<TAB>ITEM
    thoonk finish emails ID '{"sent": true}' --token TOKEN
    thoonk cancel emails ID --error "smtp down"
    thoonk stall emails ID; thoonk retry emails ID; thoonk retract emails ID
    thoonk retract news ITEM_ID            # the type is looked up: here a feed

A claim made here is held by the worker id ``thoonk-cli@host:pid:xxxxxx``,
which stops heartbeating when the command exits. Where a reaper runs (a
``thoonk worker`` on the queue) the claim is therefore a lease: it is given back
once that heartbeat is 15 s old (or once the queue's ``timeout`` passes).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .._errors import (
    NoSuchObjectError,
    NotClaimedError,
    NotFoundError,
    NotStalledError,
    UsageError,
)
from ..contract import KEYS_BY_KIND, JobKeys, Kind, RawCodec, validate_id
from ._common import (
    EXIT_OK,
    EXIT_REFUSED,
    TYPE_NAMES,
    Subparsers,
    add_command,
    add_json,
    add_redis_options,
    emit,
    emit_json,
    object_type,
    seconds,
    terminal_safe,
    warn,
)
from ._items import decode_item, parse_item, show
from ._run import run_with_thoonk

if TYPE_CHECKING:
    from ..objects import Job, Thoonk

#: What a settling command does: (job queue, args) -> the JSON fields it adds.
Action = Callable[["Job", argparse.Namespace], Awaitable[dict[str, Any]]]


def add_parsers(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    _add_get(commands, common)

    finish = _add_settle(
        commands,
        common,
        "finish",
        _finish,
        help="finish a claimed job, with an optional result",
        description="Finish a claimed job. RESULT is parsed as JSON when it is valid JSON, "
        "else taken as a string (--raw: always a string); without it (or with null) the job "
        "finishes with no result.",
        examples="""\
  thoonk finish emails welcome-1 '{"sent": true}' --token 7
  thoonk finish emails welcome-1 done          # the string "done"
  thoonk finish emails welcome-1               # no result
""",
    )
    finish.add_argument("result", metavar="RESULT", nargs="?", help="the result (JSON or text)")
    finish.add_argument("--raw", action="store_true", help="take RESULT as a string")
    _add_token(finish)

    cancel = _add_settle(
        commands,
        common,
        "cancel",
        _cancel,
        help="give a claimed job back to the queue (its failure count grows)",
        description="Cancel a claimed job: it is queued again and its failure count grows; "
        "once the count reaches the queue's max_cancels it is stalled instead.",
        examples="""\
  thoonk cancel emails welcome-1 --error "smtp server down"
  thoonk cancel emails welcome-1 --token 7 --json
""",
    )
    cancel.add_argument("--error", metavar="TEXT", help="why, kept beside the job")
    _add_token(cancel)

    stall = _add_settle(
        commands,
        common,
        "stall",
        _stall,
        help="put a claimed job aside until someone retries it",
        description="Stall a claimed job: it leaves the queue until `thoonk retry`.",
        examples="""\
  thoonk stall emails welcome-1 --reason "bad address, ask a person"
""",
    )
    stall.add_argument("--reason", metavar="TEXT", help="why, kept beside the job")
    _add_token(stall)

    _add_settle(
        commands,
        common,
        "retry",
        _retry,
        help="queue a stalled job again",
        description="Retry a stalled job: it is queued again with a fresh publish time.",
        examples="  thoonk retry emails welcome-1\n",
    )
    _add_retract(commands, common)


# ------------------------------------------------------------------------- get


def _add_get(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    get = add_command(
        commands,
        "get",
        common,
        help="claim the next job of a job queue; prints its id, token and item",
        description=(
            "Claim the next job and print ID, TOKEN and ITEM separated by tabs (the item "
            "as compact JSON). Waits for a job for ever, or up to --timeout seconds; exit 1 "
            "when the time passes with nothing to claim. Settle the job with `thoonk finish`, "
            "`cancel` or `stall` (pass --token to prove the claim is still yours). Where a "
            "reaper runs (a `thoonk worker` on the queue), a claim made here is given back "
            "15 s after this command exits, or when the queue's timeout passes."
        ),
        examples="""\
  thoonk get emails --timeout 5
  IFS=$'\\t' read -r id token item < <(thoonk get emails)
  thoonk get emails --timeout 0 --json     # do not wait
""",
    )
    get.add_argument("name", metavar="NAME", help="the job queue")
    get.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=seconds(),
        help="wait at most this long for a job (default: for ever; 0: do not wait)",
    )
    add_redis_options(get)
    add_json(get, "the claimed job")
    get.set_defaults(handler=_get)


def _get(args: argparse.Namespace) -> int:
    JobKeys.of(args.name)

    async def command(thoonk: Thoonk) -> int:
        # Raw bytes in, our lenient decoding out: a job some other client stored as
        # non-JSON is shown, not refused after it was already claimed.
        job = await thoonk.job(args.name, codec=RawCodec()).get(timeout=args.timeout)
        if job is None:
            warn(f"no job to claim in job queue {args.name!r} within {args.timeout:g} s")
            return EXIT_REFUSED
        item = decode_item(job.item)
        if args.json:
            emit_json(
                {
                    "queue": job.queue,
                    "id": job.id,
                    "token": job.token,
                    "failures": job.failures,
                    "item": item,
                }
            )
        else:
            # Human output: an id or item another client stored must not forge
            # a field (TAB), a line (LF) or a terminal sequence (ESC).
            shown = terminal_safe(show(item))
            emit(f"{terminal_safe(job.id)}\t{terminal_safe(job.token)}\t{shown}")
        return EXIT_OK

    return run_with_thoonk(args, command)


# -------------------------------------------------------------------- settling


def _add_settle(
    commands: Subparsers[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    name: str,
    action: Action,
    *,
    help: str,
    description: str,
    examples: str,
) -> argparse.ArgumentParser:
    parser = add_command(
        commands, name, common, help=help, description=description, examples=examples
    )
    parser.add_argument("name", metavar="NAME", help="the job queue")
    parser.add_argument("id", metavar="ID", help="the job's id")
    add_redis_options(parser)
    add_json(parser)
    parser.set_defaults(handler=lambda args: _settle(args, action))
    return parser


def _add_token(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help="the claim token `thoonk get` printed: refused (exit 1) if the claim was "
        "taken away meanwhile",
    )


def _settle(args: argparse.Namespace, action: Action) -> int:
    JobKeys.of(args.name)
    validate_id(args.id)

    async def command(thoonk: Thoonk) -> int:
        try:
            fields = await action(thoonk.job(args.name), args)
        except (NotClaimedError, NotStalledError) as exc:
            await _refuse_if_missing(thoonk, args.name, args.id, exc)
            raise
        if args.json:
            emit_json({"queue": args.name, "id": args.id, **fields})
        else:
            emit(terminal_safe(_sentence(args.name, args.id, fields)))
        return EXIT_OK

    return run_with_thoonk(args, command)


async def _refuse_if_missing(thoonk: Thoonk, queue: str, job_id: str, exc: Exception) -> None:
    """Raise NotFoundError when a refused job does not exist at all (a read after the refusal).

    "Not claimed" or "it was reaped" would send a person looking for a claim
    that never was; every job that exists (queued, claimed or stalled) has
    its item stored.
    """
    if not await thoonk.execute("HEXISTS", JobKeys.of(queue).items, job_id):
        raise NotFoundError(
            f"job {job_id!r} in job queue {queue!r} does not exist: it was never published, "
            "or it was already finished or retracted; check the id (`thoonk stats` lists "
            "the queues)"
        ) from exc


def _sentence(queue: str, job_id: str, fields: dict[str, Any]) -> str:
    outcome = fields["outcome"]
    text = f"{outcome} job {job_id!r} of job queue {queue!r}"
    if "failures" in fields:
        if outcome == "stalled":
            return f"{text}: its failure count ({fields['failures']}) reached max_cancels"
        if fields.get("retry_at_ms"):
            return (
                f"{text}; it is queued again when its retry backoff ends "
                f"(failures: {fields['failures']})"
            )
        return f"{text}; it is queued again (failures: {fields['failures']})"
    if outcome == "retried":
        return f"{text}; it is queued again"
    return text


async def _finish(job: Job, args: argparse.Namespace) -> dict[str, Any]:
    result = None if args.result is None else parse_item(args.result, raw=args.raw, strict=True)
    await job.finish(args.id, result, token=args.token)
    return {"outcome": "finished", "result": result}


async def _cancel(job: Job, args: argparse.Namespace) -> dict[str, Any]:
    cancelled = await job.cancel(args.id, token=args.token, error=args.error)
    fields: dict[str, Any] = {"outcome": cancelled.outcome, "failures": cancelled.count}
    if cancelled.retry_at_ms is not None:
        fields["retry_at_ms"] = cancelled.retry_at_ms  # server ms: when it is claimable again
    return fields


async def _stall(job: Job, args: argparse.Namespace) -> dict[str, Any]:
    await job.stall(args.id, token=args.token, reason=args.reason)
    return {"outcome": "stalled"}


async def _retry(job: Job, args: argparse.Namespace) -> dict[str, Any]:
    await job.retry(args.id)
    return {"outcome": "retried"}


# --------------------------------------------------------------------- retract

#: The object types that have a retract, in the order they are looked for.
RETRACTABLE: tuple[Kind, ...] = ("job", "feed", "sorted_feed")
LABELS: dict[Kind, str] = {"job": "job queue", "feed": "feed", "sorted_feed": "sorted feed"}


def _add_retract(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    retract = add_command(
        commands,
        "retract",
        common,
        help="remove a job (whatever its state) or a feed or sorted-feed item",
        description=(
            "Retract ID from NAME: a job (whether it is queued, claimed or stalled) or an "
            "item of a feed or sorted feed. The object's type is looked up in the registries; "
            "--type says it when two objects of different types share the name."
        ),
        examples="""\
  thoonk retract emails welcome-1          # a job
  thoonk retract news release              # a feed item
  thoonk retract playlist 2 --type sorted-feed
""",
    )
    retract.add_argument("name", metavar="NAME", help="the job queue, feed or sorted feed")
    retract.add_argument("id", metavar="ID", help="the job's or item's id")
    retract.add_argument(
        "--type", metavar="TYPE", type=object_type, help="job, feed or sorted-feed"
    )
    add_redis_options(retract)
    add_json(retract)
    retract.set_defaults(handler=_retract)


def _retract(args: argparse.Namespace) -> int:
    kinds: tuple[Kind, ...] = RETRACTABLE if args.type is None else (args.type,)
    if args.type == "queue":
        raise UsageError(
            "a queue's items cannot be retracted; they are taken one by one by its consumers"
        )
    for kind in kinds:
        KEYS_BY_KIND[kind].of(args.name)  # bad names are refused before connecting
    validate_id(args.id)

    async def command(thoonk: Thoonk) -> int:
        kind = args.type or await _registered_kind(thoonk, args.name)
        if kind == "job":
            await thoonk.job(args.name).retract(args.id)
            fields: dict[str, Any] = {"queue": args.name, "id": args.id}
            sentence = f"retracted job {args.id!r} of job queue {args.name!r}"
        else:
            obj = thoonk.feed(args.name) if kind == "feed" else thoonk.sorted_feed(args.name)
            if not await obj.retract(args.id):
                raise NotFoundError(
                    f"{obj.keys.label} has no item {args.id!r} (already retracted, evicted by "
                    "max_length, or never published); check the id"
                )
            fields = {"type": TYPE_NAMES[kind], "name": args.name, "id": args.id}
            sentence = f"retracted item {args.id!r} of {obj.keys.label}"
        if args.json:
            emit_json({**fields, "outcome": "retracted"})
        else:
            emit(terminal_safe(sentence))
        return EXIT_OK

    return run_with_thoonk(args, command)


async def _registered_kind(thoonk: Thoonk, name: str) -> Kind:
    """The type of the object ``name`` among those that have a retract (the registries say)."""
    found = [kind for kind in RETRACTABLE if name in await thoonk.names(kind)]
    if len(found) == 1:
        return found[0]
    if found:
        types = " and a ".join(LABELS[kind] for kind in found)
        raise UsageError(f"{name!r} is both a {types}; say which with --type")
    if name in await thoonk.names("queue"):
        raise UsageError(
            f"{name!r} is a queue, whose items cannot be retracted; they are taken one by one "
            "by its consumers"
        )
    raise NoSuchObjectError(
        f"there is no job queue, feed or sorted feed named {name!r}; check the name "
        "(`thoonk stats` lists them)"
    )
