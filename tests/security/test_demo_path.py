"""``thoonk demo`` imports nothing from the current directory (issue 17 item 9).

A ``trio.py`` planted in the working directory (a cloned repository, a
download folder) would run as the user in every demo process if any of them
put the directory on ``sys.path``. The top process is started with ``-P``, as
the installed ``thoonk`` script is (its ``sys.path[0]`` is its bin directory).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..cli._cli import environment

THOONK_SAFE = [sys.executable, "-P", "-m", "thoonk_actors"]  # as the installed script runs


def test_a_trio_py_in_the_cwd_is_not_imported_by_the_demo(redis_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    for name in ("trio", "hiredis", "outcome"):
        (tmp_path / f"{name}.py").write_text(
            f"open({str(marker)!r}, 'a').write({name!r} + ' ')\nraise ImportError('planted')\n"
        )
    done = subprocess.run(
        [*THOONK_SAFE, "demo", "--jobs", "20", "--processes", "2", "--url", redis_url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment(),
        stdin=subprocess.DEVNULL,
    )
    assert not marker.exists(), marker.read_text()
    assert done.returncode == 0, done
