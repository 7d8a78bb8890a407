"""A class at m3 on this machine: cold with 1 and 2 jobs, a regrade after one team's commit.

Generates N teams from a roster (`grader teams create`), gives each a distinct small change
of the kind teams make (a model hyper-parameter, a new API route, a new dependency in one
team, a broken test in one team), writes their documents, trains each twice and commits
the store and the model as its members. Then, each from a cold grader cache (no dependency
environments, team images, hooks image or layer findings; the base images present) and
the engine's build cache as it was when the benchmark started (an earlier run's layers
removed, so the second run does not reuse the first one's builds):

  1. `grader batch -m m3 --jobs 1`
  2. `grader batch -m m3 --jobs 2`
  3. one team pushes a commit; `grader batch -m m3 --jobs 2` again (only it is regraded)
  4. `grader check` of one team alone, cold (engine warm, base images present)

and prints: per team and per check of the `--jobs 2` run, the wall time and what came from
a cache; the class's critical path; the machine's load during each run; the totals against
the targets (10 teams cold with 2 jobs in 5 min, 2 jobs 1.6x faster than 1, the regrade in
60 s, a single team cold in 90 s).

Run: .venv/bin/python bench/class_scale.py [--teams 10] [--keep] [--skip-jobs1]
Needs a Docker engine (make docker). Takes a while: the cold runs are what it measures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KIT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT))

from bench.batch import isolated_env, roster  # noqa: E402
from grader.layerscan import STORAGE  # noqa: E402
from scripts.reference_team import run, write_documents  # noqa: E402

MILESTONE = "m3"
TARGETS = {"cold_j2_per_10": 300.0, "speedup": 1.6, "regrade": 60.0, "single": 90.0}


# --- the class ----------------------------------------------------------------------------


def package(repo: Path) -> str:
    return next(p.name for p in (repo / "src").iterdir() if (p / "train.py").is_file())


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    if old not in text:
        raise SystemExit(f"{path}: cannot find {old!r} to change")
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def change(repo: Path, index: int) -> str:
    """Team `index`'s own change: what it did differently from the template."""
    src = repo / "src" / package(repo)
    if index == 1:
        return "the template as generated"
    if index == 4:
        edit(
            src / "api.py",
            '@app.get("/health"',
            '@app.get("/about", tags=["operations"])\ndef about() -> dict[str, str]:\n'
            '    """Who built this service."""\n    return {"team": "four"}\n\n\n'
            '@app.get("/health"',
        )
        return "a new API route (/about)"
    if index == 5:
        edit(repo / "pyproject.toml", '"joblib==', '"tabulate==0.9.0",\n  "joblib==')
        run([str(Path(sys.executable).parent / "uv"), "lock", "-q"], repo)  # as `make lock`
        return "a new dependency (tabulate, locked)"
    if index == 6:
        (repo / "tests" / "test_broken.py").write_text(
            "def test_new_feature_is_done():\n    assert 1 + 1 == 3\n", encoding="utf-8"
        )
        return "a broken test"
    c = {2: "0.5", 3: "2.0", 7: "0.25", 8: "4.0"}.get(index, f"{0.3 + index / 10:g}")
    text = (src / "modeling.py").read_text(encoding="utf-8")
    text, n = re.subn(r'("C":\s*)[0-9.]+', rf"\g<1>{c}", text, count=1)
    if n != 1:
        raise SystemExit(f"{src / 'modeling.py'}: no C hyper-parameter to change")
    (src / "modeling.py").write_text(text, encoding="utf-8")
    return f"hyper-parameter C={c}"


def commit_as(repo: Path, team: int, member: int, message: str, *paths: str) -> None:
    handle = f"student-{team:02d}-{member}"
    ident = {
        "GIT_AUTHOR_NAME": f"Student {team} {member}",
        "GIT_AUTHOR_EMAIL": f"{handle}@example.edu",
        "GIT_COMMITTER_NAME": f"Student {team} {member}",
        "GIT_COMMITTER_EMAIL": f"{handle}@example.edu",
    }
    # Named paths are added even when ignored (the store); the rest as git ignores them.
    run(["git", "add", "--force", *paths] if paths else ["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "--no-verify", "-m", message], repo, ident)


def train(repo: Path, python: Path) -> None:
    """The team's training, twice, on the host with the class's shared virtual environment
    (its own code first on the path: every team has its own package)."""
    env = {"PYTHONPATH": str(repo / "src")}
    for _ in range(2):
        run([str(python), "-m", f"{package(repo)}.train"], repo, env)


def make_class(work: Path, teams: int, env: dict[str, str]) -> dict[str, str]:
    roster(work / "roster.csv", teams)
    run(
        [sys.executable, "-m", "grader", "teams", "create", "roster.csv", "--out", "repos"],
        work,
        env,
    )
    repos = sorted((work / "repos").iterdir())
    venv = work / "train-venv"
    run([sys.executable, "-m", "venv", str(venv)], work)
    run([str(venv / "bin" / "pip"), "install", "-q", "-e", f"{repos[0]}[dev]"], work)
    run([str(venv / "bin" / "pip"), "install", "-q", "tabulate==0.9.0"], work)
    changes = {}
    for index, repo in enumerate(repos, start=1):
        changes[repo.name] = change(repo, index)
        write_documents(repo)
        commit_as(repo, index, 1, "Write the documents; our change: " + changes[repo.name])
        train(repo, venv / "bin" / "python")
        commit_as(repo, index, 2, "Train and register", "mlflow.db", "mlruns", "model")
        run(["git", "tag", "v1.0"], repo)
    return changes


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Load:
    """The machine's 1-minute load average, and how busy its cores were (from /proc/stat),
    sampled while a run goes on: idle cores mean a run waited (a download, a lock), busy
    ones that only less work makes it faster."""

    samples: list[float] = field(default_factory=list)
    busy: list[tuple[float, float]] = field(default_factory=list)  # (busy, total) per sample
    split: dict[str, float] = field(default_factory=dict)  # CPU seconds, by whom (split_cpu)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Load:
        self._start = split_cpu()

        def sample() -> None:
            last = cpu_times()
            while not self._stop.wait(5):
                self.samples.append(os.getloadavg()[0])
                now = cpu_times()
                self.busy.append((now[0] - last[0], now[1] - last[1]))
                last = now

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        end = split_cpu()
        self.split = {k: end[k] - self._start[k] for k in end}

    def __str__(self) -> str:
        s = self.samples or [os.getloadavg()[0]]
        text = f"load avg min {min(s):.1f} / mean {sum(s) / len(s):.1f} / max {max(s):.1f}"
        if self.busy:
            text += f"; cores busy {share(self.busy):.0%}, first minute {share(self.busy[:12]):.0%}"
        if self.split.get("all"):
            parts = ", ".join(f"{k} {v:.0f}" for k, v in self.split.items() if k != "all")
            text += f"; CPU seconds {self.split['all']:.0f}: {parts}"
        return text


ENGINE = ("dockerd", "containerd")  # the engine's own daemons (not the containers' shims)
CONTAINERS = "/sys/fs/cgroup/cpuacct/docker/cpuacct.usage"  # cgroup v1, cgroupfs driver


def split_cpu() -> dict[str, float]:
    """CPU seconds used since boot: by every process, by the engine's containers (their
    parent cgroup, where the machine shows it: 0 otherwise) and by the engine's daemons;
    the rest is the grader, its git and its host tools."""
    tick = os.sysconf("SC_CLK_TCK")
    busy, _ = cpu_times()
    containers = 0.0
    with contextlib.suppress(OSError, ValueError):
        containers = int(Path(CONTAINERS).read_text()) / 1e9
    engine = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :]
        if name in ENGINE:
            fields = rest.split()
            engine += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return {
        "all": busy / tick,
        "containers": containers,
        "engine": engine,
        "grader and host": busy / tick - containers - engine,
    }


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot, from the first line of /proc/stat."""
    try:
        fields = [float(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:8]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def share(samples: list[tuple[float, float]]) -> float:
    total = sum(t for _, t in samples)
    return sum(b for b, _ in samples) / total if total else 0.0


def engine_images() -> set[str]:
    import docker

    client = docker.from_env()
    try:
        return {image.id for image in client.images.list(all=True)}
    finally:
        client.close()


def cold_caches(before: set[str]) -> None:
    """No cache the grader keeps (dependency environments, team images, hooks image), and
    no build layer an earlier run of this benchmark left in the engine's build cache (the
    untagged images made since `before`, the engine's images when it started): each run
    builds every image as a class's first grading does."""
    import docker

    client = docker.from_env()
    try:
        flt = {"label": ["org.mlops-capstone-kit.cache=1"]}
        for image in client.images.list(filters=flt):
            subprocess.run(["docker", "rmi", "-f", image.id], capture_output=True, check=False)
        made = [i for i in client.images.list(all=True) if i.id not in before and not i.tags]
        for image in sorted(made, key=lambda i: str(i.attrs.get("Created")), reverse=True):
            subprocess.run(["docker", "rmi", "-f", image.id], capture_output=True, check=False)
    finally:
        client.close()


def grader(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, Load, str]:
    with Load() as load:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "grader", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - start
    if done.returncode not in (0, 3):
        raise SystemExit(
            f"grader {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
        )
    return elapsed, load, done.stdout + done.stderr


def results(out: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted((out / "teams").glob("*/results.json")):
        found[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
    return found


def checks_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each check's record as the grader keeps it (id, status, evidence, duration)."""
    return [dict(t.get("extra_data") or {}) for t in result.get("tests", [])]


def cache_note(check: dict[str, Any]) -> str:
    evidence = check.get("evidence", {}) or {}
    if "reused" in evidence:
        return "image reused"
    if "layers_known" in evidence:
        where = " from storage" if evidence.get("layers_read_from") == STORAGE else ""
        known, scanned = evidence["layers_known"], evidence["layers_scanned"]
        return f"layers known {known}, scanned {scanned}{where}"
    environment = evidence.get("environment") or ""
    if isinstance(environment, str) and "cached" in environment:
        if environment.startswith("cached"):
            return "env cache hit"
        over = environment.startswith("installed over")
        return "env installed over another" if over else "env installed"
    return ""


def critical_path(checks: list[dict[str, Any]], needs: dict[str, tuple[str, ...]]) -> list[str]:
    """The chain of `needs` whose durations add up to the most: what bounds the team."""
    duration = {c["id"]: float(c.get("duration") or 0.0) for c in checks}
    best: dict[str, tuple[float, list[str]]] = {}

    def longest(cid: str) -> tuple[float, list[str]]:
        if cid not in best:
            before = [longest(n) for n in needs.get(cid, ()) if n in duration]
            total, path = max(before, default=(0.0, []))
            best[cid] = (total + duration.get(cid, 0.0), [*path, cid])
        return best[cid]

    return max((longest(c) for c in duration), default=(0.0, []))[1]


def report(out: Path, changes: dict[str, str]) -> None:
    from grader.rubric import KIT_RUBRICS, load_rubric

    rubric = load_rubric(KIT_RUBRICS / f"{MILESTONE}.yaml")
    needs = {c.id: c.needs for c in rubric.checks}
    graded = results(out)
    worst: tuple[float, str, list[str]] = (0.0, "", [])
    for team, result in graded.items():
        checks = checks_of(result)
        print(f"\n{team} ({changes.get(team, '?')}): {result.get('score')} points, "
              f"graded in {result.get('execution_time', 0):.1f} s")  # fmt: skip
        for c in checks:
            note = cache_note(c)
            if float(c.get("duration") or 0) >= 1.0 or note:
                status = c.get("status", "?")
                print(f"  {c['id']:<22} {status:<8} {float(c.get('duration') or 0):6.1f} s  {note}")
        path = critical_path(checks, needs)
        seconds = sum(float(c.get("duration") or 0) for c in checks if c["id"] in path)
        if seconds > worst[0]:
            worst = (seconds, team, path)
    if worst[1]:
        print(f"\nclass critical path: {worst[1]}: {' -> '.join(worst[2])} ({worst[0]:.1f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="Keep the work folder.")
    parser.add_argument("--skip-jobs1", action="store_true", help="Skip the 1-job cold run.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="grader-class-"))
    try:
        start = time.perf_counter()
        changes = make_class(work, args.teams, isolated_env(work, "gen"))
        print(f"{args.teams} teams generated, changed and trained in "
              f"{time.perf_counter() - start:.0f} s")  # fmt: skip
        for team, what in changes.items():
            print(f"  {team}: {what}")
        batch = ["batch", "roster.csv", "-m", MILESTONE]
        figures: dict[str, float] = {}
        before = engine_images()
        if not args.skip_jobs1:
            cold_caches(before)
            figures["j1"], load, _ = grader(
                [*batch, "--jobs", "1", "--out", "out-j1"], isolated_env(work, "j1"), work
            )
            print(f"\ncold, --jobs 1: {figures['j1']:.1f} s ({load})")
        cold_caches(before)
        env2 = isolated_env(work, "j2")
        figures["j2"], load, _ = grader([*batch, "--jobs", "2", "--out", "out-j2"], env2, work)
        print(f"cold, --jobs 2: {figures['j2']:.1f} s ({load})")
        report(work / "out-j2", changes)
        # One team pushes a commit: a docstring of its API changes.
        pushing = min(3, args.teams)
        repo = work / "repos" / f"team-{pushing:02d}"
        edit(repo / "src" / package(repo) / "api.py", '"""', f'"""Team {pushing} reworded this. ')
        commit_as(repo, pushing, 1, "Reword the API's docstring")
        figures["regrade"], load, output = grader(
            [*batch, "--jobs", "2", "--out", "out-j2"], env2, work
        )
        seconds = figures["regrade"]
        print(f"\nregrade after team-{pushing:02d}'s commit, --jobs 2: {seconds:.1f} s ({load})")
        report_regrade(output)
        cold_caches(before)
        figures["single"], load, _ = grader(
            ["check", "repos/team-01", "-m", MILESTONE, "--out", "out-single"],
            isolated_env(work, "single"),
            work,
        )
        print(f"single team cold (grader check): {figures['single']:.1f} s ({load})")
        summary(figures, args.teams)
        if args.keep:
            print(f"work folder: {work}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def report_regrade(output: str) -> None:
    cached = output.count("(cached)")
    print(f"  teams served from the result cache: {cached}")


def summary(figures: dict[str, float], teams: int) -> None:
    per_team = figures["j2"] / teams
    print(f"\nsummary (this machine: {os.cpu_count()} cores, {teams} teams at {MILESTONE})")
    print(f"  cold --jobs 2: {figures['j2']:.0f} s, {per_team:.1f} s per team amortized")
    print(f"    target: at most {TARGETS['cold_j2_per_10'] / 10:.0f} s per team;"
          f" 60 teams at this rate: {per_team * 60 / 60:.0f} min")  # fmt: skip
    if "j1" in figures:
        speedup = figures["j1"] / figures["j2"]
        print(f"  cold --jobs 1: {figures['j1']:.0f} s; speed-up {speedup:.2f}x"
              f" (target >= {TARGETS['speedup']}x)")  # fmt: skip
    regrade, single = figures["regrade"], figures["single"]
    print(f"  regrade after one commit: {regrade:.0f} s (target <= {TARGETS['regrade']:.0f} s)")
    print(f"  single team cold: {single:.0f} s (target <= {TARGETS['single']:.0f} s)")


if __name__ == "__main__":
    raise SystemExit(main())
