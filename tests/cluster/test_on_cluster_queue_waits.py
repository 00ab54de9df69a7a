"""tests/objects/test_queue_waits.py, unchanged, on the local cluster (see _suite.py)."""

from tests.cluster._suite import *  # noqa: F403
from tests.objects.test_queue_waits import *  # noqa: F403
