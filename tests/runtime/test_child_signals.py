"""A worker process interrupted before its app started stops cleanly (no traceback)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ..polling import eventually

SLOW_APP = """
import os, time
open(os.environ["READY_FILE"], "w").close()
time.sleep(30)  # a slow import: Ctrl-C lands while the target is still loading
"""


def test_ctrl_c_while_the_target_is_importing_is_a_clean_stop(tmp_path: Path) -> None:
    (tmp_path / "slow_app_module.py").write_text(SLOW_APP)
    ready = tmp_path / "ready"
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "READY_FILE": str(ready),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)]),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "thoonk_actors.runtime._child", "slow_app_module:app"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        eventually(ready.exists, "the child to start importing its target")
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, out
    assert "Traceback" not in out
    assert "stopped before it started" in out
