"""The web app factory: the JSON API over a running hub.

No module-level app or settings: whoever serves it builds both.

    app = create_app(hub, WebSettings())
    uvicorn.run(app, host="127.0.0.1", port=8443, ssl_keyfile=..., ssl_certfile=...)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import anyio
from fastapi import Depends, FastAPI

from hub.service import Hub
from hub.storage.accounts import Passwords
from protocol.base import utcnow

from .deps import public, require_session
from .routes import admin, audit, auth, doors, events, invitations, live, me, stream, telecare
from .routes import push as push_routes  # Web Push subscriptions (issue 12)
from .routes import visits as visit_routes
from .routes.pages import install as install_pages
from .security import IpThrottle
from .settings import WebSettings


def create_app(
    hub: Hub,
    settings: WebSettings,
    *,
    passwords: Passwords | None = None,
    clock: Callable[[], datetime] = utcnow,
    max_streams: int = 200,
) -> FastAPI:
    app = FastAPI(
        title="Doorstep",
        version="0.1.0",
        dependencies=[Depends(require_session)],  # secure by default; @public opts out
    )
    app.state.hub = hub
    app.state.settings = settings
    app.state.clock = clock
    app.state.passwords = passwords or Passwords()
    app.state.ip_throttle = IpThrottle(settings.max_failures_per_ip, settings.ip_window_s)
    app.state.stream_limiter = anyio.CapacityLimiter(max_streams)
    for module in (auth, doors, events, stream, telecare):
        app.include_router(module.router)
    for module in (me, visit_routes, invitations, audit, live, admin):
        app.include_router(module.router)
    app.include_router(push_routes.router)  # app.state.push set by `doorstep serve`

    @app.get("/api/health", tags=["health"])
    @public
    def health() -> dict[str, bool]:
        return {"ok": True}

    install_pages(app)  # HTML shells, /static, security headers
    return app
