"""``doorstep serve``: the hub and the web app in one process.

The hub (ingest, commands, health) connects to the broker first; then uvicorn
serves ``create_app(hub, WebSettings())``. Settings come from the environment
(``DOORSTEP_HUB_*`` for storage and broker, ``DOORSTEP_WEB_*`` for the web app);
SIGINT or SIGTERM stops the web server, then the hub, and exits 0.

    $ DOORSTEP_HUB_DATA_DIR=/var/lib/doorstep/hub DOORSTEP_HUB_MQTT_CA=ca.pem \\
      DOORSTEP_HUB_MQTT_CERT=client.pem DOORSTEP_HUB_MQTT_KEY=client.key \\
      doorstep serve --host 127.0.0.1 --port 8080
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_ERROR = 0, 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="run the hub and the web app in one process",
        description=(
            "Run the hub (ingest, commands, health) and serve the web app. Settings come "
            "from DOORSTEP_HUB_* and DOORSTEP_WEB_* environment variables."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    p.add_argument("--db", metavar="URL", help="database URL (default from DOORSTEP_HUB_*)")
    p.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    p.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        metavar="IPS",
        help="reverse proxies whose X-Forwarded-* headers are trusted (default 127.0.0.1)",
    )
    p.add_argument("--access-log", action="store_true", help="log every HTTP request")
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=None,
        help="log lines as text or one JSON object each (default: $DOORSTEP_LOG_FORMAT or text)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from pydantic import ValidationError

    from hub.errors import HubError
    from hub.runtime_settings import HubRuntimeSettings
    from hub.service import Hub
    from hub.settings import HubSettings
    from hub.storage.totp_sealing import TotpSealer
    from protocol.errors import ProtocolError

    if bool(args.tls_cert) != bool(args.tls_key):
        print(
            "doorstep serve: error: give both --tls-cert and --tls-key, or neither", file=sys.stderr
        )
        return EXIT_ERROR
    import os

    from protocol.logs import apply_log_format

    try:
        apply_log_format(args.log_format, os.environ)
    except ValueError as exc:
        print(f"doorstep serve: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    log = logging.getLogger("doorstep.serve")
    # Migration chatter at every start is not news; warnings still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        overrides = {"database_url": args.db} if args.db else {}
        settings = HubSettings(**overrides)
        runtime = HubRuntimeSettings()
        # The web app stores second-factor secrets: never let them go to disk unsealed.
        TotpSealer.load_or_create(settings.totp_key)  # type: ignore[arg-type]
        # /metrics answers only to this deployment's bearer token (issue 10).
        from hub.metrics import METRICS_TOKEN_FILE, load_or_create_token

        metrics_token = load_or_create_token(settings.data_dir / "keys" / METRICS_TOKEN_FILE)
        hub = Hub.from_settings(settings, runtime)
    except (HubError, ProtocolError, ValidationError, OSError) as exc:
        print(f"doorstep serve: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    # Our own handlers first: uvicorn restores them after its graceful shutdown and
    # re-raises the signal it caught, which then lands here instead of killing us.
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        hub.start()
    except (ConnectionError, OSError) as exc:
        hub.ingest.stop()  # the only part started so far (its worker thread)
        hub.db.dispose()
        print(
            f"doorstep serve: error: {exc} (check DOORSTEP_HUB_MQTT_HOST, _PORT, _CA, _CERT "
            "and _KEY, and that the broker runs)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    # --- notifications (issue 12): Web Push worker beside the hub; it only reads hub.bus ---
    from hub.notify.settings import NotifySettings
    from hub.notify.setup import Notifications

    try:
        notifications = Notifications.start(hub.db, hub.bus, settings.data_dir, NotifySettings())
    except (HubError, ValidationError, OSError) as exc:
        hub.stop()
        hub.db.dispose()
        print(f"doorstep serve: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    # --- end notifications ---
    try:
        if not stopping.is_set():
            _serve(hub, args, notifications, metrics_token=metrics_token)
    finally:
        notifications.stop()
        hub.stop()
        hub.db.dispose()
        log.info("hub and web app stopped")
    return EXIT_OK


def _serve(
    hub: object,
    args: argparse.Namespace,
    notifications: object = None,
    *,
    metrics_token: str | None = None,
) -> None:
    import uvicorn

    from .app import create_app
    from .settings import WebSettings

    app = create_app(hub, WebSettings())  # type: ignore[arg-type]
    keys = getattr(notifications, "keys", None)  # Web Push's VAPID keys, if push is on
    if keys is not None:
        from .routes.push import PushConfig

        app.state.push = PushConfig(keys.application_server_key)
    if metrics_token:
        from hub.metrics import hub_registry

        from .routes.metrics import MetricsAccess

        ingest = getattr(hub, "ingest", None)
        registry = hub_registry(hub.db, ingest=ingest)  # type: ignore[attr-defined]
        app.state.metrics = MetricsAccess(metrics_token, registry)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
        ssl_keyfile=str(args.tls_key) if args.tls_key else None,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        server_header=False,
        access_log=args.access_log,
        log_config=None,  # keep the doorstep command's logging set-up
        # Live streams (SSE) never end by themselves: give them a moment, then close.
        timeout_graceful_shutdown=3,
    )
    uvicorn.Server(config).run()
