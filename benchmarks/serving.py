"""`touchup serve` (gunicorn) against the demo's server (Django's threaded runserver):
requests per second and latency, same machine, same database, same run.

    python -m benchmarks serving [--requests 300] [--concurrency 1,8] [--rounds 2]
    python -m benchmarks serving --serve-args "--workers 5 --threads 1"

A throwaway data directory (SQLite, WAL) is migrated and given a synthetic clinic of demo
size (benchmarks/synthetic.py, 60 patients with years of cycles). Then both servers run
side by side on free ports, each a process of its own as in production:

- `touchup serve --bind 127.0.0.1:P` with its defaults (or --serve-args), access log on;
- `touchup manage runserver 127.0.0.1:P --noreload`, threaded, as `touchup demo` serves.

A clinician signs in to each through the real sign-in form (CSRF token and all). Pages:
GET /health/ (no session: a database round trip and the worker's heartbeat row) and
GET /patients/ as the clinician (session, access gate, the list's queries, the template).
For each concurrency level, that many client threads in this process send --requests
requests in all, each on a new connection (as nginx talks to its upstream by default);
the servers take turns, --rounds times, so a noisy neighbour hurts both alike. Reported:
requests per second (requests / wall time of the batch), and p50 / p95 of each request's
time from connecting to the last byte. The client shares the machine's CPUs with the
server, so the rates are lower than a separate load generator would see.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SEED = """
import os
os.environ["DJANGO_SETTINGS_MODULE"] = "touchup.settings"
import django; django.setup()
from benchmarks import synthetic
synthetic.generate(patients=60, slug="serving", progress=lambda line: None)
print(synthetic.usernames("serving")["clinician"])
print(synthetic.PASSWORD)
"""
PAGES = (("/health/", False), ("/patients/", True))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks serving", description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=300, help="requests per page, server, level and round")
    ap.add_argument("--concurrency", default="1,8", help="client threads, comma-separated (default 1,8)")
    ap.add_argument("--rounds", type=int, default=2, help="turns each server takes (default 2)")
    ap.add_argument("--serve-args", default="", help="extra arguments for touchup serve")
    args = ap.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",") if c]
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="touchup-bench-serving-") as data:
        env = {**os.environ, "TOUCHUP_DATA_DIR": data, "PYTHONPATH": os.pathsep.join(
            p for p in (str(root / "src"), str(root), os.environ.get("PYTHONPATH", "")) if p)}
        for name in ("DATABASE_URL", "TOUCHUP_TESTING", "TOUCHUP_DEV", "TOUCHUP_TASKS_REDIS_URL",
                     "DJANGO_ALLOW_ASYNC_UNSAFE"):
            env.pop(name, None)
        touchup = [sys.executable, "-m", "touchup.cli"]
        subprocess.run([*touchup, "manage", "migrate", "-v0"], env=env, check=True)
        seeded = subprocess.run([sys.executable, "-c", SEED], env=env, check=True, cwd=root, capture_output=True,
                                text=True)
        username, password = seeded.stdout.strip().splitlines()[-2:]

        servers = {}
        try:
            port = _free_port()
            servers["touchup serve"] = _start(
                [*touchup, "serve", "--bind", f"127.0.0.1:{port}", *shlex.split(args.serve_args)], env, port, data)
            port = _free_port()
            servers["runserver (demo)"] = _start(
                [*touchup, "manage", "runserver", f"127.0.0.1:{port}", "--noreload"], env, port, data)
            cookies = {name: _sign_in(s["port"], username, password) for name, s in servers.items()}
            times: dict[tuple, list[float]] = {}
            walls: dict[tuple, list[float]] = {}
            for _ in range(args.rounds):
                for level in levels:
                    for path, signed_in in PAGES:
                        for name, s in servers.items():
                            cookie = cookies[name] if signed_in else None
                            _batch(s["port"], path, cookie, 20, level)  # warm-up
                            lat, wall = _batch(s["port"], path, cookie, args.requests, level)
                            times.setdefault((path, level, name), []).extend(lat)
                            walls.setdefault((path, level, name), []).append(wall)
        finally:
            for s in servers.values():
                s["proc"].terminate()
                s["proc"].wait(timeout=60)
    print(f"python {sys.version.split()[0]}, {len(os.sched_getaffinity(0))} CPUs; "
          f"{args.requests} requests x {args.rounds} rounds per row; serve args: {args.serve_args or '(defaults)'}")
    print(f"{'page':<12} {'clients':>7}  {'server':<18} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7}")
    for (path, level, name), lat in times.items():
        rate = args.requests * len(walls[(path, level, name)]) / sum(walls[(path, level, name)])
        lat.sort()
        p95 = lat[int(0.95 * (len(lat) - 1))]
        print(f"{path:<12} {level:>7}  {name:<18} {rate:>7.0f} {statistics.median(lat) * 1000:>7.1f} "
              f"{p95 * 1000:>7.1f}")
    return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cmd: list[str], env: dict, port: int, data: str) -> dict:
    log = open(Path(data) / f"server-{port}.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{' '.join(cmd[2:])} exited {proc.returncode}: see {log.name}")
        try:
            if _get(port, "/health/", None)[0] == 200:
                return {"proc": proc, "port": port}
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{' '.join(cmd[2:])} did not answer within 60 s")


def _get(port: int, path: str, cookie: str | None, method: str = "GET", body: str | None = None,
         headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers={**({"Cookie": cookie} if cookie else {}), **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def _sign_in(port: int, username: str, password: str) -> str:
    """The session cookie, from the real sign-in form."""
    status, headers, body = _get(port, "/accounts/login/", None)
    csrf = re.search(r"csrftoken=([^;]+)", headers["Set-Cookie"]).group(1)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
    form = f"csrfmiddlewaretoken={token}&login={username}&password={password.replace(' ', '+')}"
    status, headers, _ = _get(port, "/accounts/login/", f"csrftoken={csrf}", "POST", form,
                              {"Content-Type": "application/x-www-form-urlencoded"})
    session = re.search(r"sessionid=([^;]+)", " ".join(headers.get_all("Set-Cookie") or []))
    if status != 302 or session is None:
        raise SystemExit(f"signing in on port {port} failed ({status})")
    cookie = f"sessionid={session.group(1)}; csrftoken={csrf}"
    if _get(port, "/patients/", cookie)[0] != 200:
        raise SystemExit(f"/patients/ after signing in on port {port} did not answer 200")
    return cookie


def _batch(port: int, path: str, cookie: str | None, n: int, clients: int) -> tuple[list[float], float]:
    """`n` requests from `clients` threads: each request's seconds, and the batch's wall time."""
    latencies: list[float] = []
    failures: list[int] = []
    left = iter(range(n))
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                if next(left, None) is None:
                    return
            began = time.perf_counter()
            status = _get(port, path, cookie)[0]
            took = time.perf_counter() - began
            with lock:
                latencies.append(took)
                if status != 200:
                    failures.append(status)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    if failures:
        raise SystemExit(f"{path} on port {port}: {len(failures)} answers were not 200 ({sorted(set(failures))})")
    return latencies, wall
