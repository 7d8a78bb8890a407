"""How much slower is `grader check` than doing the same work by hand?

Measures, in the same run and on the same fixture service (tests/fixtures/services):

* by hand: `docker build --no-cache`, `docker image inspect`, `docker run`, polling
  the health path, the manifest example, and a loop of N requests at concurrency C;
* the grader: `grader check` on a rubric with the same work (container.build with
  nocache, size, non-root, service.starts, health, examples, latency with N and C).

Prints both wall times and their ratio for each repetition (orders alternate, so a warm
cache favours neither), then the median ratio. Target: at most 1.05.

The team's Dockerfile installs its dependencies (tests/fixtures/services/variants/
standalone.Dockerfile), as teams' Dockerfiles do; `--prebuilt-base` builds FROM an image
that already has them instead, so the build takes about a second and the grader's fixed
costs (Python start-up and imports, one process per check) weigh the most.

Usage: python bench/grader_overhead.py [--requests 500] [--concurrency 4] [--repeat 3]
                                       [--prebuilt-base]
Needs a Docker engine (make docker). Uses host networking when the engine has no bridge.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import init_repo  # noqa: E402
from tests.services import (  # noqa: E402
    ensure_base_image,
    free_port,
    manifest_data,
    network_mode,
    service_repo,
    write_manifest,
)

TARGET = 1.05  # the median ratio the kit aims for


def rubric(requests: int, concurrency: int) -> dict[str, object]:
    def item(cid: str, check: str, needs: list[str], **params: object) -> dict[str, object]:
        return {"id": cid, "check": check, "points": 10, "needs": needs, "params": params}

    return {
        "milestone": "bench",
        "title": "Container and service (benchmark)",
        "checks": [
            item("build", "container.build", [], nocache=True),
            item("size", "container.size", ["build"], max_mb=2000),
            item("non-root", "container.non_root", ["build"]),
            item("starts", "service.starts", ["build"]),
            item("health", "service.health", ["starts"]),
            item("examples", "service.examples", ["starts"]),
            item(
                "latency",
                "service.latency",
                ["starts"],
                requests=requests,
                concurrency=concurrency,
                warmup=5,
            ),
        ],
    }


def by_hand(repo: Path, data: dict[str, object], net: str, requests: int, conc: int) -> float:
    service = data["service"]
    assert isinstance(service, dict)
    port, env = service["port"], service["env"]
    tag = f"bench-by-hand:{uuid.uuid4().hex[:8]}"
    start = time.monotonic()
    docker = ["docker"]
    build_env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    build_net = ["--network", "host"] if net == "host" else []
    run([*docker, "build", "-q", "--no-cache", *build_net, "-t", tag, str(repo)], build_env)
    run([*docker, "image", "inspect", "--format", "{{.Size}} {{.Config.User}}", tag])
    if net == "host":
        where = ["--network", "host"]
        url = f"http://127.0.0.1:{port}"
    else:
        where = ["-p", f"127.0.0.1:{port}:{port}"]
        url = f"http://127.0.0.1:{port}"
    envs = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    name = f"bench-{uuid.uuid4().hex[:8]}"
    run([*docker, "run", "-d", "--name", name, *where, *envs, tag])
    try:
        example = service["examples"][0]
        with httpx.Client(base_url=url, timeout=30) as http:
            wait_healthy(http, "/health")
            http.get("/health").raise_for_status()
            http.get("/ready").raise_for_status()
            http.post("/predict", json=example["body"]).raise_for_status()
            for _ in range(5):
                http.post("/predict", json=example["body"])

            def one(_: int) -> int:
                return http.post("/predict", json=example["body"]).status_code

            with ThreadPoolExecutor(conc) as pool:
                codes = list(pool.map(one, range(requests)))
        assert all(code == 200 for code in codes)
    finally:
        run([*docker, "rm", "-f", name])
        run([*docker, "rmi", "-f", tag])
    return time.monotonic() - start


def wait_healthy(http: httpx.Client, path: str, timeout: float = 60) -> None:
    deadline, delay = time.monotonic() + timeout, 0.1
    while time.monotonic() < deadline:
        try:
            if http.get(path).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
    raise RuntimeError("the service did not become healthy")


def with_grader(repo: Path, rubric_file: Path, out: Path, net: str) -> tuple[float, str]:
    start = time.monotonic()
    cmd = [sys.executable, "-m", "grader", "check", str(repo), "--rubric", str(rubric_file)]
    done = subprocess.run(
        [*cmd, "--out", str(out)],
        env={**os.environ, "GRADER_NETWORK": net},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - start
    if done.returncode != 0 or "30 / 70" in done.stdout:
        raise RuntimeError(f"grader check failed:\n{done.stdout}\n{done.stderr}")
    results = yaml.safe_load((out / "results.json").read_text())
    bad = [t["name"] for t in results["tests"] if t["status"] != "passed"]
    if bad:
        raise RuntimeError(f"checks did not pass: {bad}\n{done.stdout}")
    grade = results["extra_data"]["grader"]
    checks = {c["id"]: c["duration"] for c in grade["checks"]}
    inside = grade["execution_time"]
    parts = ", ".join(f"{cid} {d:.2f}" for cid, d in checks.items())
    where = (
        f"  grader: {seconds - inside:.2f}s outside the run (start-up, reports), "
        f"{inside - sum(checks.values()):.2f}s in the run between checks; checks: {parts}"
    )
    return seconds, where


def run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(cmd, check=True, capture_output=True, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--prebuilt-base", action="store_true")
    args = parser.parse_args()
    ensure_base_image()
    variant = None if args.prebuilt_base else "standalone"
    net = network_mode()
    ratios = []
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        work = Path(tmp)
        repo = service_repo(work / "team", variant)
        data = manifest_data(free_port())
        write_manifest(repo, data)
        init_repo(repo, {})
        rubric_file = work / "bench.yaml"
        rubric_file.write_text(yaml.safe_dump(rubric(args.requests, args.concurrency)))
        what = "prebuilt base" if args.prebuilt_base else "dependencies installed in the build"
        print(f"network {net}; {what}; {args.requests} requests at concurrency {args.concurrency}")
        for i in range(args.repeat):
            out = work / f"out{i}"
            if i % 2 == 0:
                hand = by_hand(repo, data, net, args.requests, args.concurrency)
                graded, where = with_grader(repo, rubric_file, out, net)
            else:
                graded, where = with_grader(repo, rubric_file, out, net)
                hand = by_hand(repo, data, net, args.requests, args.concurrency)
            ratios.append(graded / hand)
            print(f"run {i + 1}: by hand {hand:.2f}s, grader {graded:.2f}s, ratio {ratios[-1]:.3f}")
            print(where)
    median = statistics.median(ratios)
    print(f"grader overhead ratio (median of {len(ratios)}): {median:.3f} (target <= {TARGET})")
    return 0 if median <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
