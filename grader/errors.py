"""The grader's exceptions: one base, one subclass per failure a user can see.

Exit codes (documented in `grader --help`): 0 graded, 1 under --fail-under,
2 usage, rubric or manifest error, 3 infrastructure error, 130 interrupted.
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_FAIL_UNDER = 1
EXIT_USAGE = 2
EXIT_INFRA = 3
EXIT_INTERRUPTED = 130


class GraderError(Exception):
    """Base of every error the grader reports to its user without a traceback."""

    exit_code = EXIT_INFRA


class ConfigError(GraderError):
    """A rubric, manifest or scores file is invalid; `problems` are `file:line: field: msg`."""

    exit_code = EXIT_USAGE

    def __init__(self, kind: str, path: Path | str, problems: list[str]) -> None:
        self.kind = kind
        self.path = Path(path)
        self.problems = problems
        count = len(problems)
        head = f"{kind} {path} has {count} error{'s' if count != 1 else ''}:"
        super().__init__("\n".join([head, *(f"  {p}" for p in problems)]))


class UsageError(GraderError):
    """The command line asks for something that cannot be done."""

    exit_code = EXIT_USAGE


class TargetError(GraderError):
    """The team repository could not be fetched or resolved (clone failed, ref unknown)."""

    exit_code = EXIT_INFRA


class EngineError(GraderError):
    """The container engine is unreachable or failed in a way that is not the team's fault."""

    exit_code = EXIT_INFRA


class CheckError(GraderError):
    """Raised inside a check when the grader cannot judge (the result becomes `error`)."""
