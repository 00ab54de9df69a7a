"""A local Redis Cluster for the tests: 3 primaries + 3 replicas on loopback ports.

Synopsis::

    with LocalCluster.start(binary) as cluster:
        cluster.url            # "redis+cluster://127.0.0.1:p1,127.0.0.1:p2,..."
        cluster.primaries      # [(host, port), ...] (who holds which slots: ask the cluster)

Formed without ``redis-cli`` (CI guarantees only Python and a Redis server):
``CLUSTER MEET`` every node to the first, ``CLUSTER ADDSLOTS`` with each
primary's slot list (``ADDSLOTSRANGE`` is 7.0+ only; the bundled server is
6.2), ``CLUSTER REPLICATE`` on the others, then every node is polled (with a
deadline) until it reports ``cluster_state:ok`` and knows all six nodes.
Torn down with SIGTERM, SIGKILL after a deadline, and the directories removed.

``LocalCluster.start(binary, tls=ClusterTLS(...))`` starts a TLS cluster
instead (a redis-server built with TLS): each node listens on a plaintext port
(the formation and the witness use it) *and* a TLS port, with ``tls-cluster
yes`` (the cluster bus, ``tls-port`` + 10000, over TLS, and TLS ports
announced) and ``tls-replication yes``; ``url`` is then the
``rediss+cluster://`` URL of the TLS ports, with the CA and client
certificate in its query.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import redis

SLOTS = 16384
HOST = "127.0.0.1"
FORM_DEADLINE_S = 30.0
STOP_DEADLINE_S = 10.0


class ClusterUnavailable(Exception):
    """This redis-server cannot run a cluster here (no cluster support, cannot bind)."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports whose +10000 bus port is free too."""
    ports: list[int] = []
    held: list[socket.socket] = []
    try:
        while len(ports) < count:
            s = socket.socket()
            s.bind((HOST, 0))
            port = s.getsockname()[1]
            if port + 10000 > 65535 or port in ports:
                s.close()
                continue
            bus = socket.socket()
            try:
                bus.bind((HOST, port + 10000))
            except OSError:
                s.close()
                continue
            finally:
                bus.close()
            held.append(s)
            ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def _poll(what: str, check: object, deadline: float) -> None:
    assert callable(check)
    last: object = None
    while True:
        try:
            if check():
                return
        except (redis.RedisError, OSError) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"local cluster: {what} not reached in time (last error: {last})")
        time.sleep(0.05)  # polling a subprocess with a deadline: no event to wait on


@dataclass(frozen=True)
class ClusterTLS:
    """The files of a TLS cluster: the nodes' certificate and key, the CA file the
    nodes trust (clients' and each other's certificates), the client's files."""

    cert: str
    key: str
    ca: str
    client_cert: str
    client_key: str
    server_ca: str  # what clients trust: the CA that signed the nodes' certificate
    #: False: no plaintext port (``port 0``); the formation and witnesses use TLS too.
    plaintext: bool = True


def supports_tls(binary: str) -> bool:
    """Whether ``binary`` was built with TLS (it accepts ``--tls-port``)."""
    try:
        done = subprocess.run(
            [binary, "--port", "0", "--tls-port", "0", "--save", "", "--daemonize", "no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    # With TLS: "Configured to not listen anywhere"; without: "Bad directive".
    return "not listen anywhere" in done.stdout + done.stderr


@dataclass
class LocalCluster:
    binary: str
    root: str
    ports: list[int]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    tls: ClusterTLS | None = None
    tls_ports: list[int] = field(default_factory=list)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [(HOST, p) for p in self.ports]

    @property
    def url(self) -> str:
        """The thoonk URL: every primary as a seed (TLS: their TLS ports, CA, client cert)."""
        if self.tls is not None:
            seeds = ",".join(f"{HOST}:{p}" for p in self.tls_ports[:3])
            query = (
                f"ssl_ca_certs={self.tls.server_ca}&ssl_certfile={self.tls.client_cert}"
                f"&ssl_keyfile={self.tls.client_key}"
            )
            return f"rediss+cluster://{seeds}/0?{query}"
        return "redis+cluster://" + ",".join(f"{HOST}:{p}" for p in self.ports[:3])

    def _tls_options(self) -> dict[str, object]:
        """redis-py's TLS options for a node of a cluster without plaintext ports."""
        if self.tls is None or self.tls.plaintext:
            return {}
        return {
            "ssl": True,
            "ssl_ca_certs": self.tls.server_ca,
            "ssl_certfile": self.tls.client_cert,
            "ssl_keyfile": self.tls.client_key,
        }

    def client(self, port: int) -> redis.Redis:
        """A client of the node named by its (plaintext) ``port`` (TLS-only: its TLS port)."""
        options = self._tls_options()
        if options:
            port = self.tls_ports[self.ports.index(port)]
        return redis.Redis(HOST, port, socket_timeout=10, socket_connect_timeout=5, **options)  # type: ignore[arg-type]

    def cluster_client(self) -> redis.RedisCluster:
        """A redis-py cluster client: an independent witness of the stored state."""
        options = self._tls_options()
        port = self.tls_ports[0] if options else self.ports[0]
        return redis.RedisCluster(HOST, port, socket_timeout=10, **options)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ start

    @classmethod
    @contextlib.contextmanager
    def start(cls, binary: str, *, tls: ClusterTLS | None = None) -> Iterator[LocalCluster]:
        root = tempfile.mkdtemp(prefix="thc-")
        ports = free_ports(12 if tls is not None else 6)
        cluster = cls(binary=binary, root=root, ports=ports[:6], tls=tls, tls_ports=ports[6:])
        try:
            cluster._spawn()
            cluster._form()
            yield cluster
        finally:
            cluster.stop()

    def _spawn(self) -> None:
        for port in self.ports:
            node_dir = os.path.join(self.root, str(port))
            os.mkdir(node_dir)
            args = [
                self.binary,
                "--port", "0" if self.tls is not None and not self.tls.plaintext else str(port),
                "--bind", HOST,
                "--dir", node_dir,
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "2000",
                "--appendonly", "no",
                "--save", "",
                "--daemonize", "no",
                "--logfile", os.path.join(node_dir, "redis.log"),
            ]  # fmt: skip
            if self.tls is not None:
                args += [
                    "--tls-port", str(self.tls_ports[self.ports.index(port)]),
                    "--tls-cert-file", self.tls.cert,
                    "--tls-key-file", self.tls.key,
                    "--tls-ca-cert-file", self.tls.ca,
                    "--tls-auth-clients", "yes",
                    "--tls-cluster", "yes",
                    "--tls-replication", "yes",
                ]  # fmt: skip
            self.procs.append(
                subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            )
        deadline = time.monotonic() + FORM_DEADLINE_S
        for port, proc in zip(self.ports, self.procs, strict=True):

            def up(port: int = port, proc: subprocess.Popen[bytes] = proc) -> bool:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    log = self._log_tail(port)
                    raise ClusterUnavailable(
                        f"redis-server exited with {proc.returncode}: {err.strip()} {log}"
                    )
                with contextlib.closing(self.client(port)) as c:
                    return bool(c.ping())

            _poll(f"node {port} answering", up, deadline)
            with contextlib.closing(self.client(port)) as c:
                if not c.info("cluster").get("cluster_enabled"):
                    raise ClusterUnavailable(f"{self.binary} does not run in cluster mode")

    def _log_tail(self, port: int) -> str:
        path = os.path.join(self.root, str(port), "redis.log")
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def _form(self) -> None:
        deadline = time.monotonic() + FORM_DEADLINE_S
        primaries, replicas = self.ports[:3], self.ports[3:]
        with contextlib.ExitStack() as stack:
            nodes = {p: stack.enter_context(contextlib.closing(self.client(p))) for p in self.ports}
            # With tls-cluster the bus listens on the TLS port + 10000.
            meet = self.tls_ports[0] if self.tls is not None else self.ports[0]
            for port in self.ports[1:]:
                nodes[port].execute_command("CLUSTER", "MEET", HOST, meet)
            bounds = [0, SLOTS // 3, 2 * SLOTS // 3, SLOTS]
            for i, port in enumerate(primaries):
                nodes[port].execute_command("CLUSTER", "ADDSLOTS", *range(bounds[i], bounds[i + 1]))
            ids = {p: nodes[p].execute_command("CLUSTER", "MYID") for p in self.ports}
            ids = {p: i.decode() if isinstance(i, bytes) else i for p, i in ids.items()}

            def everyone_met() -> bool:
                for p in self.ports:
                    known = nodes[p].execute_command("CLUSTER", "NODES")
                    text = known.decode() if isinstance(known, bytes) else str(known)
                    if any(i not in text for i in ids.values()) or "handshake" in text:
                        return False
                return True

            _poll("all nodes meeting", everyone_met, deadline)
            for primary, replica in zip(primaries, replicas, strict=True):

                def replicate(replica: int = replica, primary: int = primary) -> bool:
                    nodes[replica].execute_command("CLUSTER", "REPLICATE", ids[primary])
                    return True

                _poll(f"node {replica} replicating {primary}", replicate, deadline)

        self.wait_ok(deadline - time.monotonic())

    def wait_ok(self, timeout: float = FORM_DEADLINE_S) -> None:
        """Poll (with a deadline) until every node says ``cluster_state:ok`` and knows all six,
        and every replica's link to its primary is up."""
        deadline = time.monotonic() + timeout

        def all_ok() -> bool:
            for p in self.ports:
                with contextlib.closing(self.client(p)) as c:
                    info = c.execute_command("CLUSTER", "INFO")
                    text = info.decode() if isinstance(info, bytes) else str(info)
                    if "cluster_state:ok" not in text or "cluster_known_nodes:6" not in text:
                        return False
                    replication = c.info("replication")
                    if replication.get("role") == "slave" and (
                        replication.get("master_link_status") != "up"
                    ):
                        return False
            return True

        _poll("cluster_state:ok on every node", all_ok, deadline)

    # ------------------------------------------------------------------- stop

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_DEADLINE_S
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        self.procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def flush(self) -> None:
        """Empty every primary (this private cluster only; replicas follow)."""
        for port in self.ports:
            with contextlib.closing(self.client(port)) as c:
                if c.info("replication").get("role") == "master":
                    c.flushall()
