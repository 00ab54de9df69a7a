"""Logging for worker processes that nobody configured.

Synopsis: ``configure_logging()`` at the top of a process entry point.

A library must not configure logging, but a worker process started by
:func:`run_workers` is an entry point: if its root logger has no handler yet,
it logs to stderr at ``$THOONK_LOG_LEVEL`` (default INFO), each line with the
process id, so the lines of several workers can be told apart.
"""

from __future__ import annotations

import logging
import os

#: The environment variable with the level worker processes log at (default INFO).
LOG_LEVEL_ENV = "THOONK_LOG_LEVEL"
#: Every line with a timestamp and the process id (``thoonk worker`` logs the same way).
LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    """Log to stderr with pids, unless the root logger is configured already."""
    if logging.getLogger().handlers:
        return
    level = os.environ.get(LOG_LEVEL_ENV, "INFO").upper()
    logging.basicConfig(
        level=level if level in logging.getLevelNamesMapping() else logging.INFO,
        format=LOG_FORMAT,
    )
