"""Settings of the web app, read from ``DOORSTEP_WEB_*`` environment variables.

Loaded once by whoever starts the app and passed to ``create_app``; never at import.

    settings = WebSettings(idle_timeout_s=600)
    app = create_app(hub, settings)
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOORSTEP_WEB_", extra="forbid")

    idle_timeout_s: int = Field(1800, ge=60, description="session ends after this idle time")
    absolute_timeout_s: int = Field(43200, ge=300, description="session ends this long after login")
    step_up_window_s: int = Field(300, ge=10, description="a step-up allows an unlock this long")
    cookie_name: str = Field("__Host-doorstep", description="session cookie (keep __Host-)")
    cookie_secure: bool = Field(True, description="send the cookie over HTTPS only")
    csrf_header: str = Field("X-CSRF-Token", description="header carrying the CSRF token")
    max_failures_per_account: int = Field(5, ge=1, description="wrong passwords before lock-out")
    lockout_s: int = Field(900, ge=1, description="how long a locked account stays locked")
    max_failures_per_ip: int = Field(20, ge=1, description="failed logins per IP per window")
    ip_window_s: int = Field(900, ge=1, description="window of the per-IP login throttle")
    stream_poll_s: float = Field(1.0, gt=0, description="how often a live stream checks its end")
