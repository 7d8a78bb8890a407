"""The MLOps capstone grader: scores a team repository against a milestone rubric.

The grader talks to loopback and the package registries only: the libraries it runs send
no usage telemetry (MLflow's, on by default, calls its own servers when a run starts), in
its own processes and in every container it starts (`grader.engine`).
"""

import os

__version__ = "0.1.0"

NO_TELEMETRY = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
for _key, _value in NO_TELEMETRY.items():
    os.environ.setdefault(_key, _value)
