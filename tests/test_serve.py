"""`touchup serve`: the real gunicorn process on a free port, over real HTTP, on a
migrated SQLite database in a data directory of its own."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_demo import _alive, _gone_within

# Put in query strings, a Referer and a User-Agent: none of it may reach a log.
MARK = "qsmark7f3a"
STATIC = Path(__file__).resolve().parents[1] / "src" / "touchup" / "web" / "static" / "touchup" / "touchup.css"


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "TOUCHUP_DATA_DIR": str(data_dir), **extra}
    for name in ("DATABASE_URL", "TOUCHUP_TESTING", "TOUCHUP_DEV", "ALLOWED_HOSTS", "SECRET_KEY",
                 "SECRET_KEY_FILE", "TOUCHUP_HTTPS", "TOUCHUP_TASKS_REDIS_URL",
                 "DJANGO_ALLOW_ASYNC_UNSAFE"):  # tests/conftest.py sets it; a deploy check refuses it
        if name not in extra:
            env.pop(name, None)
    return env


def _touchup(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "touchup.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


class Server:
    """A `touchup serve` process; stdout (the access log) and stderr kept in files."""

    def __init__(self, data_dir: Path, tmp: Path, *args: str, env: dict[str, str] | None = None):
        self.port = _free_port()
        self.out, self.err = tmp / f"serve-{self.port}.out", tmp / f"serve-{self.port}.err"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "touchup.cli", "serve", "--bind", f"127.0.0.1:{self.port}", *args],
                env=_env(data_dir, **(env or {})), stdout=out, stderr=err)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"touchup serve exited {self.proc.returncode}: {self.err.read_text()[-2000:]}")
            try:
                if self.request("GET", "/health/")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.proc.kill()
        pytest.fail("touchup serve did not answer within 60 s")

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()

    def logs(self) -> tuple[str, str]:
        return self.out.read_text(), self.err.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("serve-data")
    migrated = _touchup("manage", "migrate", "-v0", env=_env(data))
    assert migrated.returncode == 0, migrated.stderr
    return data


@pytest.fixture(scope="module")
def server(data_dir, tmp_path_factory):
    # As behind one TLS proxy (docs/self-hosting.md section 6).
    s = Server(data_dir, tmp_path_factory.mktemp("serve-logs"), env={"TOUCHUP_TRUSTED_PROXIES": "1"})
    yield s
    s.stop()


def test_health_answers(server):
    status, headers, body = server.request("GET", "/health/")
    assert status == 200 and b'"database": "ok"' in body
    assert headers["Server"].startswith("gunicorn")


def test_a_static_file_is_served_with_the_policies(server):
    status, headers, body = server.request("GET", "/static/touchup/touchup.css")
    assert status == 200 and body == STATIC.read_bytes()
    assert headers["Content-Type"].startswith("text/css")
    assert "default-src 'self'" in headers["Content-Security-Policy"]


def test_the_sign_in_page_carries_the_security_headers(server):
    status, headers, body = server.request("GET", "/accounts/login/")
    assert status == 200 and b"<form" in body
    csp = headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "camera=()" in headers["Permissions-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


def test_a_post_without_csrf_is_refused(server):
    status, _headers, _body = server.request(
        "POST", "/accounts/login/", body="login=doc&password=whatever",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403


def test_a_head_request_has_no_body_and_no_warning(server):
    status, headers, body = server.request("HEAD", "/accounts/login/")
    assert status == 200 and body == b""
    time.sleep(0.3)
    assert "no-body response" not in server.logs()[1]


def test_the_access_log_holds_no_query_string_referer_user_agent_or_token(server):
    spy = {"Referer": f"http://127.0.0.1/patients/?q={MARK}", "User-Agent": f"{MARK}-agent"}
    assert server.request("GET", f"/accounts/login/?next=/patients/%3Fq%3D{MARK}", headers=spy)[0] == 200
    assert server.request("GET", f"/health/?probe={MARK}", headers=spy)[0] == 200
    # The calendar feed's secret travels in its path; so do invitation tokens.
    server.request("GET", f"/calendar/{MARK}token.ics")
    server.request("GET", f"/portal/join/{MARK}token/")
    time.sleep(0.5)  # the access line is written after the answer
    out, err = server.logs()
    lines = [line for line in out.splitlines() if '"GET ' in line]
    assert any('"GET /accounts/login/ HTTP/1.1" 200' in line for line in lines), out
    assert any('"GET /calendar/….ics HTTP/1.1" 404' in line for line in lines), out
    assert any('"GET /portal/join/…/ HTTP/1.1"' in line for line in lines), out
    assert MARK not in out and "?" not in "".join(lines), out
    assert f"q={MARK}" not in err and f"{MARK}-agent" not in err


def test_the_access_log_names_the_client_the_trusted_proxy_forwarded(server):
    server.request("GET", "/health/?via=proxy", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.77"})
    server.request("GET", "/health/?via=direct")
    time.sleep(0.5)
    lines = [line for line in server.logs()[0].splitlines() if '"GET /health/ ' in line]
    assert any(line.startswith("203.0.113.77 ") for line in lines), lines
    assert any(line.startswith("127.0.0.1 ") for line in lines), lines
    assert not any("6.6.6.6" in line for line in lines), lines


def test_sigterm_stops_it_within_seconds(data_dir, tmp_path):
    s = Server(data_dir, tmp_path, "--workers", "2")
    try:
        deadline = time.monotonic() + 30  # /health/ answered from the first; the second may still be booting
        while len(_children(s.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _children(s.proc.pid)
        assert len(workers) == 2, workers
        began = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(timeout=30) == 0
        # Idle, it takes 1-3 s (gthread's 1 s poll, twice); on a loaded 2-core box up to 7 s was seen.
        assert time.monotonic() - began < 10
        assert _gone_within(workers, 5) and not any(_alive(pid) for pid in workers)
        with pytest.raises(OSError):
            s.request("GET", "/health/")
        assert "Handling signal: term" in s.logs()[1]
    finally:
        s.stop()


def test_it_refuses_to_start_with_unapplied_migrations(tmp_path):
    port = _free_port()
    result = _touchup("serve", "--bind", f"127.0.0.1:{port}", env=_env(tmp_path / "fresh"), timeout=120)
    assert result.returncode == 2, result.stderr
    assert "not applied" in result.stderr and "touchup manage migrate" in result.stderr
    with socket.socket() as s:  # nothing listens
        assert s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("args, env, says", [
    ((), {"TOUCHUP_DEV": "1"}, "TOUCHUP_DEV"),
    (("--dev", "--bind", "0.0.0.0:{port}"), {"TOUCHUP_DEV": "1", "ALLOWED_HOSTS": "touchup.example"},
     "only for a local bind"),
    (("--bind", "0.0.0.0:{port}"), {}, "ALLOWED_HOSTS"),
    ((), {"SECRET_KEY": "short"}, "secret key (from SECRET_KEY) is weak"),
    (("--bind", "8000"), {}, "HOST:PORT"),
])
def test_it_refuses_an_unsafe_set_up_and_says_what_to_set(data_dir, args, env, says):
    port = _free_port()
    args = [a.format(port=port) for a in args]
    if "--bind" not in args:
        args += ["--bind", f"127.0.0.1:{port}"]
    result = _touchup("serve", *args, env=_env(data_dir, **env), timeout=120)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr, result.stderr


def test_dev_is_allowed_on_a_local_bind_only():
    from touchup.commands.serve import bind_host, is_local

    assert is_local(bind_host("127.0.0.1:8000")) and is_local(bind_host("[::1]:8000"))
    assert is_local(bind_host("localhost:8000")) and is_local(bind_host("unix:/run/touchup.sock"))
    assert not is_local(bind_host("0.0.0.0:8000")) and not is_local(bind_host("192.168.1.5:80"))
    assert not is_local(bind_host("touchup.example:80"))
    for bad in ("8000", "127.0.0.1:", "127.0.0.1:99999", "unix:"):
        with pytest.raises(ValueError):
            bind_host(bad)


def test_the_mail_server_is_set_from_the_environment(tmp_path):
    """A self-hosted clinic sends email through its provider's SMTP server (docs/self-hosting.md)."""
    (tmp_path / "pw").write_text("s3cret\n")
    env = _env(tmp_path, EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="smtp.example",
               EMAIL_PORT="587", EMAIL_HOST_USER="clinic", EMAIL_HOST_PASSWORD_FILE=str(tmp_path / "pw"),
               EMAIL_USE_TLS="1")
    shown = subprocess.run([sys.executable, "-c", (
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'touchup.settings'; import django; django.setup(); "
        "from django.core.mail import get_connection; c = get_connection(); "
        "print(type(c).__name__, c.host, c.port, c.username, c.password, c.use_tls, c.use_ssl, c.timeout)")],
        env=env, capture_output=True, text=True, timeout=120)
    assert shown.stdout.split() == ["EmailBackend", "smtp.example", "587", "clinic", "s3cret", "True", "False", "30"], \
        shown.stderr
