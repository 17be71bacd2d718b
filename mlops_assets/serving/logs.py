"""The server's log lines: plain text by default, one JSON object per line on request.

`MLOPS_SERVING_LOG_FORMAT=json` suits log shippers (Loki, CloudWatch, Elasticsearch): each line
carries time, level, logger, message and, for lines logged while a request was handled, that
request's `X-Request-ID`. uvicorn's own loggers (and its access log) use the same format.
Every line is redacted (URL passwords, `password=`/`token=` values) and its message kept on one
line (a request or a message cannot forge log lines with newlines or terminal escapes).
"""

import json
import logging
from datetime import UTC, datetime
from typing import Literal

from mlops_assets.contracts.safe_text import printable, redact
from mlops_assets.serving.metrics import request_id_var

TEXT_FORMAT = "%(asctime)s %(name)s %(message)s"


class TextFormatter(logging.Formatter):
    """`TEXT_FORMAT` lines, redacted, the message on one line."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = printable(redact(record.message))
        return super().formatMessage(record)

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return redact(super().formatException(ei))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, request_id."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            line["request_id"] = request_id
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def log_config(log_format: Literal["text", "json"]) -> dict:
    """A `logging.config.dictConfig` for the server and uvicorn (uvicorn's `log_config`)."""
    formatter = (
        {"()": f"{__name__}.JsonFormatter"}
        if log_format == "json"
        else {"()": f"{__name__}.TextFormatter", "format": TEXT_FORMAT}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "stream": "ext://sys.stderr",
    }
    logger = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": "INFO"},
        "loggers": {name: logger for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }
