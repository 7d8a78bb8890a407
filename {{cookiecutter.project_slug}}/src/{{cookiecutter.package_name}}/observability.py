"""What the running service says about itself: Prometheus metrics and JSON request logs.

`ObserveRequests` (middleware) counts, times and logs every HTTP request; `api.py` adds it
to the app and serves the metrics on /metrics. What the model sees in production (the
prediction log and drift against the training data) is in `monitoring.py`.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import sys
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (only these on /metrics)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests",
            "HTTP requests by method, route and status.",
            ["method", "path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Request latency by method and route.",
            ["method", "path"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "predictions",
            "Predictions served, by outcome (class, or 'value' for regression).",
            ["outcome"],
            registry=self.registry,
        )
        self.drift = Gauge(
            "feature_drift_psi",
            "PSI of recent requests against the training data, by feature.",
            ["feature"],
            registry=self.registry,
        )
        self.drifted = Gauge(
            "drift_detected",
            "Number of features whose PSI is over the drift threshold.",
            registry=self.registry,
        )
        self.window = Gauge(
            "drift_window_rows", "Recent records the drift gauges use.", registry=self.registry
        )
        self.model = Gauge(
            "model_info", "The model being served.", ["name", "version"], registry=self.registry
        )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        return json.dumps(entry)


def json_logger(name: str) -> logging.Logger:
    """A logger that writes JSON lines to stdout from a background thread: a slow reader of
    stdout (a busy log driver) must not stall requests."""
    logger = logging.getLogger(name)
    if not logger.handlers:
        lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        stdout = logging.StreamHandler(sys.stdout)
        stdout.setFormatter(JsonFormatter())
        listener = logging.handlers.QueueListener(lines, stdout)
        listener.start()
        atexit.register(listener.stop)
        logger.addHandler(logging.handlers.QueueHandler(lines))
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class ObserveRequests:
    """ASGI middleware: count, time and log (one JSON line) every HTTP request."""

    def __init__(self, app: Any, metrics: Metrics, logger: logging.Logger) -> None:
        self.app = app
        self.metrics = metrics
        self.logger = logger

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_record(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, path, str(status)).inc()
            self.metrics.latency.labels(method, path).observe(elapsed)
            fields = {
                "request_id": uuid.uuid4().hex[:12],
                "method": method,
                "path": scope["path"],
                "route": path,
                "status": status,
                "duration_ms": round(elapsed * 1000, 3),
            }
            self.logger.info("request", extra={"fields": fields})
