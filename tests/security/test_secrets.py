"""No password reaches any output: reprs, logs, widget states, exception texts, the CLI.

Issue 17 item 5. A user with a known password is made on the test server; the
test then drives every place a URL is shown and greps all of it for the
password.
"""

from __future__ import annotations

import logging
import socket
import urllib.parse
from collections.abc import Iterator

import pytest
import redis

from thoonk_actors import ThoonkError
from thoonk_actors._redact import redact_url
from thoonk_actors.sync import connect
from thoonk_actors.transport import URL_ENV, RedisConfig

from ..cli._cli import thoonk
from ._urls import url_with_user

PASSWORD = "Pw-s3cret/xyzzy"  # a raw '/' makes the URL parser quote part of it
QUOTED = urllib.parse.quote(PASSWORD, safe="")
USER = "thoonk_secret_user"


def _pieces() -> list[str]:
    """The password and its recognisable fragments (either side of the '/')."""
    return [PASSWORD, QUOTED, "s3cret", "xyzzy"]


def assert_no_secret(text: str, where: str) -> None:
    for piece in _pieces():
        assert piece not in text, f"{where} shows the password ({piece!r}): {text!r}"


@pytest.fixture
def secret_url(redis_url: str, sync_redis: redis.Redis) -> Iterator[str]:
    """``redis_url`` with a user that needs ``PASSWORD``."""
    sync_redis.execute_command(
        "ACL", "SETUSER", USER, "reset", "on", f">{PASSWORD}", "~*", "&*", "+@all"
    )
    try:
        yield url_with_user(redis_url, USER, QUOTED)
    finally:
        sync_redis.execute_command("ACL", "DELUSER", USER)


def test_redact_url_hides_every_form_of_password() -> None:
    cases = {
        "redis://u:pw1@h:6379/0": "redis://u:***@h:6379/0",
        "rediss://:pw2@h/1": "rediss://:***@h/1",
        "unix://u:pw3@/tmp/r.sock?db=2": "unix://u:***@/tmp/r.sock?db=2",
        "redis://h:6379/0?password=pw4&db=1": "redis://h:6379/0?password=***&db=1",
        "redis://u:p/w5@h/0": "redis://u:***@h/0",
        "error 'redis://u:pw6@h/0' here": "error 'redis://u:***@h/0' here",
        "redis:\\\\/u:pw7@h/0": "redis:\\\\/u:***@h/0",
        "redis://h:6379/0": "redis://h:6379/0",
        "unix:///tmp/r.sock?db=0": "unix:///tmp/r.sock?db=0",
    }
    for url, shown in cases.items():
        assert redact_url(url) == shown, url


def test_no_password_in_reprs_logs_widgets_or_errors(
    secret_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    widgets = pytest.importorskip("ipywidgets")
    import thoonk_actors.widgets  # noqa: F401  # registers the views

    shown: list[tuple[str, str]] = []
    caplog.set_level(logging.DEBUG)
    with connect(secret_url) as t:
        feed = t.feed("secrets")
        feed.publish({"a": 1})
        job = t.job("secrets")
        job.publish("x")
        shown += [("repr(connection)", repr(t)), ("str(connection)", str(t))]
        shown += [("repr(feed)", repr(feed)), ("repr(job)", repr(job))]
        shown += [("repr(client)", repr(t._portal.resource.redis))]
        for obj in (feed, job):
            view = obj.view()
            try:
                states = widgets.Widget.get_manager_state(drop_defaults=False)
                shown.append((f"widget states of {obj!r}", repr(states)))
            finally:
                view.close()
    shown.append(("repr(closed connection)", repr(t)))

    # A malformed URL -- given, or from THOONK_REDIS_URL -- is quoted redacted.
    malformed = secret_url.replace("unix://", "redis://").replace("/", "\\", 1)
    for bad in (f"redis://{USER}:{PASSWORD}@localhost:6379/x", malformed):
        with pytest.raises(ThoonkError) as caught:
            RedisConfig.from_url(bad)
        shown.append(("malformed URL error", str(caught.value)))
    done = thoonk("stats", env={URL_ENV: f"redis://{USER}:{PASSWORD}@localhost:x/0"})
    assert done.returncode != 0
    shown.append(("thoonk stats with a malformed $THOONK_REDIS_URL", done.stdout + done.stderr))

    # A wrong password and an unreachable server: the errors say where, not the secret.
    wrong = secret_url.replace(QUOTED, QUOTED + "-wrong")
    with pytest.raises(ThoonkError) as caught, connect(wrong):
        pass
    shown.append(("wrong password error", str(caught.value)))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = f"redis://{USER}:{QUOTED}@127.0.0.1:{port}/0"
    with (
        pytest.raises(ThoonkError) as caught,
        connect(closed, connect_timeout=0.2, reconnect_timeout=0.5),
    ):
        pass
    shown.append(("unreachable server error", str(caught.value)))
    done = thoonk("stats", "--connect-timeout", "0.5", url=closed)
    assert done.returncode != 0
    shown.append(("thoonk stats, unreachable", done.stdout + done.stderr))

    shown.append(("logs", caplog.text))
    for where, text in shown:
        assert_no_secret(text, where)
    # The connection's repr still says where it is connected.
    assert f"{USER}:***@" in shown[0][1]
