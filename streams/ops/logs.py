"""The worker's logging: Guardline's own lines at the chosen level, libraries' at WARNING, as
text or as one JSON object per line (for a log pipeline).

Faust, mode and aiokafka log every routine step at INFO; Guardline's INFO lines are the few an
operator wants (partitions assigned, where the metrics are). So `--loglevel info` (the default)
shows those and the libraries' warnings and errors; `debug` shows everything. Kept in-house
rather than taking a JSON-logging package: a dozen lines of stdlib, and what they write is
exactly the record's own fields (Guardline's messages carry no ids, by rule).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")
LOG_FORMAT_ENV = "GUARDLINE_LOG_FORMAT"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ms), level, logger, pid, message[, exception]."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for mode's `setup_logging` (merged into its defaults)."""
    chosen = logging.getLevelName(level.upper())
    libraries = chosen if chosen == logging.DEBUG else max(chosen, logging.WARNING)
    config: dict[str, Any] = {
        "merge": True,
        "root": {"level": libraries, "handlers": ["default"]},
        "loggers": {"guardline": {"level": chosen}},
    }
    if log_format == "json":
        config["formatters"] = {"json": {"()": JsonFormatter}}
        config["handlers"] = {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "level": chosen,
                "stream": "ext://sys.stderr",
            }
        }
    return config
