"""JSON log lines carry the request id of the request that logged them."""

import json
import logging

from fastapi.testclient import TestClient

from mlops_assets.serving.app import create_app
from mlops_assets.serving.config import ServingSettings
from mlops_assets.serving.logs import JsonFormatter, log_config


def record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("mlops_assets.serving", level, __file__, 1, message, None, None)


def test_a_json_line_has_time_level_logger_and_message():
    line = json.loads(JsonFormatter().format(record("reload (poll): v1 -> v2")))
    assert line["level"] == "INFO" and line["logger"] == "mlops_assets.serving"
    assert line["message"] == "reload (poll): v1 -> v2"
    assert line["time"].endswith("+00:00") and "request_id" not in line


def test_lines_logged_during_a_request_carry_its_id(source):
    source.alias = "1"
    lines = []

    class Capture(logging.Handler):
        def emit(self, record):
            lines.append(json.loads(JsonFormatter().format(record)))

    app = create_app(ServingSettings(poll_interval_s=0), source)

    @app.get("/logs-something")
    async def logs_something():
        logging.getLogger("mlops_assets.serving").warning("inside the request")
        return {}

    handler = Capture()
    logging.getLogger("mlops_assets.serving").addHandler(handler)
    try:
        with TestClient(app) as client:
            client.get("/logs-something", headers={"X-Request-ID": "abc-123"})
    finally:
        logging.getLogger("mlops_assets.serving").removeHandler(handler)
    [inside] = [line for line in lines if line["message"] == "inside the request"]
    assert inside["request_id"] == "abc-123"


def test_text_stays_the_default_and_json_reaches_uvicorns_loggers():
    assert ServingSettings().log_format == "text"
    config = log_config("json")
    assert config["formatters"]["default"]["()"].endswith("JsonFormatter")
    assert set(config["loggers"]) == {"uvicorn", "uvicorn.error", "uvicorn.access"}
