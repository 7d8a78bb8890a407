"""The prediction service (FastAPI).

    GET  /health         liveness: the process answers
    GET  /ready          readiness: the model bundle is loaded (503 if it could not be)
    POST /predict        one record -> one prediction
    POST /predict/batch  {"instances": [...]} -> one prediction per record
    GET  /model          which model answers: registered name, version, run id, metrics
    GET  /metrics        Prometheus metrics: requests, latency, predictions, drift

Run it with `make serve` (or `python -m {{ cookiecutter.package_name }}.serve`). The model is loaded
before the server accepts connections, so once /health answers the model is there; if it
cannot be loaded the service still starts, and /ready, /predict and /model answer 503 with
the reason (the image's HEALTHCHECK probes /ready, so such a container reports unhealthy).
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
from collections import deque
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field, create_model

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.bundle import Bundle, BundleError, fast_inference, load_bundle
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.monitoring import PredictionLog, drift_scores
from {{ cookiecutter.package_name }}.schema import FEATURE_NAMES, FEATURES, example_record

MAX_BATCH = 1000
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

# Request models come from the schema, so a new dataset needs no change here. Bounds give
# 422 answers for impossible values; NaN and infinity are refused too.
Record: type[BaseModel] = create_model(
    "Record",
    __config__=ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={"examples": [example_record()]},
    ),
    **{
        f.name: (float, Field(description=f.description, ge=f.minimum, le=f.maximum))
        for f in FEATURES
    },
)


class BatchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"instances": [example_record()]}]}
    )
    instances: list[Record] = Field(min_length=1, max_length=MAX_BATCH)  # type: ignore[valid-type]

{%- if cookiecutter.task == "classification" %}


class Prediction(BaseModel):
    prediction: str = Field(description="Predicted class.")
    probabilities: dict[str, float] = Field(description="Probability of each class.")
    model_version: str | None = Field(description="Registered version that answered.")


class BatchItem(BaseModel):
    prediction: str
    probabilities: dict[str, float]
{%- else %}


class Prediction(BaseModel):
    prediction: float = Field(description="Predicted value.")
    model_version: str | None = Field(description="Registered version that answered.")


class BatchItem(BaseModel):
    prediction: float
{%- endif %}


class BatchPrediction(BaseModel):
    predictions: list[BatchItem]
    model_version: str | None


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (one per app)."""

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


class ModelState:
    """The loaded bundle, or why there is none (yet)."""

    def __init__(self) -> None:
        self.bundle: Bundle | None = None
        self.error = ""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service for one model bundle (default: `Settings.from_env()`)."""
    settings = settings or Settings.from_env()
    metrics = Metrics()
    logger = json_logger("{{ cookiecutter.package_name }}.requests")
    prediction_log = PredictionLog(settings.prediction_log)
    recent: deque[list[float]] = deque(maxlen=settings.drift_window)
    state = ModelState()

    try:
        state.bundle = load_bundle(settings.model_dir)
        meta = state.bundle.metadata
        metrics.model.labels(str(meta.get("name")), str(meta.get("version"))).set(1)
        logger.info("model loaded", extra={"fields": {"version": meta.get("version")}})
    except BundleError as exc:
        state.error = str(exc)
        logger.error("model not loaded", extra={"fields": {"error": state.error}})

    app = FastAPI(
        title="{{ cookiecutter.project_name | replace('"', "'") }}",
        description="{{ cookiecutter.description | replace('"', "'") }}",
        version=__version__,
    )
    app.add_middleware(ObserveRequests, metrics=metrics, logger=logger)

    def loaded() -> Bundle:
        if state.bundle is None:
            raise HTTPException(status_code=503, detail=f"model not loaded: {state.error}")
        return state.bundle

    def version() -> str | None:
        value = loaded().metadata.get("version")
        return None if value is None else str(value)

    def predict_records(records: list[dict[str, float]]) -> list[dict[str, Any]]:
        model = loaded().model
        matrix = np.array([[r[name] for name in FEATURE_NAMES] for r in records], dtype="float64")
{%- if cookiecutter.task == "classification" %}
        with fast_inference():
            probabilities = model.predict_proba(matrix)
        classes = [str(label) for label in model.classes_]
        results = []
        for row in probabilities:
            label = classes[int(np.argmax(row))]
            metrics.predictions.labels(label).inc()
            results.append(
                {
                    "prediction": label,
                    "probabilities": {
                        c: round(float(p), 6) for c, p in zip(classes, row, strict=True)
                    },
                }
            )
{%- else %}
        with fast_inference():
            values = model.predict(matrix)
        metrics.predictions.labels("value").inc(len(values))
        results = [{"prediction": float(value)} for value in values]
{%- endif %}
        recent.extend(matrix.tolist())
        prediction_log.write(records, [r["prediction"] for r in results], version())
        return results

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Say where and what, without echoing the input: it may hold NaN (not JSON) or be huge.
        errors = [
            {"loc": list(error.get("loc", ())), "msg": error.get("msg"), "type": error.get("type")}
            for error in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"fields": {"path": request.url.path}})
        return JSONResponse(status_code=500, content={"detail": "internal error"})

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        """Liveness: the process is up (the model may still be loading)."""
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"], responses={503: {"description": "Model not loaded"}})
    async def ready() -> dict[str, Any]:
        """Readiness: the model bundle is loaded and can answer."""
        return {"status": "ready", "model": loaded().metadata.get("name")}

    @app.post("/predict", response_model=Prediction, tags=["predictions"])
    async def predict(record: Record) -> dict[str, Any]:  # type: ignore[valid-type]
        """Predict for one record."""
        result = predict_records([record.model_dump()])[0]  # type: ignore[attr-defined]
        return {**result, "model_version": version()}

    @app.post("/predict/batch", response_model=BatchPrediction, tags=["predictions"])
    async def predict_batch(batch: BatchRequest) -> dict[str, Any]:
        """Predict for up to 1000 records at once, in order."""
        records = [item.model_dump() for item in batch.instances]
        return {"predictions": predict_records(records), "model_version": version()}

    @app.get("/model", tags=["operations"])
    async def model_info() -> dict[str, Any]:
        """Which model answers: registry name, version, run, metrics, code commit."""
        meta = loaded().metadata
        keys = (
            "name", "version", "alias", "run_id", "source", "metrics", "params",
            "git_commit", "exported_at", "task", "features", "classes", "primary_metric",
        )  # fmt: skip
        return {key: meta.get(key) for key in keys}

    @app.get("/metrics", tags=["operations"])
    async def prometheus() -> Response:
        """Prometheus metrics; drift gauges are computed from recent requests on each scrape."""
        metrics.window.set(len(recent))
        if state.bundle is not None and len(recent) >= settings.drift_min_rows:
            scores = drift_scores(state.bundle.reference, np.array(recent))
            for name, score in scores.items():
                metrics.drift.labels(name).set(score)
            metrics.drifted.set(sum(score > settings.drift_threshold for score in scores.values()))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def create_service() -> FastAPI:
    """The app uvicorn serves (`serve.py`): settings from the environment."""
    return create_app()
