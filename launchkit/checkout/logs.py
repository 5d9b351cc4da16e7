"""The checkout's log: one line per record, as text or (``LOG_FORMAT=json``) as JSON lines.

Every request gets one access line (:func:`access`): client address, method, path, status,
duration and, for a checkout, the product, whether it is attributed to a referral and
Stripe's request id. Its level says who must act: INFO for the normal run of things,
WARNING for what an owner may want to watch (Stripe failing, a foreign origin, a client
over its limit), ERROR only for what the owner must fix (a wrong price ID, a revoked key).

Much of what is logged comes from the client (the path, an Origin header): every value is
written so that it cannot start a new line or pass for another field. In text, a value
that is not a plain word is a JSON string (``path="/a\\nb"``); in JSON lines the encoder
escapes it. The Stripe key is never handed to a logger.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

ACCESS_LOGGER = "launchkit.checkout.access"
_access_log = logging.getLogger(ACCESS_LOGGER)
LOG_FORMATS = ("text", "json")

_PLAIN = re.compile(r"[A-Za-z0-9_./:@%+=,\-]+")  # a value written as it is, in text lines
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def access(level: int, fields: dict[str, Any]) -> None:
    """Log one access line; ``fields`` keep their order, None values are left out."""
    fields = {name: value for name, value in fields.items() if value is not None}
    _access_log.log(level, "%s", _pairs(fields), extra={"fields": fields})


def _pairs(fields: dict[str, Any]) -> str:
    return " ".join(f"{name}={_text_value(value)}" for name, value in fields.items())


def _text_value(value: Any) -> str:
    text = str(value)
    return text if _PLAIN.fullmatch(text) else json.dumps(text)


class TextFormatter(logging.Formatter):
    """``time level logger: message``, the message's control characters escaped."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = _one_line(record.message)
        return super().formatMessage(record)


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and an access line's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _one_line(text: str) -> str:
    return _CONTROL.sub(lambda match: json.dumps(match[0])[1:-1], text)


def logging_config(log_format: str = "text") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for the server, gunicorn's own loggers included.

    gunicorn applies it in its master and workers (``logconfig_dict``), so its lines take the
    same form as the app's. stripe-python's two INFO lines per request are left out: the
    access line says what matters.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    formatter = TextFormatter if log_format == "text" else JSONFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"launchkit": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "launchkit",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            "stripe": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }
