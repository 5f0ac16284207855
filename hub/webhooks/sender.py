"""One HTTP POST of a webhook, with no redirects followed, and what came of it.

Standard library only (``urllib``): a webhook is one small POST, and the answer's
status and ``Retry-After`` are all we need.

    result = post("https://partner.example/hooks", b"{}", {"content-type": "..."}, timeout=10)
    result.ok, result.status, result.retry_after_s
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from ..retry_after import retry_after


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


_opener = urllib.request.build_opener(_NoRedirects())


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Result:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(65536)
            return Result(response.status)
    except urllib.error.HTTPError as exc:
        after = retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        return Result(exc.code, after, f"HTTP {exc.code} {exc.reason}"[:500])
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused, TLS
        return Result(None, None, f"{type(exc).__name__}: {exc}"[:500])
