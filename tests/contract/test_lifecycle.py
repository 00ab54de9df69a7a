"""The job lifecycle table (no Redis)."""

from __future__ import annotations

from thoonk_actors.contract import (
    REFUSALS,
    REPLY_CODES,
    TRANSITIONS,
    JobState,
    allowed,
    mermaid,
    ops,
    refusal_code,
    script_names,
    targets,
)

A, C, S = JobState.AVAILABLE, JobState.CLAIMED, JobState.STALLED
F, R, L = JobState.FINISHED, JobState.RETRACTED, JobState.LOST


def test_states() -> None:
    assert {s.value for s in JobState} == {
        "available",
        "claimed",
        "stalled",
        "finished",
        "retracted",
        "lost",
        "scheduled",
    }


def test_the_main_paths() -> None:
    assert targets(None, "publish") == {A, JobState.SCHEDULED}  # delayed: scheduled
    assert targets(A, "claim") == {C}
    assert targets(C, "finish") == {F}
    assert targets(C, "cancel") == {JobState.SCHEDULED, A, S}
    assert targets(C, "stall") == {S}
    assert targets(S, "retry") == {A}
    assert targets(C, "release") == {A}
    assert targets(C, "touch") == {C}
    assert targets(C, "reap") == {JobState.SCHEDULED, A, S}
    assert targets(JobState.SCHEDULED, "promote") == {A}
    assert targets(L, "reap") == {A, S}
    for state in (A, C, S, L, JobState.SCHEDULED):
        assert targets(state, "retract") == {R}


def test_what_is_refused() -> None:
    for state in (None, A, S, F, R, L):
        assert not allowed(state, "finish")
        assert not allowed(state, "cancel")
        assert not allowed(state, "touch")
    for state in (None, A, C, F, R):
        assert not allowed(state, "retry")
    for state in (None, F, R):
        assert not allowed(state, "retract")
    for state in (A, C, S, L):
        assert not allowed(state, "publish")


def test_terminal_states_have_no_way_out() -> None:
    assert not [t for t in TRANSITIONS if t.source in (F, R)]


def test_every_state_is_reachable_and_every_live_state_can_end() -> None:
    reached = {t.target for t in TRANSITIONS}
    assert reached == set(JobState)
    for state in (A, C, S, L):
        assert R in {t.target for t in TRANSITIONS if t.source is state}


def test_refusal_codes_are_reply_codes() -> None:
    assert set(REFUSALS) == set(ops()) - {"pop", "claim_gap"}
    for op in REFUSALS:
        assert refusal_code(op) == "" or refusal_code(op) in REPLY_CODES


def test_every_table_op_of_ours_has_a_script() -> None:
    scripts = set(script_names())
    for op in ops():
        if op in ("pop", "claim_gap"):  # steps of original workers, not ours
            continue
        assert f"job/{op}" in scripts


def test_events_are_job_channels() -> None:
    events = {t.event for t in TRANSITIONS if t.event}
    assert events == {
        "publish",
        "claim",
        "finish",
        "cancel",
        "stall",
        "retry",
        "release",
        "progress",
        "retract",
    }


def test_mermaid() -> None:
    text = mermaid()
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert "    [*] --> available : publish / publish" in lines
    assert "    claimed --> finished : finish / finish" in lines
    assert "    finished --> [*]" in lines
    assert len(lines) == 1 + len(TRANSITIONS) + 2
    # Characters that break Mermaid labels.
    assert ";" not in text
    assert "<" not in text.replace("-->", "")
