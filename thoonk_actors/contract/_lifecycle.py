"""The job lifecycle as one transition table (data); the docs' diagram comes from it.

Synopsis::

    targets(JobState.CLAIMED, "cancel")   # {AVAILABLE, STALLED}
    refusal_code("finish")                # "not_claimed": what a script replies otherwise
    print(mermaid())                      # stateDiagram-v2 for the docs

A job id is in one state at a time. ``None`` as a source means "no job with this
id" (never published, or finished / retracted: the id is free again). ``lost``
is the original workers' claim gap: popped by a BRPOP, not yet claimed; only the
reaper gets it out. Scripts that are not listed for a state refuse the
operation with :func:`refusal_code` and change nothing.

A *ghost claim* is not a job and has no row: an id in ``job.claimed`` whose item
is gone. Original workers make them (a job retracted between their BRPOP and
their claim: the original claims the id anyway). The job itself is already
retracted; every reap sweep drops the leftover claim (outcome ``dropped``,
reason ``ghost``), and no event is sent for it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class JobState(enum.Enum):
    """Where a job id is (see CONTRACT.md for the keys of each state)."""

    AVAILABLE = "available"  # in job.ids (and job.items, job.published)
    CLAIMED = "claimed"  # in job.claimed (and job.items, job.published)
    STALLED = "stalled"  # in job.stalled (and job.items)
    FINISHED = "finished"  # gone; result in job.result:{<n>}:<id>
    RETRACTED = "retracted"  # gone; result key marked retracted
    LOST = "lost"  # only in job.items / job.published: an original worker's gap
    SCHEDULED = "scheduled"  # in job.scheduled (and job.items): waiting out a retry backoff


@dataclass(frozen=True, slots=True)
class Transition:
    """One row: ``op`` moves a job from ``source`` to ``target`` (when ``guard`` holds).

    ``event`` is the ``event.job.<event>:<name>`` channel published (None: none).
    """

    op: str
    source: JobState | None
    target: JobState
    event: str | None
    guard: str = ""


_A, _C, _S = JobState.AVAILABLE, JobState.CLAIMED, JobState.STALLED
_F, _R, _L = JobState.FINISHED, JobState.RETRACTED, JobState.LOST
_W = JobState.SCHEDULED

#: The whole lifecycle. Scripts: job/<op>.lua (pop and claim_gap are original workers' steps).
TRANSITIONS: tuple[Transition, ...] = (
    Transition("publish", None, _A, "publish"),
    Transition("publish", None, _W, "publish", "delayed: due later by the server clock"),
    Transition("claim", _A, _C, "claim"),
    Transition("pop", _A, _L, None, "original worker: BRPOP"),
    Transition("claim_gap", _L, _C, None, "original worker: get.lua after its BRPOP"),
    Transition("finish", _C, _F, "finish"),
    Transition("cancel", _C, _W, "cancel", "new count below max_cancels, retry backoff"),
    Transition("cancel", _C, _A, "cancel", "new count below max_cancels, no backoff"),
    Transition("cancel", _C, _S, "stall", "new count reaches max_cancels"),
    Transition("stall", _C, _S, "stall"),
    Transition("retry", _S, _A, "retry"),
    Transition("release", _C, _A, "release", "no failure counted"),
    Transition("touch", _C, _C, None, "claim time renewed"),
    Transition("progress", _C, _C, "progress", "last progress stored"),
    Transition("reap", _C, _W, "cancel", "timeout or owner gone, count below max_cancels"),
    Transition("reap", _C, _A, "cancel", "timeout or owner gone, no backoff"),
    Transition("reap", _C, _S, "stall", "timeout or owner gone, new count reaches max_cancels"),
    Transition("reap", _L, _A, "cancel", "lost for two sweeps, new count below max_cancels"),
    Transition("reap", _L, _S, "stall", "lost for two sweeps, new count reaches max_cancels"),
    Transition("retract", _A, _R, "retract"),
    Transition("retract", _C, _R, "retract"),
    Transition("retract", _S, _R, "retract"),
    Transition("retract", _L, _R, "retract"),
    Transition("retract", _W, _R, "retract"),
    Transition("promote", _W, _A, None, "due (also inside claim and reap)"),
)

#: The reply code of an op's script when the job is in no source state of that op.
REFUSALS: dict[str, str] = {
    "publish": "duplicate",
    "claim": "",  # claim never refuses: it takes what is available, maybe nothing
    "finish": "not_claimed",
    "cancel": "not_claimed",
    "stall": "not_claimed",
    "retry": "not_stalled",
    "release": "not_claimed",
    "touch": "not_claimed",
    "progress": "not_claimed",
    "reap": "",  # reap never refuses: it acts on what it finds
    "retract": "not_found",
    "promote": "",  # promote never refuses: it moves what is due
}


def ops() -> tuple[str, ...]:
    """Every operation in the table, in first-appearance order."""
    return tuple(dict.fromkeys(t.op for t in TRANSITIONS))


def targets(source: JobState | None, op: str) -> frozenset[JobState]:
    """``targets(JobState.CLAIMED, "finish")`` -> ``{FINISHED}``; empty when not allowed."""
    return frozenset(t.target for t in TRANSITIONS if t.source is source and t.op == op)


def allowed(source: JobState | None, op: str) -> bool:
    """Whether ``op`` may be applied to a job in ``source`` (None: no such job)."""
    return bool(targets(source, op))


def refusal_code(op: str) -> str:
    """The script reply code for ``op`` from a state it does not accept ("" = never refuses)."""
    return REFUSALS[op]


def mermaid() -> str:
    """The table as a Mermaid ``stateDiagram-v2`` (guards and events on the labels)."""
    lines = ["stateDiagram-v2"]
    for t in TRANSITIONS:
        source = "[*]" if t.source is None else t.source.value
        label = t.op
        if t.guard:
            label += f" [{t.guard}]"
        if t.event:
            label += f" / {t.event}"
        lines.append(f"    {source} --> {t.target.value} : {label}")
    lines.append(f"    {_F.value} --> [*]")
    lines.append(f"    {_R.value} --> [*]")
    return "\n".join(lines) + "\n"
