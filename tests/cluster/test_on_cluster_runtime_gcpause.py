"""The Redis test of tests/runtime/test_gcpause.py on the local cluster (see _suite.py).

The others use no Redis. Here an App's start resyncs (feeds on several
primaries) pause the collector, and give it back.
"""

from tests.cluster._suite import *  # noqa: F403
from tests.runtime.test_gcpause import (  # noqa: F401
    collector_on,
    test_an_app_pauses_it_during_the_start_resyncs_only,
)
