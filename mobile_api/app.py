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
from .routes import break_glass as break_glass_routes  # issue 9
from .routes import carer_photos as carer_photo_routes  # issue 9: photos with consent
from .routes import check_in_policy as check_in_routes  # issue 9: approval, auto-unlock
from .routes import escalation as escalation_routes  # issue 9
from .routes import exports as export_routes  # FHIR exports and reports (issue 10)
from .routes import home_assistant as home_assistant_routes  # Home Assistant (issue 10)
from .routes import metrics as metrics_routes  # /metrics (issue 10)
from .routes import notifications as notification_routes  # issue 12: prefs, receipts
from .routes import privacy as privacy_routes  # consent, privacy switch, erasure (issue 9)
from .routes import push as push_routes  # Web Push subscriptions (issue 12)
from .routes import visit_reports as visit_report_routes  # issue 9: planned vs actual
from .routes import visits as visit_routes
from .routes import webhooks as webhook_routes  # partner webhooks (issue 10)
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
    for module in (escalation_routes, break_glass_routes):  # issue 9
        app.include_router(module.router)
    app.include_router(privacy_routes.router)  # issue 9: privacy
    app.include_router(check_in_routes.router)  # issue 9: check-in policy and approvals
    app.include_router(carer_photo_routes.router)  # issue 9: carers' photos with consent
    app.include_router(visit_report_routes.router)  # issue 9: visit records report
    app.include_router(push_routes.router)  # app.state.push set by `doorstep serve`
    app.include_router(notification_routes.router)  # issue 12
    app.include_router(export_routes.router)
    app.state.metrics = None  # a MetricsAccess, set by `doorstep serve` (issue 10)
    app.include_router(metrics_routes.router)
    app.include_router(home_assistant_routes.router)
    app.include_router(webhook_routes.router)

    @app.get("/api/health", tags=["health"])
    @public
    def health() -> dict[str, bool]:
        return {"ok": True}

    install_pages(app)  # HTML shells, /static, security headers
    return app
