"""tests/runtime/test_limits_processes.py on the local cluster (see _suite.py), bounded.

``thoonk worker --processes 2 --url redis+cluster://...``: the limits hold
across processes on a cluster too. The rate is measured over 5 s here, not
the standalone 10 s (CI time; the tolerance is the same 5 %).
"""

import pytest

from tests.cluster._suite import *  # noqa: F403
from tests.runtime.test_limits_processes import *  # noqa: F403

CLUSTER_RATE_WINDOW_S = 5


@pytest.fixture
def rate_window_s() -> int:
    return CLUSTER_RATE_WINDOW_S
