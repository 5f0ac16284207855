"""One HTTP POST of a webhook, with no redirects followed, and what came of it.

Standard library only (``urllib``): a webhook is one small POST, and the answer's
status and ``Retry-After`` are all we need. The connection goes only to addresses
``targets.allowed_addresses`` approves at that moment (resolved once, checked, then
connected to), so a name re-pointed at the hub's own network after the subscription
was made is refused. No proxy from the environment is used: the check is about where
the request really goes.

    result = post("https://partner.example/hooks", b"{}", {"content-type": "..."}, timeout=10)
    result.ok, result.status, result.retry_after_s
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from ..retry_after import retry_after
from .targets import BlockedTarget, Resolver, allowed_addresses, system_resolver

# (host, port) -> the addresses that may be connected to, or BlockedTarget
Addresses = Callable[[str, int], list[str]]


@dataclass(frozen=True, slots=True)
class Result:
    status: int | None  # None: no answer (refused, timed out, TLS error)
    retry_after_s: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A partner's endpoint moving is a failure to fix in the subscription, not a hop
    # to follow (a redirect could send signed data somewhere nobody chose).
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _connector(addresses: Addresses) -> Callable[..., socket.socket]:
    """``socket.create_connection`` that resolves and checks first, then connects only
    to an approved address (never resolving the name a second time)."""

    def connect(
        address: tuple[str, int], timeout: Any = None, source_address: Any = None
    ) -> socket.socket:
        host, port = address
        last: OSError | None = None
        for ip in addresses(host, port):
            try:
                return socket.create_connection((ip, port), timeout, source_address)
            except OSError as exc:
                last = exc
        raise last or OSError(f"no address of {host!r} answered")

    return connect


class _GuardedHttp(urllib.request.HTTPHandler):
    def __init__(self, addresses: Addresses) -> None:
        super().__init__()
        self._addresses = addresses

    def _connection(self, host: str, **kwargs: Any) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(host, **kwargs)
        conn._create_connection = _connector(self._addresses)  # type: ignore[attr-defined]
        return conn

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(self._connection, req)


class _GuardedHttps(urllib.request.HTTPSHandler):
    # TLS still checks the certificate against the host name (server_hostname = host).
    def __init__(self, addresses: Addresses) -> None:
        super().__init__()
        self._addresses = addresses

    def _connection(self, host: str, **kwargs: Any) -> http.client.HTTPSConnection:
        conn = http.client.HTTPSConnection(host, **kwargs)
        conn._create_connection = _connector(self._addresses)  # type: ignore[attr-defined]
        return conn

    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(self._connection, req, context=self._context)


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    allow_private: bool = False,
    resolve: Resolver = system_resolver,
) -> Result:
    """POST once; ``allow_private``: the operator's ``allow_private_targets`` setting."""
    addresses = partial(
        allowed_addresses,
        allow_private=allow_private,
        plain_http=urlsplit(url).scheme == "http",
        resolve=resolve,
    )
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _NoRedirects(),
        _GuardedHttp(addresses),
        _GuardedHttps(addresses),
    )
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(65536)
            return Result(response.status)
    except urllib.error.HTTPError as exc:
        after = retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        return Result(exc.code, after, f"HTTP {exc.code} {exc.reason}"[:500])
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, BlockedTarget):
            return Result(None, None, f"refused: {exc.reason}"[:500])
        return Result(None, None, f"URLError: {exc}"[:500])
    except BlockedTarget as exc:
        return Result(None, None, f"refused: {exc}"[:500])
    except (OSError, ValueError) as exc:  # timeouts, refused, TLS
        return Result(None, None, f"{type(exc).__name__}: {exc}"[:500])
