"""tests/runtime/test_schedules.py, unchanged, on the local cluster (see _suite.py)."""

from tests.cluster._suite import *  # noqa: F403
from tests.runtime.test_schedules import *  # noqa: F403
