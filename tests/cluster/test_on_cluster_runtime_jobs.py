"""tests/runtime/test_jobs.py, unchanged, on the local cluster (see _suite.py)."""

from tests.cluster._suite import *  # noqa: F403
from tests.runtime.test_jobs import *  # noqa: F403
