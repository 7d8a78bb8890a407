"""The prediction service (FastAPI).

    GET  /health         liveness: the process answers
    GET  /ready          readiness: the model bundle is loaded (503 if it could not be)
    POST /predict        one record -> one prediction
    POST /predict/batch  {"instances": [...]} -> one prediction per record
    GET  /model          which model answers: registered name, version, run id, metrics
    GET  /metrics        Prometheus metrics: requests, latency, predictions, drift

Run it with `make serve` (or `python -m {{ cookiecutter.package_name }}.serve`). The model is loaded
by `lifespan`, before the server accepts connections, so once /health answers the model is
there; if it cannot be loaded the service still starts, and /ready, /predict and /model
answer 503 with the reason (the image's HEALTHCHECK probes /ready, so such a container
reports unhealthy). Settings (MODEL_DIR, PREDICTION_LOG, ...) come from the environment.

The request bodies are `Record` and `BatchRequest` in `schema.py`; the metrics, the JSON
request logs and the middleware that records each request are in `observability.py`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.bundle import Bundle, BundleError, fast_inference, load_bundle
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.monitoring import PredictionLog, drift_scores
from {{ cookiecutter.package_name }}.observability import Metrics, ObserveRequests, json_logger
from {{ cookiecutter.package_name }}.schema import FEATURE_NAMES, BatchRequest, Record
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


# One set of metrics (served on /metrics) and one JSON request log for the whole process.
metrics = Metrics()
logger = json_logger("{{ cookiecutter.package_name }}.requests")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs once, before the server accepts requests: read the settings from the environment
    and load the model bundle. What the routes need is kept on `app.state`."""
    settings = Settings.from_env()
    app.state.settings = settings
    app.state.bundle = None  # a Bundle once loaded
    app.state.load_error = ""  # why there is no bundle
    app.state.prediction_log = PredictionLog(settings.prediction_log)
    # The features of the latest requests, for the drift gauges on /metrics.
    app.state.recent = deque(maxlen=settings.drift_window)
    try:
        app.state.bundle = load_bundle(settings.model_dir)
        meta = app.state.bundle.metadata
        metrics.model.labels(str(meta.get("name")), str(meta.get("version"))).set(1)
        logger.info("model loaded", extra={"fields": {"version": meta.get("version")}})
    except BundleError as exc:
        app.state.load_error = str(exc)
        logger.error("model not loaded", extra={"fields": {"error": app.state.load_error}})
    yield


app = FastAPI(
    title="{{ cookiecutter.project_name | replace('"', "'") }}",
    description="{{ cookiecutter.description | replace('"', "'") }}",
    version=__version__,
    lifespan=lifespan,
)
app.add_middleware(ObserveRequests, metrics=metrics, logger=logger)


def loaded() -> Bundle:
    """The model bundle, or a 503 answer that says why it is not loaded."""
    bundle: Bundle | None = app.state.bundle
    if bundle is None:
        raise HTTPException(status_code=503, detail=f"model not loaded: {app.state.load_error}")
    return bundle


def version() -> str | None:
    """The registered version that answers (None for a bundle the image build trained)."""
    value = loaded().metadata.get("version")
    return None if value is None else str(value)


def predict_records(records: list[dict[str, float]]) -> list[dict[str, Any]]:
    """Predict for validated records, in order; count, remember and log what was served."""
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
                "probabilities": {c: round(float(p), 6) for c, p in zip(classes, row, strict=True)},
            }
        )
{%- else %}
    with fast_inference():
        values = model.predict(matrix)
    metrics.predictions.labels("value").inc(len(values))
    results = [{"prediction": float(value)} for value in values]
{%- endif %}
    app.state.recent.extend(matrix.tolist())
    app.state.prediction_log.write(records, [r["prediction"] for r in results], version())
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
async def predict(record: Record) -> dict[str, Any]:
    """Predict for one record."""
    result = predict_records([record.model_dump()])[0]
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
    settings: Settings = app.state.settings
    recent: deque[list[float]] = app.state.recent
    metrics.window.set(len(recent))
    if app.state.bundle is not None and len(recent) >= settings.drift_min_rows:
        scores = drift_scores(app.state.bundle.reference, np.array(recent))
        for name, score in scores.items():
            metrics.drift.labels(name).set(score)
        metrics.drifted.set(sum(score > settings.drift_threshold for score in scores.values()))
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
