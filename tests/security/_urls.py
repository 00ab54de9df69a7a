"""The session's test URL with a user and password in it (unix or TCP server)."""

from __future__ import annotations

import urllib.parse


def url_with_user(url: str, user: str, password: str) -> str:
    """``url`` logging in as ``user`` with ``password`` (already URL-quoted)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{user}:{password}@{parts.path}?{parts.query}"
    host = parts.hostname or "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}{port}"))
