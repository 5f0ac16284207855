"""The mobile web pages: HTML shells, static files, manifest and service worker.

Pages carry no data and need no session: each one loads what it shows with
``fetch()`` from the JSON API, so authorisation lives in one place (the API) and a
page redirects to /login itself when the API answers 401. Every response gets
strict security headers; HTML gets a Content-Security-Policy without inline scripts.
One API route lives here because only the enrolment page needs it: the QR code.

    install(app)                # in create_app(): pages, /static, security headers
    GET  /homes/{home}          # the ring screen of a home (see PAGES for the rest)
    POST /api/totp/qr {"uri": "otpauth://totp/..."}   -> image/svg+xml
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import segno
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..deps import public

WEB = Path(__file__).resolve().parent.parent / "web"

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

# (path, template, title): one shell per page; the page's ES module does the rest.
PAGES: tuple[tuple[str, str, str], ...] = (
    ("/", "index.html", "Doorstep"),
    ("/login", "login.html", "Sign in"),
    ("/invite", "invite.html", "Accept your invitation"),
    ("/homes/{home}", "home.html", "Front door"),
    ("/homes/{home}/events", "events.html", "Door history"),
    ("/homes/{home}/carers", "carers.html", "Carers and visits"),
    ("/homes/{home}/audit", "audit.html", "Audit log"),
    ("/carer", "carer.html", "My visits"),
    ("/telecare", "telecare.html", "Fleet health"),
    ("/admin", "admin.html", "Administration"),
)


# Data (JSON, pictures, the stream) never needs to run or embed anything.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"
# FastAPI's interactive docs load their own inline script: they keep no CSP.
DOCS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})


class SecurityHeaders:
    """Pure ASGI middleware (no buffering, so Server-Sent Events still stream).

    Every response: nosniff, no referrer, no framing. Pages and scripts (a service
    worker obeys its script's CSP): the strict CSP; anything else: ``DATA_CSP``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in DOCS

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower(): v for k, v in headers}
                kind = names.get(b"content-type", b"")
                page = kind.startswith(
                    (b"text/html", b"text/javascript", b"application/javascript")
                )
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                if not docs:
                    extra.append((b"content-security-policy", (CSP if page else DATA_CSP).encode()))
                headers += [(k, v) for k, v in extra if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def _page_route(
    templates: Jinja2Templates, template: str, title: str
) -> Callable[[Request], HTMLResponse]:
    @public
    def page(request: Request) -> HTMLResponse:
        # No data in the page: only its name and title.
        return templates.TemplateResponse(
            request,
            template,
            {"title": title, "page": template.removesuffix(".html")},
            headers={"Cache-Control": "no-cache"},
        )

    return page


class QrRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uri: str = Field(
        pattern=r"^otpauth://totp/", max_length=512, description="from /api/totp/enroll"
    )


def qr_svg(text: str) -> bytes:
    """A QR code as SVG (segno: pure Python, no image library)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(
        out, kind="svg", scale=6, border=4, xmldecl=False, title="QR code for your authenticator"
    )
    return out.getvalue()


def build_router() -> APIRouter:
    templates = Jinja2Templates(directory=WEB / "templates")
    router = APIRouter(tags=["pages"])
    for path, template, title in PAGES:
        router.add_api_route(
            path,
            _page_route(templates, template, title),
            methods=["GET"],
            response_class=HTMLResponse,
            name=f"page_{template.removesuffix('.html')}",
            include_in_schema=False,
        )

    @router.get("/manifest.webmanifest", include_in_schema=False)
    @public
    def manifest() -> FileResponse:
        return FileResponse(WEB / "manifest.webmanifest", media_type="application/manifest+json")

    @router.get("/sw.js", include_in_schema=False)
    @public
    def service_worker() -> FileResponse:
        # Served from / so its scope covers every page; never cached by HTTP.
        return FileResponse(
            WEB / "static" / "js" / "sw.js",
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
        )

    @router.post(
        "/api/totp/qr",
        response_class=Response,
        tags=["auth"],
        responses={200: {"content": {"image/svg+xml": {}}}},
    )
    def totp_qr(body: QrRequest) -> Response:
        # Needs a session and the CSRF header (app-wide); POST keeps the secret in the
        # URI out of URLs and logs. Shown by /invite while enrolling.
        return Response(
            qr_svg(body.uri), media_type="image/svg+xml", headers={"Cache-Control": "no-store"}
        )

    return router


def install(app: FastAPI) -> None:
    """Add the pages, /static and the security headers to ``app``."""
    app.include_router(build_router())
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    app.add_middleware(SecurityHeaders)
