"""Moved to :mod:`thoonk_actors.embedded`; this name stays for code written before the move.

Not imported by the transport itself (the transport never depends on the
embedded server; ``tests/embedded/test_layering.py`` checks it). Import from
``thoonk_actors.embedded`` in new code.
"""

from ..embedded import EmbeddedServer as EmbeddedServer
from ..embedded import default_data_dir as default_data_dir
from ..embedded import embedded_server_status as embedded_server_status
from ..embedded import ensure_embedded_server as ensure_embedded_server
from ..embedded import find_redis_server as find_redis_server
from ..embedded import run_embedded_server_foreground as run_embedded_server_foreground
from ..embedded import stop_embedded_server as stop_embedded_server
