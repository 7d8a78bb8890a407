"""Team repositories that never saw the template, each shaped like layouts seen in public
course repositories, with the manifest a careful TA writes for it after reading the repo.

`build(name, root)` makes the repo (git, commits by its members); `MANIFESTS[name]` is the
TA's manifest. Inference is scored against these field by field, never the other way round:
a manifest says what is true of its repo, whatever the grader can infer.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers import build_tree, commit_all, git

Files = dict[str, str]


@dataclass(frozen=True)
class Repo:
    files: Files
    authors: tuple[tuple[str, str], ...]
    manifest: dict[str, Any]
    ignored: Files = field(default_factory=dict)  # on disk, never committed (.gitignore)


FLASK_APP = """\
import os
from flask import Flask, jsonify, request

app = Flask(__name__)
THRESHOLD = float(os.environ.get("THRESHOLD", "50"))
FEATURES = ("tenure", "monthly_charges")


@app.route("/health", methods=["GET"])
def health():
    return jsonify(status="ok")


@app.route("/predict", methods=["POST"])
def predict():
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not all(
        isinstance(payload.get(name), (int, float)) for name in FEATURES
    ):
        return jsonify(error="tenure and monthly_charges must be numbers"), 422
    return jsonify(churn=payload["monthly_charges"] > THRESHOLD)


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", 5000)))
"""

# A HEALTHCHECK that fails when the service does: urlopen raises on a 5xx answer.
URLOPEN_HEALTHCHECK = (
    "HEALTHCHECK --interval=2s --timeout=3s --retries=3 CMD python -c"
    " \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/health')\"\n"
)

FLASK_TEST = """\
from app import app


def test_predict():
    client = app.test_client()
    response = client.post("/predict", json={"tenure": 12, "monthly_charges": 70.5})
    assert response.status_code == 200
"""

FASTAPI_ROUTER_APP = """\
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

router = APIRouter(prefix="/v1")


class House(BaseModel):
    rooms: int
    area: float


@router.post("/predict")
def predict(house: House) -> dict:
    return {"price": 1000.0 * house.area}


app = FastAPI(title="house prices")
app.include_router(router)


@app.get("/healthz")
def healthz() -> dict:
    return {"ok": True}
"""

COMPOSE_APP = """\
import os
from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator

app = FastAPI()
Instrumentator().instrument(app).expose(app)
MODEL = os.environ["MODEL_PATH"]


@app.get("/health")
def health():
    return {"status": "healthy"}


@app.get("/ready")
def ready():
    return {"ready": True}


@app.post("/predict")
def predict(features: dict):
    return {"duration": 12.5}
"""

README_CURL = """\
# Taxi trip duration

Run it with `docker compose up`, then:

```bash
curl -X POST http://localhost:9696/predict \\
  -H 'Content-Type: application/json' \\
  -d '{"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1.01}'
```
"""

TRAIN_MLRUNS = """\
import joblib
import mlflow
from sklearn.ensemble import RandomForestClassifier

mlflow.set_tracking_uri("mlruns")
mlflow.set_experiment("churn")


def main():
    model = RandomForestClassifier(random_state=7)
    with mlflow.start_run():
        mlflow.log_metric("roc_auc", 0.81)
        mlflow.sklearn.log_model(model, "model", registered_model_name="churn-model")
    joblib.dump(model, "models/model.pkl")


if __name__ == "__main__":
    main()
"""

ROOT_MAIN = """\
from fastapi import FastAPI
from pydantic import BaseModel, Field

app = FastAPI()


class Review(BaseModel):
    text: str = Field(..., example="great phone, poor battery")


@app.get("/health")
def health():
    return {"status": "ok"}


@app.get("/model-info")
def model_info():
    return {"name": "sentiment"}


@app.post("/predict")
def predict(review: Review):
    return {"label": "positive"}
"""

IGNORED_MODEL_API = """\
import pickle
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel, Field

MODEL = pickle.loads(Path("models/model.joblib").read_bytes())  # made by `make train`
app = FastAPI()


class Review(BaseModel):
    text: str = Field(..., example="great phone, poor battery")


@app.get("/health")
def health():
    return {"status": "ok"}


@app.get("/version")
def version():
    return {"model": "keyword-rules", "version": f"seed-{MODEL['seed']}"}


@app.post("/predict")
def predict(review: Review):
    good = any(word in review.text for word in MODEL["positive"])
    return {"label": "positive" if good else "negative"}
"""

TEAM_A = (
    ("Ana Ruiz", "41234+anaruiz@users.noreply.github.com"),
    ("Ben Okafor", "ben.okafor@uni.edu"),
)
TEAM_B = (("Chen Wei", "chenwei@users.noreply.github.com"), ("Dara Kim", "dkim@uni.edu"))


def _members(authors: tuple[tuple[str, str], ...], handles: dict[str, str]) -> list[Any]:
    out = []
    for name, email in authors:
        member = {"name": name, "github": handles[name]}
        if "noreply" not in email:
            member["email"] = email
        out.append(member)
    return out


HANDLES = {
    "Ana Ruiz": "anaruiz",
    "Ben Okafor": "bokafor",
    "Chen Wei": "chenwei",
    "Dara Kim": "dara-k",
}
NO_DOCS = {"proposal": None, "data_card": None, "model_card": None, "monitoring": None}


def _team(name: str, authors: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {"name": name, "members": _members(authors, HANDLES)}


CORPUS: dict[str, Repo] = {
    # A Flask app served by gunicorn on 5000, no OpenAPI; tests at the root of tests/.
    "flask-gunicorn": Repo(
        files={
            "app.py": FLASK_APP,
            "requirements.txt": "flask\ngunicorn\n",
            "Dockerfile": (
                "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\n"
                "RUN pip install -r requirements.txt\nCOPY . .\nEXPOSE 5000\n"
                + URLOPEN_HEALTHCHECK.format(port=5000)
                + 'CMD ["gunicorn", "-b", "0.0.0.0:5000", "app:app"]\n'
            ),
            "tests/test_app.py": FLASK_TEST,
            ".github/workflows/test.yml": (
                "name: tests\non:\n  push:\n  pull_request:\njobs:\n  test:\n"
                "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
                "      - uses: actions/setup-python@v5\n        with: {python-version: '3.11'}\n"
                "      - run: |\n          pip install -r requirements.txt pytest\n"
                "          python -m pytest -q\n"
            ),
        },
        authors=TEAM_A,
        manifest={
            "team": _team("flask-gunicorn", TEAM_A),
            "service": {
                "dockerfile": "Dockerfile",
                "context": ".",
                "port": 5000,
                "health_path": "/health",
                "ready_path": None,
                "predict_path": "/predict",
                "model_info_path": None,
                "metrics_path": None,
                "openapi_path": None,
                "examples": [
                    {
                        "name": "a customer",
                        "method": "POST",
                        "path": "/predict",
                        "body": {"tenure": 12, "monthly_charges": 70.5},
                    }
                ],
            },
            "tests": {"command": "python -m pytest -q", "paths": ["tests"], "python": "3.11"},
            "docs": NO_DOCS,
        },
    ),
    # FastAPI under src/, a router prefix, the Dockerfile in infra/ built with -f by CI,
    # tests in test/, pyproject.toml that only configures ruff, pytest only in the workflow.
    "infra-dockerfile": Repo(
        files={
            "src/api/main.py": FASTAPI_ROUTER_APP,
            "infra/Dockerfile.api": (
                "FROM python:3.11-slim\nWORKDIR /srv\nCOPY requirements.txt .\n"
                "RUN pip install -r requirements.txt\nCOPY src/ src/\n"
                'CMD ["uvicorn", "src.api.main:app", "--host", "0.0.0.0", "--port", "8080"]\n'
            ),
            "requirements.txt": "fastapi\nuvicorn\n",
            "pyproject.toml": "[tool.ruff]\nline-length = 100\n",
            "examples/request.json": '{"rooms": 3, "area": 74.5}\n',
            "test/test_api.py": "def test_nothing():\n    assert True\n",
            ".github/workflows/ci.yml": (
                "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
                "      - uses: actions/checkout@v4\n"
                "      - run: pip install -r requirements.txt pytest\n"
                "      - run: pytest test -q\n"
                "      - run: docker build -f infra/Dockerfile.api -t houses .\n"
            ),
        },
        authors=TEAM_B,
        manifest={
            "team": _team("infra-dockerfile", TEAM_B),
            "service": {
                "dockerfile": "infra/Dockerfile.api",
                "context": ".",
                "port": 8080,
                "health_path": "/healthz",
                "ready_path": None,
                "predict_path": "/v1/predict",
                "model_info_path": None,
                "metrics_path": None,
                "openapi_path": "/openapi.json",
                "examples": [
                    {
                        "name": "a flat",
                        "method": "POST",
                        "path": "/v1/predict",
                        "body": {"rooms": 3, "area": 74.5},
                    }
                ],
            },
            "tests": {
                "command": "pytest test -q",
                "paths": ["test"],
                "python": "3.11",
                "requirements": ["requirements.txt"],
            },
            "docs": NO_DOCS,
        },
    ),
    # No CMD in the image: compose runs uvicorn on 9696 and sets the model path.
    "compose-command": Repo(
        files={
            "app/main.py": COMPOSE_APP,
            "deployment/Dockerfile": (
                "FROM python:3.13-slim\nWORKDIR /code\nCOPY app/ app/\n"
                "RUN pip install fastapi uvicorn prometheus-fastapi-instrumentator\n"
            ),
            "docker-compose.yml": (
                "services:\n  api:\n    build:\n      context: .\n"
                "      dockerfile: deployment/Dockerfile\n"
                "    command: uvicorn app.main:app --host 0.0.0.0 --port 9696\n"
                '    ports: ["9696:9696"]\n'
                "    environment:\n      MODEL_PATH: /code/models/model.bin\n"
            ),
            "README.md": README_CURL,
            "tests/test_main.py": "def test_ok():\n    assert 1 + 1 == 2\n",
        },
        authors=TEAM_A,
        manifest={
            "team": _team("compose-command", TEAM_A),
            "service": {
                "dockerfile": "deployment/Dockerfile",
                "context": ".",
                "port": 9696,
                "command": ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "9696"],
                "env": {"MODEL_PATH": "/code/models/model.bin"},
                "health_path": "/health",
                "health_body": {"status": "healthy"},
                "ready_path": "/ready",
                "predict_path": "/predict",
                "model_info_path": None,
                "metrics_path": "/metrics",
                "openapi_path": "/openapi.json",
                "examples": [
                    {
                        "name": "a short trip",
                        "method": "POST",
                        "path": "/predict",
                        "body": {"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1.01},
                    }
                ],
            },
            "tests": {"command": "pytest", "paths": ["tests"], "python": "3.13"},
            "docs": NO_DOCS,
        },
    ),
    # The port from $PORT with a default, in a shell-form CMD; a data card and a proposal.
    "port-from-env": Repo(
        files={
            "main.py": ROOT_MAIN,
            "Dockerfile": (
                "FROM python:3.11-slim\nCOPY . /app\nWORKDIR /app\n"
                "RUN pip install fastapi uvicorn\n"
                "CMD uvicorn main:app --host 0.0.0.0 --port ${PORT:-5010}\n"
            ),
            "test_main.py": "def test_ok():\n    assert True\n",
            "docs/project_proposal.md": "# Proposal\n",
            "docs/DATA_CARD.md": "# Data card\n",
        },
        authors=TEAM_B,
        manifest={
            "team": _team("port-from-env", TEAM_B),
            "service": {
                "dockerfile": "Dockerfile",
                "context": ".",
                "port": 5010,
                "health_path": "/health",
                "ready_path": None,
                "predict_path": "/predict",
                "model_info_path": "/model-info",
                "metrics_path": None,
                "openapi_path": "/openapi.json",
                "examples": [
                    {
                        "name": "a review",
                        "method": "POST",
                        "path": "/predict",
                        "body": {"text": "great phone, poor battery"},
                    }
                ],
            },
            "tests": {"command": "pytest", "paths": ["."], "python": "3.11"},
            "docs": {
                **NO_DOCS,
                "proposal": "docs/project_proposal.md",
                "data_card": "docs/DATA_CARD.md",
            },
        },
    ),
    # Training tracked in a committed mlruns/ file store; a Makefile train target.
    "mlruns-only": Repo(
        files={
            "src/churn/train.py": TRAIN_MLRUNS,
            "Makefile": "train:\n\tpython -m churn.train\n\ntest:\n\tpytest\n",
            "tests/test_train.py": "def test_ok():\n    assert True\n",
            ".python-version": "3.13.1\n",
        },
        authors=TEAM_A,
        manifest={
            "team": _team("mlruns-only", TEAM_A),
            "tracking": {
                "uri": "mlruns",
                "experiment": "churn",
                "registered_model": "churn-model",
                "primary_metric": {"name": "roc_auc", "direction": "maximize"},
            },
            "training": {"command": "make train", "seed": 7, "artifact": "models/model.pkl"},
            "tests": {"command": "pytest", "paths": ["tests"], "python": "3.13"},
            "docs": NO_DOCS,
        },
    ),
    # A committed mlflow.db (built with MLflow itself by the fixture), a deployment/ folder
    # whose Dockerfile COPYs from its own folder (context: deployment).
    "mlflow-db": Repo(
        files={
            "deployment/app.py": FLASK_APP.replace("5000", "5001"),
            "deployment/requirements.txt": "flask\n",
            "deployment/Dockerfile": (
                "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\n"
                "RUN pip install -r requirements.txt\nCOPY app.py .\nEXPOSE 5001\n"
                'CMD ["python", "app.py"]\n'
            ),
            "tests/test_app.py": "def test_ok():\n    assert True\n",
            "docs/model_card.md": "# Model card\n",
        },
        authors=TEAM_B,
        manifest={
            "team": _team("mlflow-db", TEAM_B),
            "service": {
                "dockerfile": "deployment/Dockerfile",
                "context": "deployment",
                "port": 5001,
                "health_path": "/health",
                "ready_path": None,
                "predict_path": "/predict",
                "model_info_path": None,
                "metrics_path": None,
                "openapi_path": None,
                "examples": [
                    {
                        "name": "a customer",
                        "method": "POST",
                        "path": "/predict",
                        "body": {"tenure": 12, "monthly_charges": 70.5},
                    }
                ],
            },
            "tracking": {
                "uri": "sqlite:///mlflow.db",
                "experiment": "fraud",
                "registered_model": "fraud-detector",
                "alias": "production",
                "primary_metric": {"name": "f1", "direction": "maximize"},
            },
            "tests": {"command": "pytest", "paths": ["tests"], "python": "3.11"},
            "docs": {**NO_DOCS, "model_card": "docs/model_card.md"},
        },
    ),
    # pytest configured in pytest.ini; README-less; Blueprint with a url_prefix.
    "flask-blueprint": Repo(
        files={
            "service/__init__.py": "",
            "service/routes.py": (
                "from flask import Blueprint, Flask, jsonify\n\n"
                'api = Blueprint("api", __name__, url_prefix="/api")\n\n\n'
                '@api.route("/ping")\ndef ping():\n    return jsonify(ok=True)\n\n\n'
                '@api.post("/predict")\ndef predict():\n    return jsonify(label=1)\n\n\n'
                "app = Flask(__name__)\napp.register_blueprint(api)\n"
            ),
            "Dockerfile": (
                "FROM python:3.11-slim\nCOPY . .\nRUN pip install -r requirements.txt\n"
                'CMD ["gunicorn", "--bind", "0.0.0.0:8000", "service.routes:app"]\n'
            ),
            "requirements.txt": "flask\ngunicorn\n",
            "pytest.ini": "[pytest]\ntestpaths = unit_tests\npythonpath = .\n",
            "unit_tests/test_routes.py": (
                "from service.routes import app\n\n"
                'SAMPLE = {"age": 41, "income": 52000}\n\n\n'
                "def test_predict():\n"
                "    client = app.test_client()\n"
                '    assert client.post("/api/predict", json=SAMPLE).status_code == 200\n'
            ),
        },
        authors=TEAM_A,
        manifest={
            "team": _team("flask-blueprint", TEAM_A),
            "service": {
                "dockerfile": "Dockerfile",
                "context": ".",
                "port": 8000,
                "health_path": "/api/ping",
                "ready_path": None,
                "predict_path": "/api/predict",
                "model_info_path": None,
                "metrics_path": None,
                "openapi_path": None,
                "examples": [
                    {
                        "name": "an applicant",
                        "method": "POST",
                        "path": "/api/predict",
                        "body": {"age": 41, "income": 52000},
                    }
                ],
            },
            "tests": {"command": "pytest", "paths": ["unit_tests"], "python": "3.11"},
            "docs": NO_DOCS,
        },
    ),
    # A gitignored model the image needs: `python train.py` makes it; the service fails
    # without it. Tests need Python 3.13 (requires-python).
    "ignored-model": Repo(
        files={
            ".gitignore": "models/\n",
            "api.py": IGNORED_MODEL_API,
            "train.py": (
                "import os\nimport pickle\n\n"
                "SEED = 13\n"
                'model = {"positive": ["great", "good", "love"], "seed": SEED}\n'
                'os.makedirs("models", exist_ok=True)\n'
                'pickle.dump(model, open("models/model.joblib", "wb"))\n'
            ),
            "Makefile": "train:\n\tpython train.py\n",
            "Dockerfile": (
                "FROM python:3.13-slim\nWORKDIR /app\n"
                "RUN pip install fastapi uvicorn\nCOPY . .\n"
                'CMD ["uvicorn", "api:app", "--host", "0.0.0.0", "--port", "8000"]\n'
            ),
            "pyproject.toml": (
                '[project]\nname = "reviews"\nversion = "0.1.0"\nrequires-python = ">=3.13"\n'
                '\n[tool.setuptools]\npy-modules = ["api", "train"]\n'
            ),
            "tests/test_api.py": "def test_ok():\n    assert True\n",
        },
        ignored={"models/model.joblib": "built by make train\n"},
        authors=TEAM_B,
        manifest={
            "team": _team("ignored-model", TEAM_B),
            "service": {
                "dockerfile": "Dockerfile",
                "context": ".",
                "build_steps": ["python train.py"],
                "build_outputs": ["models/model.joblib"],
                "port": 8000,
                "health_path": "/health",
                "ready_path": None,
                "predict_path": "/predict",
                "model_info_path": "/version",
                "metrics_path": None,
                "openapi_path": "/openapi.json",
                "examples": [
                    {
                        "name": "a review",
                        "method": "POST",
                        "path": "/predict",
                        "body": {"text": "great phone, poor battery"},
                    }
                ],
            },
            "training": {"command": "make train", "seed": 13, "artifact": "models/model.joblib"},
            "tests": {"command": "pytest", "paths": ["tests"], "python": "3.13"},
            "docs": NO_DOCS,
        },
    ),
    # A monorepo (seen in a semester capstone): a FastAPI backend with its own Dockerfile,
    # a Streamlit frontend with another, and Airflow's compose file that builds a third;
    # one member commits from a laptop address and as their handle too.
    "monorepo": Repo(
        files={
            "backend/app.py": FASTAPI_ROUTER_APP.replace('prefix="/v1"', 'prefix=""'),
            "backend/start.sh": "#!/bin/sh\nexec uvicorn backend.app:app --host 0.0.0.0\n",
            "backend/Dockerfile": (
                "FROM python:3.11-slim\nWORKDIR /app\nCOPY backend/requirements.txt .\n"
                "RUN pip install -r requirements.txt\nCOPY . /app/\nEXPOSE 8000\n"
                'CMD ["sh", "/app/backend/start.sh"]\n'
            ),
            "backend/requirements.txt": "fastapi\nuvicorn\n",
            "backend/tests/test_app.py": "def test_ok():\n    assert True\n",
            "frontend/Dockerfile": (
                "FROM python:3.11-slim\nCOPY frontend/ .\nRUN pip install streamlit\n"
                'EXPOSE 8501\nCMD ["streamlit", "run", "ui.py"]\n'
            ),
            "frontend/ui.py": "import streamlit as st\n\nst.title('houses')\n",
            "airflow-config/Dockerfile": "FROM apache/airflow:2.9.0\nEXPOSE 8080\n",
            "airflow-config/docker-compose.yaml": (
                "services:\n  airflow-webserver:\n    build: .\n    ports: ['8080:8080']\n"
                "    environment:\n      AIRFLOW__CORE__EXECUTOR: CeleryExecutor\n"
            ),
            "run.sh": "docker build -t backend -f $BACKEND_DOCKERFILE .\n",
        },
        authors=(
            ("Eva Stone", "123+evastone@users.noreply.github.com"),
            ("Eva Stone", "eva@Evas-MacBook-Air.local"),
            ("evastone", "eva.stone@uni.edu"),
            ("Finn Berg", "f.berg@uni.edu"),
        ),
        manifest={
            "team": {
                "name": "monorepo",
                "members": [
                    {
                        "name": "Eva Stone",
                        "github": "evastone",
                        "email": "eva@Evas-MacBook-Air.local",
                        "emails": ["eva.stone@uni.edu"],
                    },
                    {"name": "Finn Berg", "github": "finnb", "email": "f.berg@uni.edu"},
                ],
            },
            "service": {
                "dockerfile": "backend/Dockerfile",
                "context": ".",
                "port": 8000,
                "health_path": "/healthz",
                "ready_path": None,
                "predict_path": "/predict",
                "model_info_path": None,
                "metrics_path": None,
                "openapi_path": "/openapi.json",
                "examples": [
                    {
                        "name": "a flat",
                        "method": "POST",
                        "path": "/predict",
                        "body": {"rooms": 3, "area": 74.5},
                    }
                ],
            },
            "tests": {"command": "pytest", "paths": ["backend/tests"], "python": "3.11"},
            "docs": NO_DOCS,
        },
    ),
}


def build(name: str, root: Path) -> Path:
    """The corpus repo `name` under root/name, committed by its members (one commit each)."""
    repo = CORPUS[name]
    path = build_tree(root / name, repo.files)
    git(path, "init", "-q", "-b", "main")
    for number, author in enumerate(repo.authors):
        commit_all(path, f"work {number}", author=author)
    if name in STORES:
        _mlflow_store(path, STORES[name])
        commit_all(path, "tracking store", author=repo.authors[0])
    build_tree(path, repo.ignored)
    return path


def manifest(name: str) -> dict[str, Any]:
    """A fresh copy of the TA's manifest: a test may edit it without touching the corpus."""
    return {"version": 1, **copy.deepcopy(CORPUS[name].manifest)}


# Real MLflow stores, written by MLflow itself: (tracking URI under the repo, experiment,
# metrics of one run, registered model, alias or None).
STORES = {
    "mlflow-db": ("sqlite:///{repo}/mlflow.db", "fraud", {"accuracy": 0.9, "f1": 0.8},
                  "fraud-detector", "production"),
    "mlruns-only": ("file://{repo}/mlruns", "churn", {"roc_auc": 0.81}, "churn-model", None),
}  # fmt: skip


def _mlflow_store(repo: Path, store: tuple[str, str, dict[str, float], str, str | None]) -> None:
    """A store as the team's training left it: one run, its model registered (and aliased)."""
    import os
    import subprocess
    import sys

    uri, experiment, metrics, model, alias = store
    script = f"""
import mlflow
from mlflow import MlflowClient
uri = {uri.format(repo=repo)!r}
mlflow.set_tracking_uri(uri)
mlflow.set_experiment({experiment!r})
with mlflow.start_run() as run:
    mlflow.log_metrics({metrics!r})
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
client.create_registered_model({model!r})
source = run.info.artifact_uri + "/model"
version = client.create_model_version({model!r}, source, run.info.run_id)
if {alias!r}:
    client.set_registered_model_alias({model!r}, {alias!r}, version.version)
"""
    # Only this store: no tracking or registry URI an earlier test left in the environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_ALLOW_FILE_STORE"] = "true"  # a course's older projects use mlruns/
    subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, cwd=repo, env=env
    )


# scoring inference against the TA's manifests -------------------------------------------------

# Not inferable by design: the team's name comes from the roster, an example's name is prose.
UNSCORED = ("team.name",)


def leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten manifest data to dotted paths: service.examples[0].body, tests.paths."""
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(leaves(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        out = {}
        for i, value in enumerate(data):
            out.update(leaves(value, f"{prefix}[{i}]"))
        return out
    return {prefix: data}


def scored(path: str) -> bool:
    return path not in UNSCORED and not (
        path.startswith("service.examples[") and path.endswith("].name")
    )


@dataclass(frozen=True)
class Verdict:
    repo: str
    path: str
    expected: Any
    got: Any
    verdict: str  # exact, todo, wrong


def score(name: str, draft: Any) -> list[Verdict]:
    """Each scored field of the TA's manifest: exact, a TODO (missing and said so), or wrong
    (a different value, or missing without a TODO)."""
    want = {p: v for p, v in leaves(manifest(name)).items() if scored(p) and p != "version"}
    got = leaves(draft.data())
    out = []
    for path, expected in want.items():
        if path in got and got[path] == expected:
            verdict = "exact"
        elif got.get(path) is None and _todo_covers(draft.todo, path):
            verdict = "todo"
        else:
            verdict = "wrong"
        out.append(Verdict(name, path, expected, got.get(path, "(absent)"), verdict))
    return out


def _todo_covers(todo: dict[str, str], path: str) -> bool:
    plain = path.replace("[", ".[")
    return any(plain == t or plain.startswith(t + ".") for t in todo)


def table(verdicts: list[Verdict]) -> str:
    """Per field (the path without its repo and list index): how many repos got it exact."""
    rows: dict[str, list[Verdict]] = {}
    for v in verdicts:
        key = _field(v.path)
        rows.setdefault(key, []).append(v)
    width = max(len(k) for k in rows)
    lines = [f"{'field':<{width}}  exact  todo  wrong"]
    for key in sorted(rows):
        vs = rows[key]
        counts = [sum(v.verdict == kind for v in vs) for kind in ("exact", "todo", "wrong")]
        lines.append(f"{key:<{width}}  {counts[0]:>5}  {counts[1]:>4}  {counts[2]:>5}")
    exact = sum(v.verdict == "exact" for v in verdicts)
    lines.append(
        f"{'all fields':<{width}}  {exact}/{len(verdicts)} exact"
        f" ({100 * exact / len(verdicts):.1f}%)"
    )
    for v in verdicts:
        if v.verdict != "exact":
            lines.append(
                f"  {v.verdict}: {v.repo} {v.path}: TA wrote {v.expected!r}, inferred {v.got!r}"
            )
    return "\n".join(lines)


def _field(path: str) -> str:
    import re

    return re.sub(r"\[\d+\]", "[]", path)
