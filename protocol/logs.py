"""Structured logs: one JSON object per line, for the hub, the web app and the edge agent.

Stdlib ``logging`` only. Each line has ``time`` (UTC, ISO 8601), ``level``, ``logger``,
``message``, any ``extra=`` fields, and ``exception`` when there is one. Extra fields
whose names look like secrets (password, totp, token, secret, key, cookie, ...) are
written as ``"[redacted]"``; the message itself is never rewritten, so code must not
put secrets into messages in the first place (tests scan a run's lines for that).

    use_log_format("json")        # or DOORSTEP_LOG_FORMAT=json, read by the CLI
    logging.getLogger("doorstep.hub").info("stored", extra={"device": "door-1a2b3c"})
    # {"time": "...Z", "level": "INFO", "logger": "doorstep.hub", "message": "stored", ...}
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")
LOG_FORMAT_ENV = "DOORSTEP_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"

# Attributes every LogRecord has: anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_SECRET_NAME = re.compile(
    r"pass(word)?|totp|otp|secret|token|key|cookie|auth|session|signature|code", re.IGNORECASE
)


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name in _STANDARD or name.startswith("_") or name in out:
                continue
            out[name] = REDACTED if _SECRET_NAME.search(name) else value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def formatter_for(log_format: str) -> logging.Formatter:
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r}: use one of {', '.join(LOG_FORMATS)}")
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def use_log_format(log_format: str) -> None:
    """Give every handler of the root logger this format (the CLI calls it once)."""
    formatter = formatter_for(log_format)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    for handler in root.handlers:
        handler.setFormatter(formatter)


def apply_log_format(chosen: str | None, environ: Any) -> str:
    """Apply ``--log-format`` or, without it, the environment's choice; return the format."""
    log_format = chosen or environ.get(LOG_FORMAT_ENV) or "text"
    use_log_format(log_format)
    return log_format
