"""MLflow's and SQLAlchemy's one-time set-up, done when this module is imported.

The tracking family lists it in its `preload`: it is imported once before the checks'
processes fork, and in a batch once in the fork server, for the whole class (about a
second and a half each time on a 2-core machine). A set-up that fails costs only time:
each check opens its store anyway.
"""

from __future__ import annotations

import contextlib

from grader import mlflowstore

with contextlib.suppress(Exception):
    mlflowstore.warm()
