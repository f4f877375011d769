"""Structured logs: one JSON object per line (``json``) or a readable line (``text``), with the
request, operation and signer of the work being done (context variables, set by the request
middleware and the services' workers). Secrets are never passed to loggers; as a second guard,
URL credentials and bearer tokens are masked in every rendered line."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
operation_id: ContextVar[str | None] = ContextVar("operation_id", default=None)
signer: ContextVar[str | None] = ContextVar("signer", default=None)
HANDLER_NAME = "scf"
CONTEXT = {"request_id": request_id, "operation_id": operation_id, "signer": signer}

# scheme://user:password@host -> scheme://***@host; "Bearer <token>" -> "Bearer ***"
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',]+")
# attributes every LogRecord has: anything else was passed with `extra=` and is rendered too
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName", "color_message",  # uvicorn's colored copy of the message
}


def redact(text: str) -> str:
    return _BEARER.sub(r"\1***", _URL_CREDENTIALS.sub(r"\g<scheme>***@", text))


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's context (request_id, operation_id, signer) and `extra=` fields."""
    out: dict[str, Any] = {}
    for name, var in CONTEXT.items():
        value = getattr(record, name, None) or var.get()
        if value is not None:
            out[name] = value
    for key, value in vars(record).items():
        if key not in _STANDARD and key not in out:
            out[key] = value
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **fields(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(line, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in fields(record).items())
        return redact(f"{text} [{extra}]" if extra else text)


def setup(level: str = "INFO", fmt: str = "json", stream: Any = None) -> None:
    """Configure the root logger (one handler of ours, the chosen format; others, e.g. a test
    runner's, are kept); uvicorn's loggers propagate to
    it, and its access log is off (the request middleware logs one line per request instead)."""
    if fmt not in ("json", "text"):
        raise ValueError(f"log format must be 'json' or 'text', not {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:  # a second app: replaced
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    access.disabled = True


@contextlib.contextmanager
def bound(**values: str | None) -> Iterator[None]:
    """Set context fields (operation_id, signer, request_id) for the lines logged inside."""
    tokens = [(CONTEXT[k], CONTEXT[k].set(v)) for k, v in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
