"""GET /metrics: Prometheus metrics, for a scraper holding the deployment's bearer token.

Not a session route (a scraper has no account), so it is marked public and checks its
own credential: ``Authorization: Bearer <token>``, the token ``doorstep serve`` made in
``<data_dir>/keys/metrics.token``. Loopback alone is not trusted: behind a reverse proxy
every request comes from 127.0.0.1. With no token configured the route answers 404.

    app.state.metrics = MetricsAccess(token, hub_registry(hub.db, ingest=hub.ingest))
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from ..deps import public

router = APIRouter(tags=["metrics"])


@dataclass(frozen=True)
class MetricsAccess:
    token: str
    registry: CollectorRegistry


def _authorised(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


@router.get("/metrics", include_in_schema=False)
@public
def metrics(request: Request) -> Response:
    access: MetricsAccess | None = getattr(request.app.state, "metrics", None)
    if access is None or not access.token:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "metrics are not enabled here")
    if not _authorised(request, access.token):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send the deployment's metrics token: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="doorstep-metrics"'},
        )
    return Response(generate_latest(access.registry), media_type=CONTENT_TYPE_LATEST)
