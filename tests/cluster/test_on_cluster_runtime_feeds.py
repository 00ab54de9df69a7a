"""tests/runtime/test_feeds.py, unchanged, on the local cluster (see _suite.py)."""

from tests.cluster._suite import *  # noqa: F403
from tests.runtime.test_feeds import *  # noqa: F403
