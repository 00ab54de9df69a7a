"""tests/runtime/test_faults.py, unchanged, on the local cluster (see _suite.py).

Real worker processes on a ``redis+cluster://`` URL, SIGKILLed and SIGTERMed;
``CLIENT KILL`` of every connection of every node mid-run.
"""

from tests.cluster._suite import *  # noqa: F403
from tests.runtime.test_faults import *  # noqa: F403
