"""`make run` = `manage.py serve`: one command prepares the database and the demo, starts the
web server and the job worker, prints the URL and the logins, and Ctrl-C stops both."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (local URL)
        return response.status, json.loads(response.read())


def children_of(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(proc.name))
    return found


def test_serve_runs_web_and_worker_then_stops_both_on_ctrl_c(tmp_path):
    port = free_port()
    env = dict(os.environ, RONDE_DATA_DIR=str(tmp_path), DEBUG="false")
    for name in ("DATABASE_URL", "RONDE_TESTING", "JOBS_EAGER", "JOBS_BACKEND"):
        env.pop(name, None)
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        body = None
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                status, body = get_json(f"http://127.0.0.1:{port}/api/health")
                if status == 200 and body["worker_seen_at"]:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert body and body["worker_seen_at"], (body, log.read_text())
        output = log.read_text()
        assert f"http://127.0.0.1:{port}/" in output
        assert "responsable" in output and "ronde-demo-2026" in output
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/connexion/", timeout=5)
        assert "Se connecter" in page.read().decode()
        assert_the_agents_app_is_served_hashed(f"http://127.0.0.1:{port}")
        workers = children_of(process.pid)
        assert len(workers) == 2
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's group
        assert process.wait(timeout=30) == 0, log.read_text()
        time.sleep(0.5)
        assert all(
            not Path(f"/proc/{pid}").exists()
            or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
            for pid in workers
        )
        assert "Ronde stopped." in log.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def fetch(url) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (local URL)
        assert response.status == 200, url
        return response.read().decode(errors="replace")


def assert_the_agents_app_is_served_hashed(base):
    """In production the app's modules import each other by their hashed names, which are the
    ones the service worker caches: otherwise the app would not open offline."""
    shell = fetch(f"{base}/terrain/")
    app = re.search(r'src="(/static/terrain/app\.[0-9a-f]{12}\.js)"', shell)[1]
    imports = re.findall(r'from "\./([^"]+)"', fetch(base + app))
    assert imports and all(re.fullmatch(r"\w+\.[0-9a-f]{12}\.js", name) for name in imports)
    worker = fetch(f"{base}/terrain/sw.js")
    cached = json.loads(re.search(r"const ASSETS = (\[.*?\]);", worker)[1])
    for name in imports:
        assert f"/static/terrain/{name}" in cached
    for url in cached:
        fetch(base + url)
    assert json.loads(fetch(f"{base}/manifest.json"))["scope"] == "/terrain/"
