"""Where the service's image comes from: Dockerfiles, the commands that build them, compose.

Read, never run: Dockerfile instructions, `docker build -f` in workflows, Makefiles and
scripts, and compose files' `build`, `ports`, `command` and `environment`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from grader.infer.draft import Draft
from grader.infer.files import RepoFiles

PORT_FLAGS = re.compile(
    r"(?:--port[= ]|-p |--bind[= ]|-b |--listen[= ])\s*['\"]?"  # the flag
    r"(?:[\w.\[\]:]*:)?"  # a host before the port: 0.0.0.0:
    r"(\$\{?\w+(?::?-\d+)?\}?|\d{2,5})"  # $PORT, ${PORT:-8080} or 8080
)
ENV_DEFAULT = re.compile(r"\$\{(\w+):?-(\d{2,5})\}")
PYTHON_FROM = re.compile(r"(?:docker\.io/)?(?:library/)?python:(\d+\.\d+)", re.I)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


def instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions with the line each starts on (continuations joined)."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = " ".join(part.strip() for part in pending if not part.strip().startswith("#"))
        pending = []
        keyword, _, args = joined.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
    return out


def command_words(args: str) -> list[str]:
    """CMD/ENTRYPOINT arguments in exec form (JSON) or shell form."""
    if args.startswith("["):
        try:
            words = yaml.safe_load(args)
        except yaml.YAMLError:
            words = None
        if isinstance(words, list):
            return [str(w) for w in words]
    try:
        return shlex.split(args)
    except ValueError:
        return args.split()


def port_in_command(command: str, env: dict[str, str]) -> str | None:
    """The port a server command listens on: `--port 8080`, `-b 0.0.0.0:5000`, `$PORT`."""
    match = PORT_FLAGS.search(command)
    if not match:
        return None
    token = match.group(1)
    if token.isdigit():
        return token
    default = ENV_DEFAULT.search(token)
    name = token.strip("${}").split(":")[0].split("-")[0]
    if name in env and env[name].isdigit():
        return env[name]
    return default.group(2) if default else None


def infer_docker(files: RepoFiles, draft: Draft, app_files: Sequence[str] = ()) -> None:
    """`app_files`: where the service's app and routes are (to find its Dockerfile)."""
    builds = _build_commands(files)
    compose = _compose_services(files)
    dockerfile, context, source, sure = _choose_dockerfile(files, builds, compose, list(app_files))
    if dockerfile is None:
        draft.missing("service.dockerfile", "no Dockerfile in the repository")
        return
    draft.set("service.dockerfile", dockerfile, source, sure)
    draft.set("service.context", context, source, sure)
    text = files.text(dockerfile) or ""
    steps = instructions(text)
    env: dict[str, str] = {}
    for step in steps:
        if step.keyword == "ENV":
            env.update(_env_pairs(step.args))
    final = _final_stage(steps)
    for step in final:
        where = f"{dockerfile}:{step.line}"
        if step.keyword == "FROM" and (match := PYTHON_FROM.search(step.args)):
            draft.set("tests.python", match.group(1), where, "medium")
        if step.keyword in ("CMD", "ENTRYPOINT"):
            port = port_in_command(" ".join(command_words(step.args)), env)
            if port:
                draft.set("service.port", int(port), where)
    for step in final:
        if step.keyword == "EXPOSE" and (match := re.match(r"(\d+)", step.args)):
            draft.set("service.port", int(match.group(1)), f"{dockerfile}:{step.line}")
    has_command = any(s.keyword in ("CMD", "ENTRYPOINT") for s in final)
    entry = _compose_for(compose, dockerfile)
    if entry is not None:
        _compose_values(files, entry, has_command, draft)
    elif not has_command:
        draft.missing("service.command", "the Dockerfile has no CMD and no compose file names one")
    if "PORT" in env and env["PORT"].isdigit():
        draft.set("service.port", int(env["PORT"]), f"{dockerfile} (ENV PORT)", "medium")


def _final_stage(steps: list[Instruction]) -> list[Instruction]:
    starts = [i for i, s in enumerate(steps) if s.keyword == "FROM"]
    return steps[starts[-1] :] if starts else steps


def _env_pairs(args: str) -> dict[str, str]:
    words = command_words(args)
    if len(words) >= 2 and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(w.split("=", 1) for w in words if "=" in w)


# which Dockerfile -------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    dockerfile: str
    context: str
    source: str


def _build_commands(files: RepoFiles) -> list[Build]:
    """`docker build -f FILE CONTEXT` (and `docker buildx build`) wherever the repo runs it."""
    found: list[Build] = []
    for rel in files.build_scripts():
        for number, line in enumerate((files.text(rel) or "").splitlines(), 1):
            if "docker" not in line or "build" not in line:
                continue
            build = _parse_build(line)
            if build is not None:
                dockerfile, context = build
                found.append(Build(dockerfile, context, f"{rel}:{number}"))
    return found


def _parse_build(line: str) -> tuple[str, str] | None:
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return None
    if "build" not in words:
        return None
    args = words[words.index("build") + 1 :]
    dockerfile, context, skip = None, None, False
    for i, word in enumerate(args):
        if skip:
            skip = False
            continue
        if word in ("-f", "--file"):
            dockerfile = args[i + 1] if i + 1 < len(args) else None
            skip = True
        elif word.startswith("--file="):
            dockerfile = word.split("=", 1)[1]
        elif word in ("-t", "--tag", "--build-arg", "--target", "--platform", "--network"):
            skip = True
        elif not word.startswith("-") and context is None:
            context = word
    if dockerfile is None or "$" in dockerfile:
        return None
    return dockerfile, (context or ".")


def _compose_services(files: RepoFiles) -> list[tuple[str, str, dict[str, Any]]]:
    """(compose file, service name, service) for each service that builds an image."""
    out = []
    for rel in files.compose_files():
        try:
            data = yaml.safe_load(files.text(rel) or "")
        except yaml.YAMLError:
            continue
        services = data.get("services") if isinstance(data, dict) else None
        if not isinstance(services, dict):
            continue
        for name, service in services.items():
            if isinstance(service, dict) and "build" in service:
                out.append((rel, str(name), service))
    return out


def _compose_build(compose_file: str, service: dict[str, Any]) -> tuple[str, str]:
    base = str(Path(compose_file).parent)
    build = service["build"]
    if isinstance(build, str):
        context, dockerfile = build, "Dockerfile"
    else:
        context = str(build.get("context", "."))
        dockerfile = str(build.get("dockerfile", "Dockerfile"))
    context = _norm(base, context)
    return _norm(context, dockerfile), context


def _norm(base: str, rel: str) -> str:
    parts: list[str] = []
    for part in (Path(base) / rel).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts) or "."


@dataclass(frozen=True)
class Candidate:
    dockerfile: str
    context: str
    source: str
    score: int


API_NAMES = re.compile(r"api|backend|app|serv|model|infer|predict|web", re.I)
OTHER_NAMES = re.compile(
    r"airflow|postgres|db|redis|mlflow|front|ui|streamlit|grafana|prometheus|nginx|worker|"
    r"scheduler|jupyter|notebook|train|monitor|dashboard|kafka|minio",
    re.I,
)


def _choose_dockerfile(
    files: RepoFiles,
    builds: list[Build],
    compose: list[tuple[str, str, dict[str, Any]]],
    app_files: list[str],
) -> tuple[str | None, str, str, Any]:
    """The Dockerfile of the service: the one that runs the app's module, sits above its
    code, or a build command or compose service names; the others lose points for names
    that say they are something else (a frontend, a database, Airflow)."""
    found: dict[str, Candidate] = {}
    for build in builds:
        if files.exists(build.dockerfile):
            _add(found, files, build.dockerfile, build.context, build.source, 2, app_files)
    for rel, name, service in compose:
        dockerfile, context = _compose_build(rel, service)
        if files.exists(dockerfile):
            bonus = 2 + _name_score(name)
            command = str(service.get("command") or "")
            source = f"{rel} (service {name})"
            _add(found, files, dockerfile, context, source, bonus, app_files, command)
    for dockerfile in files.dockerfiles():
        bonus = 1 if dockerfile == "Dockerfile" else 0
        context = "." if dockerfile == "Dockerfile" else _context_for(files, dockerfile)
        _add(found, files, dockerfile, context, dockerfile, bonus, app_files)
    if not found:
        return None, ".", "", "low"
    ranked = sorted(found.values(), key=lambda c: (-c.score, c.dockerfile.count("/"), c.dockerfile))
    best = ranked[0]
    margin = best.score - ranked[1].score if len(ranked) > 1 else 99
    sure = "high" if margin >= 2 and best.score >= 2 else "medium" if margin >= 1 else "low"
    return best.dockerfile, best.context, best.source, sure


def _add(
    found: dict[str, Candidate],
    files: RepoFiles,
    dockerfile: str,
    context: str,
    source: str,
    bonus: int,
    app_files: list[str],
    command: str = "",
) -> None:
    if dockerfile in found:
        return  # the first, strongest source of a Dockerfile names it
    steps = instructions(files.text(dockerfile) or "")
    runs = command + " " + " ".join(s.args for s in steps if s.keyword in ("CMD", "ENTRYPOINT"))
    score = bonus + _name_score(dockerfile)
    for app in app_files:
        stem = Path(app).stem
        if re.search(rf"(?<![\w-]){re.escape(stem)}(?![\w-])", runs):
            score += 3
        folder = str(Path(dockerfile).parent)
        if folder != "." and (app + "/").startswith(folder + "/"):
            score += 3
    found[dockerfile] = Candidate(dockerfile, context, source, score)


def _name_score(name: str) -> int:
    if OTHER_NAMES.search(name):
        return -2
    return 1 if API_NAMES.search(name) else 0


def _serves(text: str) -> bool:
    return any(s.keyword in ("EXPOSE", "CMD", "ENTRYPOINT") for s in instructions(text))


def _context_for(files: RepoFiles, dockerfile: str) -> str:
    """The build context that makes the Dockerfile's COPY sources exist: the repo root, or
    the Dockerfile's own folder."""
    folder = str(Path(dockerfile).parent)
    sources = []
    for step in instructions(files.text(dockerfile) or ""):
        if step.keyword in ("COPY", "ADD") and "--from" not in step.args:
            words = [w for w in command_words(step.args) if not w.startswith("--")]
            sources += [w for w in words[:-1] if w not in (".", "./") and "*" not in w]
    if not sources or folder == ".":
        return "."
    at_root = sum(files.exists(s) for s in sources)
    at_folder = sum(files.exists(_norm(folder, s)) for s in sources)
    return folder if at_folder > at_root else "."


def _compose_for(
    compose: list[tuple[str, str, dict[str, Any]]], dockerfile: str
) -> tuple[str, str, dict[str, Any]] | None:
    for entry in compose:
        if _compose_build(entry[0], entry[2])[0] == dockerfile:
            return entry
    return None


def _compose_values(
    files: RepoFiles, entry: tuple[str, str, dict[str, Any]], has_command: bool, draft: Draft
) -> None:
    """What the compose service of the chosen Dockerfile says: its command (for an image
    without one), its port and its environment (interpolated values left out)."""
    rel, name, _ = entry
    try:
        found = from_compose(files.text(rel) or "", rel, name)
    except ValueError:
        return
    where = f"{rel} (service {name}"
    command = found.get("command")
    if command and not has_command:
        draft.set("service.command", list(command), f"{where}: command)")
        port = port_in_command(" ".join(command), {})
        if port:
            draft.set("service.port", int(port), f"{where}: command)")
    if "port" in found:
        draft.set("service.port", found["port"], f"{where}: ports)", "medium")
    env = {k: v for k, v in found.get("env", {}).items() if "$" not in v}
    if env:
        draft.set("service.env", env, f"{where}: environment)", "medium")


# a manifest that names a compose service ---------------------------------------------------

COMPOSE_FIELDS = ("dockerfile", "context", "command", "env", "port")


def from_compose(text: str, file: str, name: str) -> dict[str, Any]:
    """The service fields a compose file's service gives: dockerfile and context (from
    `build`), command, environment and the container port. Raises ValueError, naming the
    file, when the service is not there."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{file} is not valid YAML: {str(exc).splitlines()[0]}") from None
    services = data.get("services") if isinstance(data, dict) else None
    service = services.get(name) if isinstance(services, dict) else None
    if not isinstance(service, dict):
        known = ", ".join(map(str, services)) if isinstance(services, dict) else "none"
        raise ValueError(f"{file} has no service {name!r} (services: {known})")
    out: dict[str, Any] = {}
    if "build" in service:
        out["dockerfile"], out["context"] = _compose_build(file, service)
    command = service.get("command")
    if command is not None:
        words = command if isinstance(command, list) else command_words(str(command))
        out["command"] = tuple(str(w) for w in words)
        port = port_in_command(" ".join(out["command"]), {})
        if port:
            out["port"] = int(port)
    env = service.get("environment")
    if isinstance(env, list):
        env = dict(str(e).split("=", 1) for e in env if "=" in str(e))
    if isinstance(env, dict):
        out["env"] = {str(k): str(v) for k, v in env.items() if v is not None}
    for port in service.get("ports") or []:
        inner = str(port.get("target", "")) if isinstance(port, dict) else str(port).split(":")[-1]
        if inner.split("/")[0].isdigit() and "port" not in out:
            out["port"] = int(inner.split("/")[0])
    return out
