"""Team repositories from the course roster.

Example: grader teams create roster.csv --out teams/ --org my-course-2026 --push
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
from pathlib import Path

import typer
from rich.console import Console

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


def template_context(team: RosterTeam) -> dict[str, str]:
    members = ", ".join(f"{m.name} <{m.github}>" for m in team.members)
    return {
        "project_name": team.name,
        "project_slug": team.slug,
        "package_name": package_name(team.slug),
        "team_name": team.name,
        "members": members,
    }


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


def generate(team: RosterTeam, template: str, checkout: str | None, out: Path) -> Path:
    """Bake the template for one team in a staging folder, commit, tag, then move it in place."""
    import cruft  # slow to import; only this command needs it

    staging = Path(tempfile.mkdtemp(dir=out, prefix=f".{team.slug}-"))
    try:
        with _quiet() as log:
            try:
                made = cruft.create(
                    template,
                    output_dir=staging,
                    extra_context=template_context(team),
                    no_input=True,
                    checkout=checkout,
                )
            except Exception as exc:
                detail = f"{type(exc).__name__}: {exc}\n{log.getvalue()}".strip()
                raise GenerateError(f"team {team.name!r}: the template failed: {detail}") from None
        _add_emails(Path(made), team)
        _first_commit(Path(made))
        final = out / team.slug
        Path(made).rename(final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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


def create(
    roster: Path = typer.Argument(..., help="Roster CSV: team, name, email, github."),
    out: Path = typer.Option(..., help="Folder that receives one repository per team."),
    template: str | None = typer.Option(
        None, help="Template git URL or path (default: this kit's checkout)."
    ),
    checkout: str | None = typer.Option(None, help="Template branch, tag or commit."),
    org: str | None = typer.Option(None, help="GitHub organization for `gh repo create`."),
    push: bool = typer.Option(False, help="Create and push the GitHub repositories with `gh`."),
) -> int:
    """Generate one repository per team from the template, tagged m0-start.

    Example: grader teams create roster.csv --out teams/ --org my-course-2026 --push
    """
    teams = load_roster(roster, ("team", "name", "email", "github"))
    source = template or default_template()
    why_not = gh_ready() if push else None
    if why_not:
        raise UsageError(f"--push: {why_not}")
    out.mkdir(parents=True, exist_ok=True)
    console = Console(highlight=False, soft_wrap=True)
    failures = 0
    for team in teams:
        failures += not _one_team(team, source, checkout, out, org, push, console)
    console.print(f"{len(teams) - failures} of {len(teams)} team repositories ready in {out}")
    return EXIT_INFRA if failures else EXIT_OK


def _one_team(
    team: RosterTeam,
    source: str,
    checkout: str | None,
    out: Path,
    org: str | None,
    push: bool,
    console: Console,
) -> bool:
    repo = out / team.slug
    if repo.exists():
        console.print(f"{team.name}: {repo} exists, kept as is")
    else:
        try:
            generate(team, source, checkout, out)
        except GraderError as exc:
            console.print(f"[red]error:[/] {exc}")
            return False
        console.print(f"{team.name}: generated {repo} ({plural(len(team.members), 'member')})")
    commands = push_commands(repo, team.slug, org)
    for cmd in commands:
        console.print(f"  {shlex.join(cmd)}", markup=False)
    return run_push(commands, console) if push else True


app.command("create", no_args_is_help=True)(create)
