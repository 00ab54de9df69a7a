"""What every command shares: which Redis, exit 3 when it is unreachable, usage errors, help."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator

import pytest
import redis

from thoonk_actors import EmbeddedServerError
from thoonk_actors._errors import NotFoundError, UsageError
from thoonk_actors.cli._run import exit_code, report
from thoonk_actors.embedded import embedded_server_status, stop_embedded_server
from thoonk_actors.transport import (
    URL_ENV,
    ThoonkConnectionError,
    ThoonkLoadingError,
    ThoonkOutOfMemoryError,
    ThoonkResponseError,
    ThoonkTimeoutError,
)

from ._cli import ok, one_line_error, thoonk

UNREACHABLE = "unix:///tmp/thoonk-nonexistent.sock"

# Every command that talks to Redis, with arguments that would work on a live server.
REDIS_COMMANDS = [
    ["publish", "job", "emails", "x"],
    ["get", "emails", "--timeout", "0"],
    ["finish", "emails", "j"],
    ["cancel", "emails", "j"],
    ["stall", "emails", "j"],
    ["retry", "emails", "j"],
    ["retract", "emails", "j"],
    ["feed", "tail", "news"],
    ["stats"],
    ["config", "job", "emails"],
]
ALL_COMMANDS = [
    ["publish"], ["get"], ["finish"], ["cancel"], ["stall"], ["retry"], ["retract"],
    ["feed"], ["feed", "tail"], ["stats"], ["contract"], ["config"],
]  # fmt: skip


@pytest.mark.parametrize("argv", REDIS_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_an_unreachable_server_exits_3_within_the_connect_timeout(argv: list[str]) -> None:
    started = time.monotonic()
    done = thoonk(*argv, "--connect-timeout", "0.5", url=UNREACHABLE)
    elapsed = time.monotonic() - started
    message = one_line_error(done, 3)
    assert message.startswith(
        "cannot connect to Redis at unix:///tmp/thoonk-nonexistent.sock?db=0 "
        "(No such file or directory); start the server"
    )
    assert message.endswith(" in 0.5 s)")
    assert elapsed < 5.0


def test_the_default_connect_timeout_is_5_seconds() -> None:
    started = time.monotonic()
    message = one_line_error(thoonk("stats", url=UNREACHABLE), 3)
    assert message.endswith(" in 5 s)")
    assert 3.0 < time.monotonic() - started < 15.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bogus"], "argument COMMAND: invalid choice: 'bogus' (choose from "),
        (["publish"], "the following arguments are required: TYPE, NAME"),
        (["get", "emails", "--timeout", "soon"], "argument --timeout: 'soon' is not a number"),
        (["get", "emails", "--timeout", "nan"], "argument --timeout: 'nan' is not a number"),
        (["finish", "emails"], "the following arguments are required: ID"),
        (["stats", "--connect-timeout", "0"], "argument --connect-timeout: '0' is not a number"),
        (["retry", "emails", "j", "--token", "1"], "unrecognized arguments: --token 1"),
        (["contract", "job"], "the following arguments are required: NAME"),
        (["get", "a}b"], "job queue name 'a}b' holds '}'"),
    ],
)
def test_usage_errors_exit_2_in_one_line(argv: list[str], message: str) -> None:
    env = {URL_ENV: UNREACHABLE}  # a usage error never gets as far as connecting
    assert one_line_error(thoonk(*argv, env=env), 2).startswith(message)


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (ThoonkConnectionError("cannot connect"), 3, "cannot connect"),
        (ThoonkTimeoutError("no answer"), 3, "no answer"),
        (ThoonkLoadingError("LOADING still loading"), 3, "LOADING still loading"),
        (EmbeddedServerError("no server"), 3, "no server"),
        (ThoonkResponseError("ERR bad"), 1, "Redis refused the command: ERR bad"),
        (ThoonkOutOfMemoryError("OOM full"), 1, "Redis refused the command: OOM full"),
        (NotFoundError("no such job"), 1, "no such job"),
        (UsageError("bad name"), 2, "bad name"),
        (ValueError("odd"), 1, "unexpected ValueError: odd (run with --debug for the traceback)"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_each_error_has_its_exit_code_and_line(
    error: Exception, code: int, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report(error, debug=False)
    assert (exit_code(error), capsys.readouterr().err) == (code, f"thoonk: error: {line}\n")


def test_no_command_prints_the_help_and_exits_2() -> None:
    done = thoonk()
    assert done.returncode == 2
    assert done.stderr.startswith("usage: thoonk ")
    assert "Exit codes: 0 ok, 1 refused or not found, 2 usage, 3 cannot reach Redis." in (
        done.stderr
    )


@pytest.mark.parametrize("argv", ALL_COMMANDS, ids=" ".join)
def test_every_command_has_help_with_examples(argv: list[str]) -> None:
    done = thoonk(*argv, "--help")
    assert (done.returncode, done.stderr) == (0, "")
    assert f"usage: thoonk {' '.join(argv)} " in done.stdout
    examples = done.stdout.split("\nexamples:\n", 1)[1]
    assert f"  thoonk {' '.join(argv)} " in examples


def test_the_url_comes_from_the_option_then_the_environment(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    from_env = thoonk("publish", "queue", "q", "1", "--id", "e", env={URL_ENV: redis_url})
    assert (from_env.returncode, from_env.stdout) == (0, "e\n")
    # --url wins over the environment.
    done = thoonk(
        "publish", "queue", "q", "2", "--id", "o", url=redis_url, env={URL_ENV: UNREACHABLE}
    )
    assert (done.returncode, done.stdout) == (0, "o\n")
    assert sync_redis.hkeys("queue.items:q") == [b"e", b"o"]


@pytest.fixture
def data_dir() -> Iterator[str]:
    # Short on purpose: a unix socket path must fit in ~104 bytes.
    root = tempfile.mkdtemp(prefix="th-", dir="/tmp" if os.path.isdir("/tmp") else None)
    path = os.path.join(root, "data")
    try:
        yield path
    finally:
        with contextlib.suppress(EmbeddedServerError):
            stop_embedded_server(path)
        shutil.rmtree(root, ignore_errors=True)


def test_without_a_url_the_embedded_server_is_started_and_kept(data_dir: str) -> None:
    env = {"THOONK_DATA_DIR": data_dir}
    done = thoonk("publish", "queue", "tasks", "hello", "--id", "t", env=env)
    assert (done.returncode, done.stdout, done.stderr) == (0, "t\n", "")
    server = embedded_server_status(data_dir)
    assert server is not None  # still running, for the next command
    done = thoonk("stats", "--json", env=env)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == '[{"type":"queue","name":"tasks","registered":true,"length":1}]\n'
    assert ok("publish", "queue", "tasks", "again", url=server.url).count("-") == 4
