"""docs/cli.md stays true: every ``console`` example runs, in order, with the output shown.

The examples run one after another in ``bash`` against one empty database
(``THOONK_REDIS_URL`` points at it), stdout and stderr together, in a
temporary working directory. In an expected line, ``...`` matches any text.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from thoonk_actors.transport import URL_ENV

from ._cli import DEADLINE, environment

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "cli.md"
COMMANDS = (
    "publish", "get", "finish", "cancel", "stall", "retry", "retract",
    "feed tail", "stats", "top", "metrics", "register", "config", "worker", "contract",
    "server", "demo",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Example:
    line: int  # where the command is in docs/cli.md
    command: str
    expected: tuple[str, ...]


def console_examples(text: str) -> list[Example]:
    """Each ``$ command`` of each console block, with the output lines under it."""
    examples: list[Example] = []
    inside = False
    command: tuple[int, str] | None = None
    expected: list[str] = []

    def close() -> None:
        if command is not None:
            examples.append(Example(command[0], command[1], tuple(expected)))

    for number, line in enumerate(text.splitlines(), start=1):
        if not inside:
            inside = line.strip() == "```console"
            command, expected = None, []
        elif line.strip() == "```":
            close()
            inside = False
        elif line.startswith("$ "):
            close()
            command, expected = (number, line[2:]), []
        else:
            expected.append(line)
    return examples


def matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, actual) is not None


def test_the_doc_has_console_examples_of_every_command() -> None:
    text = DOC.read_text(encoding="utf-8")
    examples = console_examples(text)
    assert len(examples) > 20
    for command in COMMANDS:
        assert f"thoonk {command}" in text, f"docs/cli.md has no example of `thoonk {command}`"


def test_matches_takes_dots_as_any_text() -> None:
    assert matches("id ... end", "id 3f-2a end")
    assert matches('{"id":"..."}', '{"id":"x"}')
    assert not matches("exit 1", "exit 12")


def test_every_console_example_runs_as_shown(redis_url: str, tmp_path: Path) -> None:
    examples = console_examples(DOC.read_text(encoding="utf-8"))
    run_examples(examples, "docs/cli.md", redis_url, tmp_path)


def run_examples(examples: list[Example], doc: str, redis_url: str, tmp_path: Path) -> None:
    """Run ``examples`` in order in bash against ``redis_url``; each must print what is shown."""
    # `thoonk` on PATH is this interpreter's package, whatever is installed.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "thoonk"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m thoonk_actors "$@"\n')
    shim.chmod(0o755)
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = environment({URL_ENV: redis_url, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    for example in examples:
        done = subprocess.run(
            ["bash", "-c", example.command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=workdir,
            timeout=DEADLINE,
        )
        actual = done.stdout.splitlines()
        same = len(actual) == len(example.expected) and all(
            matches(e, a) for e, a in zip(example.expected, actual, strict=True)
        )
        assert same, (
            f"{doc}:{example.line}: $ {example.command}\n"
            "--- documented\n" + "\n".join(example.expected) + "\n--- actual\n" + done.stdout
        )


def test_the_shell_tour_in_docs_index_runs_as_shown(redis_url: str, tmp_path: Path) -> None:
    text = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    examples = console_examples(text)
    assert len(examples) >= 4
    run_examples(examples, "docs/index.md", redis_url, tmp_path)
