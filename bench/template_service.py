"""Benchmark the service the template generates: image size, startup, /predict latency.

    python bench/template_service.py [--task classification] [--rate 100] [--seconds 20]

Bakes the template (defaults, or --task), builds its image on the local engine (host network
for pip), then reports:
  - image size, and size over the base image;
  - seconds from `docker run` to the HEALTHCHECK turning healthy, and to /ready answering 200;
  - /predict latency p50/p95/p99 at a fixed request rate (open loop: latency counts from the
    moment a request was due, so a stalled server cannot hide its queue), and the throughput
    of a closed loop with --concurrency clients. The load comes from a separate process.
Targets (issue 3): healthy within 5 s; p99 under 20 ms at 100 requests per second.
Every container and image it makes is removed at the end (--keep-image to keep the image).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

KIT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(KIT))
LABEL = "mlops-capstone-kit.bench"
TARGET_HEALTHY_S = 5.0
TARGET_P99_MS = 20.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


# --- the load generator (runs in its own process) ---------------------------------------


def worker(port: int, body: bytes, rate: float, seconds: float, concurrency: int) -> dict[str, Any]:
    """Open loop at `rate` requests/s, then a closed loop; returns latencies in ms."""
    headers = {"Content-Type": "application/json"}

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def post(conn: http.client.HTTPConnection) -> int:
        conn.request("POST", "/predict", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status

    warm = connect()
    for _ in range(100):
        post(warm)
    warm.close()

    # Open loop: a scheduler hands out due times; threads send each request at its due time.
    due: queue.Queue[float | None] = queue.Queue()
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def sender() -> None:
        nonlocal errors
        conn = connect()
        while (when := due.get()) is not None:
            delay = when - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                status = post(conn)
            except OSError:
                status, conn = 0, connect()
            elapsed = (time.perf_counter() - when) * 1000
            with lock:
                latencies.append(elapsed)
                errors += status != 200
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(16)]
    for thread in threads:
        thread.start()
    start = time.perf_counter() + 0.2
    total = int(rate * seconds)
    for i in range(total):
        due.put(start + i / rate)
    for _ in threads:
        due.put(None)
    for thread in threads:
        thread.join()
    open_elapsed = time.perf_counter() - start

    # Closed loop: `concurrency` clients as fast as the server answers.
    stop = time.perf_counter() + min(seconds, 10)
    counts = [0] * concurrency

    def hammer(slot: int) -> None:
        conn = connect()
        while time.perf_counter() < stop:
            post(conn)
            counts[slot] += 1
        conn.close()

    hammers = [threading.Thread(target=hammer, args=(i,)) for i in range(concurrency)]
    begun = time.perf_counter()
    for thread in hammers:
        thread.start()
    for thread in hammers:
        thread.join()
    closed_elapsed = time.perf_counter() - begun
    return {
        "latencies_ms": latencies,
        "errors": errors,
        "achieved_rps": total / open_elapsed,
        "throughput_rps": sum(counts) / closed_elapsed,
        "requests_total": 100 + total + sum(counts),
    }


# --- orchestration -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bake(task: str, python: str, out: Path) -> Path:
    from cookiecutter.main import cookiecutter

    return Path(
        cookiecutter(
            str(KIT),
            no_input=True,
            output_dir=str(out),
            extra_context={"project_name": "Bench Service", "task": task, "python_version": python},
        )
    )


def wait_ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return True
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.02)
    return False


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import docker

    from tests.template.template_helpers import build_image, remove_images

    client = docker.from_env(timeout=600)
    results: dict[str, Any] = {"task": args.task, "python": args.python}
    with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
        repo = bake(args.task, args.python, Path(tmp))
        print(f"baked {repo.name}; building the image (host network) ...", flush=True)
        started = time.monotonic()
        image, created = build_image(client, repo)
        results["build_seconds"] = round(time.monotonic() - started, 1)
        container = None
        try:
            base = client.images.get(f"python:{args.python}-slim")
            results["image_mb"] = round(image.attrs["Size"] / 1e6, 1)
            results["base_mb"] = round(base.attrs["Size"] / 1e6, 1)
            results["over_base_mb"] = round(results["image_mb"] - results["base_mb"], 1)

            port = free_port()
            t0 = time.monotonic()
            container = client.containers.run(
                image.id,
                detach=True,
                network_mode="host",
                environment={"PORT": str(port)},
                labels={LABEL: "1"},
            )
            healthy = None
            while time.monotonic() - t0 < 120:
                container.reload()
                if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
                    healthy = time.monotonic() - t0
                    break
                time.sleep(0.05)
            results["seconds_to_healthy"] = None if healthy is None else round(healthy, 2)
            ready = wait_ready(f"http://127.0.0.1:{port}/ready", 120)
            results["seconds_to_ready"] = round(time.monotonic() - t0, 2) if ready else None
            if not ready:
                raise SystemExit(container.logs().decode()[-3000:])

            body = json.dumps(example_body(repo)).encode()
            cpu_before = container_cpu_ns(container)
            load_before = os.getloadavg()[0]
            print(f"load: {args.rate} req/s for {args.seconds} s from a separate process ...")
            load = subprocess.run(
                [sys.executable, __file__, "--worker", str(port), "--rate", str(args.rate),
                 "--seconds", str(args.seconds), "--concurrency", str(args.concurrency)],
                input=body, capture_output=True, check=True,
            )  # fmt: skip
            stats = json.loads(load.stdout)
            cpu_ms = (container_cpu_ns(container) - cpu_before) / 1e6
            latencies = stats["latencies_ms"]
            results.update(
                {
                    "requests": len(latencies),
                    "errors": stats["errors"],
                    "rate_rps": args.rate,
                    "achieved_rps": round(stats["achieved_rps"], 1),
                    "p50_ms": round(percentile(latencies, 50), 2),
                    "p95_ms": round(percentile(latencies, 95), 2),
                    "p99_ms": round(percentile(latencies, 99), 2),
                    "mean_ms": round(statistics.fmean(latencies), 2),
                    "max_ms": round(max(latencies), 2),
                    "throughput_rps": round(stats["throughput_rps"], 1),
                    "concurrency": args.concurrency,
                    # Service CPU per request: what the latency costs on an idle machine,
                    # independent of other load on this one (load average shown with it).
                    "server_cpu_ms_per_request": round(cpu_ms / stats["requests_total"], 3),
                    "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                }
            )
        finally:
            if container is not None:
                container.remove(force=True)
            if not args.keep_image:
                remove_images(client, [image.id, *created])
            client.close()
    return results


def container_cpu_ns(container: Any) -> int:
    stats = container.stats(stream=False)
    return int(stats["cpu_stats"]["cpu_usage"]["total_usage"])


def example_body(repo: Path) -> Any:
    import yaml

    manifest = yaml.safe_load((repo / "capstone.yaml").read_text())
    return manifest["service"]["examples"][0]["body"]


def report(results: dict[str, Any]) -> str:
    healthy, p99 = results["seconds_to_healthy"], results["p99_ms"]
    ok_healthy = "ok" if healthy is not None and healthy <= TARGET_HEALTHY_S else "MISSED"
    ok_p99 = "ok" if p99 <= TARGET_P99_MS else "MISSED"
    return "\n".join(
        [
            f"template service benchmark ({results['task']}, Python {results['python']})",
            f"  image size          {results['image_mb']} MB "
            f"(base {results['base_mb']} MB, +{results['over_base_mb']} MB)",
            f"  build               {results['build_seconds']} s",
            f"  run -> healthy      {healthy} s   (target <= {TARGET_HEALTHY_S} s: {ok_healthy})",
            f"  run -> ready        {results['seconds_to_ready']} s",
            f"  /predict at {results['rate_rps']} req/s ({results['requests']} requests, "
            f"{results['errors']} errors, achieved {results['achieved_rps']} req/s)",
            f"    p50 {results['p50_ms']} ms  p95 {results['p95_ms']} ms  "
            f"p99 {p99} ms   (target p99 < {TARGET_P99_MS} ms: {ok_p99})",
            f"    mean {results['mean_ms']} ms  max {results['max_ms']} ms",
            f"  throughput          {results['throughput_rps']} req/s "
            f"(closed loop, {results['concurrency']} clients)",
            f"  service CPU         {results['server_cpu_ms_per_request']} ms per request",
            f"  machine load        {results['load_average'][0]} -> "
            f"{results['load_average'][1]} (1-min load average, 2 cores)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tasks = ["classification", "regression"]
    parser.add_argument("--task", choices=tasks, default="classification")
    parser.add_argument("--python", choices=["3.11", "3.13"], default="3.11")
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep-image", action="store_true")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        body = sys.stdin.buffer.read()
        stats = worker(args.worker, body, args.rate, args.seconds, args.concurrency)
        sys.stdout.write(json.dumps(stats))
        return 0
    results = measure(args)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
