"""The staff's grading workflow: one GitHub Actions job per team, one job for the class.

`workflow()` builds the workflow as data (written as YAML by `grader classroom workflow`).
Every shell step is a few lines that call `grader` (`grader classroom resolve`, `grader
check --sign-key-env`, `grader classroom gather`, `grader batch --from-results
--verify-key-env`, `grader classroom summary`), so a test can run the steps exactly as
written. Teams' repositories are read with a read-only token from the staff repository's
secrets; results are signed with a key that only those secrets hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from grader.batchplan import TeamSpec

TOKEN_SECRET = "TEAMS_READ_TOKEN"
KEY_SECRET = "GRADER_SIGNING_KEY"
JOB_PREFIX = "grade "

# The token reaches git as an HTTP header in the environment: never in a URL or a log.
GIT_AUTH = """\
if [ -n "${TEAM_TOKEN:-}" ]; then
  GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$TEAM_TOKEN" | base64 -w0)"
  export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.https://github.com/.extraheader GIT_CONFIG_VALUE_0
fi
"""

CHECKOUT = (
    GIT_AUTH
    + """\
git clone --quiet "$TEAM_REPO" team
commit=$(grader classroom resolve team ${DEADLINE:+--deadline "$DEADLINE"})
git -C team checkout --quiet --detach "$commit"
echo "commit=$commit" >> "$GITHUB_OUTPUT"
"""
)

GRADE = """\
grader check team $RUBRIC_ARGS --ref "$COMMIT" --team "$TEAM" \\
  --sign-key-env GRADER_SIGNING_KEY --out "results/$TEAM" \\
  || test -f "results/$TEAM/results.json"
"""

GATHER = """\
gh api "repos/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID/jobs?per_page=100" --paginate \\
  --jq '.jobs[] | {name, conclusion}' > jobs.jsonl || : > jobs.jsonl
grader classroom gather "$ROSTER" --artifacts artifacts --jobs jobs.jsonl --out results
"""

BUILD = (
    GIT_AUTH
    + """\
grader batch "$ROSTER" $RUBRIC_ARGS --from-results results --verify-key-env GRADER_SIGNING_KEY \\
  ${DEADLINE:+--deadline "$DEADLINE"} --out grades || test -f grades/gradebook.csv
grader classroom summary grades >> "$GITHUB_STEP_SUMMARY"
"""
)


@dataclass(frozen=True)
class Plan:
    milestone: str
    roster: str  # path of the roster in the staff repository
    teams: tuple[TeamSpec, ...]
    deadline: datetime | None = None
    rubric: str | None = None  # a rubric file in the staff repository (default: the kit's)
    max_parallel: int = 20
    timeout_minutes: int = 60
    kit_repository: str = "my-course/capstone-kit"
    kit_ref: str = "main"  # a tag or commit: every job installs the same grader
    python: str = "3.11"


def workflow(plan: Plan) -> dict[str, Any]:
    milestone = f"${{{{ inputs.milestone || '{plan.milestone}' }}}}"
    rubric_args = f"--rubric {plan.rubric}" if plan.rubric else f"--milestone {milestone}"
    deadline = plan.deadline.isoformat() if plan.deadline else ""
    on: dict[str, Any] = {
        "workflow_dispatch": {
            "inputs": {
                "milestone": _input("Milestone id to grade.", plan.milestone),
                "deadline": _input(
                    "Grade each team's last commit before this (ISO 8601).", deadline
                ),
            }
        }
    }
    if plan.deadline is not None:
        on["schedule"] = [{"cron": _cron(plan.deadline + timedelta(hours=1))}]
    env = {
        "MILESTONE": milestone,
        "DEADLINE": f"${{{{ inputs.deadline || '{deadline}' }}}}",
        "ROSTER": plan.roster,
        "RUBRIC_ARGS": rubric_args,
    }
    token = {"TEAM_TOKEN": f"${{{{ secrets.{TOKEN_SECRET} }}}}"}
    key = {"GRADER_SIGNING_KEY": f"${{{{ secrets.{KEY_SECRET} }}}}"}
    grade_job = {
        "name": JOB_PREFIX + "${{ matrix.team }}",
        "runs-on": "ubuntu-24.04",
        "timeout-minutes": plan.timeout_minutes,
        "strategy": {
            "fail-fast": False,
            "max-parallel": plan.max_parallel,
            "matrix": {"include": [{"team": t.id, "repo": t.source} for t in plan.teams]},
        },
        "steps": [
            *_setup(plan),
            {
                "name": "Check out the team's repository at the graded commit",
                "id": "team",
                "env": {"TEAM_REPO": "${{ matrix.repo }}", **token},
                "run": CHECKOUT,
            },
            {
                "name": "Grade (signed results)",
                "env": {
                    "TEAM": "${{ matrix.team }}",
                    "COMMIT": "${{ steps.team.outputs.commit }}",
                    **key,
                },
                "run": GRADE,
            },
            {
                "name": "Upload the team's results",
                "if": "always()",
                "uses": "actions/upload-artifact@v4",
                "with": {
                    "name": "results-${{ matrix.team }}",
                    "path": "results/${{ matrix.team }}",
                    "if-no-files-found": "ignore",
                },
            },
        ],
    }
    class_job = {
        "name": "class outputs",
        "needs": "grade",
        "if": "always()",
        "runs-on": "ubuntu-24.04",
        "timeout-minutes": 30,
        "steps": [
            *_setup(plan),
            {
                "name": "Download every team's results",
                "uses": "actions/download-artifact@v4",
                "with": {"pattern": "results-*", "path": "artifacts"},
            },
            {
                "name": "Gather results and job conclusions",
                "env": {"GH_TOKEN": "${{ github.token }}"},
                "run": GATHER,
            },
            {"name": "Verify and build the class outputs", "env": {**token, **key}, "run": BUILD},
            {
                "name": "Publish gradebook, canvas.csv and dashboard",
                "if": "always()",
                "uses": "actions/upload-artifact@v4",
                "with": {"name": "grades-${{ env.MILESTONE }}", "path": "grades"},
            },
        ],
    }
    return {
        "name": f"Grade {plan.milestone}",
        "on": on,
        "permissions": {"contents": "read", "actions": "read"},
        "concurrency": {"group": "grade-${{ inputs.milestone || '" + plan.milestone + "' }}"},
        "env": env,
        "jobs": {"grade": grade_job, "classlist": class_job},
    }


def _input(description: str, default: str) -> dict[str, Any]:
    return {"description": description, "required": False, "default": default, "type": "string"}


def _cron(when: datetime) -> str:
    utc = when.astimezone(UTC)
    return f"{utc.minute} {utc.hour} {utc.day} {utc.month} *"


def _setup(plan: Plan) -> list[dict[str, Any]]:
    """The staff repository (roster, rubric), Python, and the kit at its pinned ref."""
    return [
        {"name": "Check out the grading repository", "uses": "actions/checkout@v4"},
        {
            "name": "Check out the course kit",
            "uses": "actions/checkout@v4",
            "with": {
                "repository": plan.kit_repository,
                "ref": plan.kit_ref,
                "path": "kit",
            },
        },
        {"uses": "actions/setup-python@v5", "with": {"python-version": plan.python}},
        {"name": "Install the grader", "run": "python -m pip install --quiet ./kit\n"},
    ]


# ---- the class job's helpers -------------------------------------------------------------


def job_conclusions(path: Path) -> dict[str, str]:
    """Team id -> its grading job's conclusion, from `gh api ... --jq` output (JSON lines)."""
    found: dict[str, str] = {}
    if not path.is_file():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            job = json.loads(line)
            name = str(job["name"])
        except (ValueError, KeyError, TypeError):
            continue
        if name.startswith(JOB_PREFIX):
            found[name.removeprefix(JOB_PREFIX)] = str(job.get("conclusion") or "unfinished")
    return found
