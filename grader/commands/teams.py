"""Team repositories from the course roster (`teams update` lives in teams_update.py).

Example: grader teams create roster.csv --out teams/ --template-url https://github.com/c/kit.git
"""

from __future__ import annotations

import contextlib
import io
import json
import keyword
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

from grader import github
from grader.commands.output import reporting, result
from grader.course import Course, find_course
from grader.errors import EXIT_INFRA, EXIT_OK, ConfigError, GraderError, UsageError
from grader.manifest import MANIFEST_NAME, load_manifest
from grader.roster import RosterTeam, load_roster
from grader.text import plural

KIT_DIR = Path(__file__).resolve().parents[2]
START_TAG = "m0-start"
FALLBACK_IDENTITY = ("-c", "user.name=Course Staff", "-c", "user.email=staff@example.invalid")

app = typer.Typer(
    help="Team repositories from the course roster.", no_args_is_help=True, rich_markup_mode=None
)


class GenerateError(GraderError):
    """The template could not be generated for a team (a hook refused, git failed)."""


def default_template() -> str:
    """The kit this grader runs from, if it is a git checkout (cruft needs a git template)."""
    if (KIT_DIR / "cookiecutter.json").is_file() and (KIT_DIR / ".git").exists():
        return str(KIT_DIR)
    raise UsageError("the grader is not running from a kit checkout: give --template PATH-OR-URL")


def package_name(slug: str) -> str:
    name = slug.replace("-", "_")
    # A package named like the standard library or a keyword would not import.
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in sys.stdlib_module_names:
        return f"team_{name}"
    return name


def template_context(team: RosterTeam, workflow: dict[str, str] | None = None) -> dict[str, str]:
    """The template's answers for a team; `workflow` answers the self-grading questions."""
    members = ", ".join(f"{m.name} <{m.github}>" for m in team.members)
    return {
        "project_name": team.name,
        "project_slug": team.slug,
        "package_name": package_name(team.slug),
        "team_name": team.name,
        "members": members,
        **(workflow or {}),
    }


def workflow_answers(url: str | None, ref: str | None, milestone: str) -> dict[str, str]:
    """What the teams' grade.yml calls: the kit on GitHub (when the URL names it), at `ref`."""
    return {
        "kit_repository": github.repository(url) or "",
        "kit_ref": ref or "main",
        "milestone": milestone,
    }


def current_milestone(course: Course | None, now: datetime | None = None) -> str | None:
    """The first of the course's milestones not yet due (the last one after the semester)."""
    if course is None:
        return None
    moment = now or datetime.now(UTC)
    for mid, milestone in course.milestones.items():
        if milestone.deadline is None or milestone.deadline > moment:
            return mid
    return course.milestone_ids[-1]


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise GenerateError(f"git {args[0]} failed in {repo}: {done.stderr.strip()[:400]}")
    return done.stdout.strip()


def _identity(repo: Path) -> tuple[str, ...]:
    configured = subprocess.run(
        ["git", "-C", str(repo), "config", "user.email"], capture_output=True, check=False
    )
    return () if configured.returncode == 0 else FALLBACK_IDENTITY


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """Cookiecutter hooks print to stdout; keep it for an error message, not the screen."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield buffer


def generate(
    team: RosterTeam,
    template: str,
    checkout: str | None,
    out: Path,
    url: str | None = None,
    workflow: dict[str, str] | None = None,
) -> Path:
    """Bake the template for one team in a staging folder, commit, tag, then move it in place.

    `url` is what `.cruft.json` records as the template (the course's URL, which every
    student can reach), when the bake itself reads a local copy.
    """
    import cruft  # slow to import; only this command needs it

    staging = Path(tempfile.mkdtemp(dir=out, prefix=f".{team.slug}-"))
    try:
        with _quiet() as log:
            try:
                made = cruft.create(
                    template,
                    output_dir=staging,
                    extra_context=template_context(team, workflow),
                    no_input=True,
                    checkout=checkout,
                )
            except Exception as exc:
                detail = f"{type(exc).__name__}: {exc}\n{log.getvalue()}".strip()
                raise GenerateError(f"team {team.name!r}: the template failed: {detail}") from None
        if url:
            _record_template(Path(made), url)
        _add_emails(Path(made), team)
        _first_commit(Path(made))
        final = out / team.slug
        Path(made).rename(final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _record_template(repo: Path, url: str) -> None:
    """cruft check and update read the template from `.cruft.json`: make that the URL."""
    path = repo / ".cruft.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    state["template"] = url
    state.get("context", {}).get("cookiecutter", {})["_template"] = url
    path.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")


def is_local_template(source: str) -> bool:
    """A path (or file:// URL) only this machine can read: students' cruft cannot clone it."""
    return "://" not in source and not re.match(r"^[\w.-]+@[\w.-]+:", source)


def _add_emails(repo: Path, team: RosterTeam) -> None:
    """Write each member's roster email into capstone.yaml, under their GitHub handle, so the
    commits check counts commits made with a university address. The file stays as the
    template wrote it otherwise (comments and order kept)."""
    path = repo / MANIFEST_NAME
    text = path.read_text(encoding="utf-8")
    for member in team.members:
        handle = member.github.lstrip("@")
        line = re.compile(rf'^(?P<indent>[ \t]*)github: "{re.escape(handle)}"[ \t]*$', re.MULTILINE)
        found = line.search(text)
        if found is None or not member.email:
            continue
        email = f"\n{found['indent']}email: {json.dumps(member.email)}"
        text = text[: found.end()] + email + text[found.end() :]
    path.write_text(text, encoding="utf-8")
    try:
        load_manifest(path)
    except ConfigError as exc:
        problems = "; ".join(exc.problems)
        raise GenerateError(f"team {team.name!r}: invalid {MANIFEST_NAME}: {problems}") from None


def _first_commit(repo: Path) -> None:
    """cruft writes .cruft.json after the template's hook committed: fold it into that commit."""
    if not (repo / ".git").exists():
        _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "add", "--all")
    identity = _identity(repo)
    has_commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", "HEAD"],
        capture_output=True,
        check=False,
    )
    amend = ("--amend", "--no-edit") if has_commit.returncode == 0 else ("-m", "Start the project")
    _git(repo, *identity, "commit", "--quiet", "--no-verify", *amend)
    _git(repo, *identity, "tag", "-a", START_TAG, "-m", "Repository as generated for the team")


def push_commands(repo: Path, slug: str, org: str | None) -> list[list[str]]:
    name = f"{org}/{slug}" if org else slug
    return [
        ["gh", "repo", "create", name, "--private", "--source", str(repo), "--push"],
        ["git", "-C", str(repo), "push", "origin", START_TAG],
    ]


def gh_ready() -> str | None:
    """Why `gh` cannot push, or None when it is installed and logged in."""
    if shutil.which("gh") is None:
        return "the GitHub CLI `gh` is not installed (https://cli.github.com)"
    done = subprocess.run(["gh", "auth", "status"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return "`gh` is not logged in: run `gh auth login`"
    return None


def run_push(commands: list[list[str]], console: Console) -> bool:
    for cmd in commands:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            console.print(f"  [red]failed:[/] {shlex.join(cmd)}\n  {done.stderr.strip()[:400]}")
            return False
    return True


@dataclass(frozen=True)
class Plan:
    """Where the template comes from, what `.cruft.json` records, where the repos go."""

    source: str
    checkout: str | None
    url: str | None
    out: Path
    org: str | None
    push: bool
    workflow: dict[str, str]


@reporting
def create(
    roster: Path | None = typer.Argument(
        None, help="Roster CSV: team, name, email, github (default: the course file's)."
    ),
    out: Path = typer.Option(..., help="Folder that receives one repository per team."),
    template: str | None = typer.Option(
        None, help="Template git URL or path to bake from (default: this kit's checkout)."
    ),
    template_url: str | None = typer.Option(
        None,
        help="The course's template URL, recorded in each .cruft.json so students' cruft"
        " can reach it (default: --template).",
    ),
    checkout: str | None = typer.Option(None, help="Template branch, tag or commit."),
    org: str | None = typer.Option(None, help="GitHub organization for `gh repo create`."),
    push: bool = typer.Option(False, help="Create and push the GitHub repositories with `gh`."),
    milestone: str | None = typer.Option(
        None, help="Milestone the teams' grade.yml grades (default: the course's current one, m0)."
    ),
    kit_repository: str | None = typer.Option(
        None,
        help="owner/name of the kit on GitHub, whose workflow grade.yml calls (default: read"
        " from the template URL; none: no grade.yml).",
    ),
    course_file: Path | None = typer.Option(
        None, "--course", help="Course file (default: $GRADER_COURSE, else ./course.yaml)."
    ),
) -> int:
    """Generate one repository per team from the template, tagged m0-start.

    Example: grader teams create roster.csv --out teams/ --template-url https://github.com/c/kit.git
    """
    course = find_course(course_file)
    if course is not None:
        template_url = template_url or course.template_url
        checkout = checkout or course.template_ref
        org = org or course.github_org
    teams = load_roster(course_roster(roster, course), ("team", "name", "email", "github"))
    source = template or default_template()
    why_not = gh_ready() if push else None
    if why_not:
        raise UsageError(f"--push: {why_not}")
    console = Console(highlight=False, soft_wrap=True)
    recorded = template_url or source
    if is_local_template(recorded):
        console.print(
            f"[yellow]warning:[/] each .cruft.json will record the local path {recorded}:"
            " students cannot run `cruft check` or `cruft update` against it. Give"
            " --template-url with the course's template repository."
        )
    out.mkdir(parents=True, exist_ok=True)
    chosen = milestone or current_milestone(course) or "m0"
    workflow = workflow_answers(template_url, checkout, chosen)
    if kit_repository:
        workflow["kit_repository"] = kit_repository
    plan = Plan(source, checkout, template_url, out, org, push, workflow)
    ready = {team.slug: _one_team(team, plan, console) for team in teams}
    failures = sum(not ok for ok in ready.values())
    console.print(f"{len(teams) - failures} of {len(teams)} team repositories ready in {out}")
    result(out=str(out), teams={slug: "ready" if ok else "error" for slug, ok in ready.items()})
    return EXIT_INFRA if failures else EXIT_OK


def course_roster(roster: Path | None, course: Course | None) -> Path:
    if roster is not None:
        return roster
    if course is not None and course.roster_path is not None:
        return course.roster_path
    raise UsageError("give the roster CSV (or a course file with `roster:`)")


def _one_team(team: RosterTeam, plan: Plan, console: Console) -> bool:
    repo = plan.out / team.slug
    if repo.exists():
        console.print(f"{team.name}: {repo} exists, kept as is")
    else:
        try:
            generate(team, plan.source, plan.checkout, plan.out, plan.url, plan.workflow)
        except GraderError as exc:
            console.print(f"[red]error:[/] {exc}")
            return False
        console.print(f"{team.name}: generated {repo} ({plural(len(team.members), 'member')})")
    commands = push_commands(repo, team.slug, plan.org)
    for cmd in commands:
        console.print(f"  {shlex.join(cmd)}", markup=False)
    return run_push(commands, console) if plan.push else True


app.command("create", no_args_is_help=True)(create)
