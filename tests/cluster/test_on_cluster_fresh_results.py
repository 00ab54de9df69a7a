"""tests/objects/test_fresh_results.py, unchanged, on the local cluster (see _suite.py)."""

from tests.cluster._suite import *  # noqa: F403
from tests.objects.test_fresh_results import *  # noqa: F403
