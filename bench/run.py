"""Benchmarks (make bench). Ratios measured in one run, on one machine: never timed tests.

1. units list: the scoped list of 3,000 units through the API (six pages of 500, bearer token,
   an advisor's scope) against a trivial JSON endpoint served by the same gunicorn.
2. outbox write: a campaign's outbox for 20,000 and 100,000 recipients against a raw bulk
   insert of the same rows, with peak memory (bench/outbox_write.py, one process per size).
3. send throughput: SMS sent per second against the Twilio double with 1, 2 and 4 workers,
   next to the double's own capacity (bench/send_throughput.py).
4. inspection rates: the manager's rates over 1,000,000 answers spread over 5 years, on SQLite
   and PostgreSQL, against a plain COUNT(*) of the same table (bench/inspection_rates.py).

5. sync pulls: the agents' app's first pull of a sector of 30 residences / 3,000 units (server
   time, size gzipped), and a delta with one change over 10,000 vs 1,000,000 rows of history
   (bench/sync_pull.py), on SQLite and PostgreSQL.
6. app shell: the agents' app's JS + CSS gzipped, and a Lighthouse run (mobile) of /terrain/
   served by gunicorn as in production (Lighthouse fetched by npx on first use).
7. request search: the requests page's search among 500,000 requests (a reference, a tenant's
   name, an address) against a lookup by primary key, on SQLite and PostgreSQL, with and
   without PostgreSQL's trigram index (bench/request_search.py).

`python bench/run.py units` (or outbox, send, rates, pull, app, search) runs one of them.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env, *args, capture=False):
    return subprocess.run(
        [PY, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        capture_output=capture,
    ).stdout


def wait_until_up(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/version")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def measure(port: int, paths: list[str], headers: dict, rounds: int) -> tuple[float, int, int]:
    """(seconds, requests, items) for `rounds` passes over `paths` on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    requests = items = 0
    start = time.perf_counter()
    for _ in range(rounds):
        for path in paths:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
            requests += 1
            items += len(json.loads(body).get("items", []))
    return time.perf_counter() - start, requests, items


def run_script(name: str, *args: str, env: dict | None = None) -> dict:
    """Run a benchmark script of bench/ in its own process; its last line is its JSON result."""
    out = subprocess.run(
        [PY, str(ROOT / "bench" / name), *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def engines() -> list[tuple[str, dict]]:
    found = [("sqlite", {})]
    if os.environ.get("TEST_POSTGRES_URL"):
        found.append(("postgres", {"DATABASE_URL": os.environ["TEST_POSTGRES_URL"]}))
    else:
        print("\n(no TEST_POSTGRES_URL: SQLite only; `make bench` starts PostgreSQL)")
    return found


def units_list() -> dict:
    with tempfile.TemporaryDirectory(prefix="ronde-bench-") as data_dir:
        env = dict(
            os.environ,
            RONDE_DATA_DIR=data_dir,
            DEBUG="false",
            DEMO_MODE="true",
            DATABASE_URL=f"sqlite:///{data_dir}/db.sqlite3",
        )
        env.pop("RONDE_TESTING", None)
        print("Preparing the demo data (3,000 units)...", flush=True)
        manage(env, "migrate", "--verbosity", "0")
        manage(env, "load_demo")
        key = (
            manage(
                env,
                "shell",
                "-c",
                "from backend.accounts.models import ApiToken, User;"
                "print(ApiToken.issue(User.objects.get(username='conseiller'), 'bench')[1])",
                capture=True,
            )
            .strip()
            .splitlines()[-1]
        )
        port = free_port()
        server = subprocess.Popen(
            [
                str(Path(PY).parent / "gunicorn"),
                "backend.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "1",
                "--worker-class",
                "gthread",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        try:
            wait_until_up(port)
            auth = {"Authorization": f"Bearer {key}"}
            pages = [f"/api/estate/units?limit=500&offset={o}" for o in range(0, 3000, 500)]
            measure(port, pages, auth, 1)  # warm-up
            measure(port, ["/api/version"], {}, 50)
            t_list, n_list, items = measure(port, pages, auth, 10)
            t_triv, n_triv, _ = measure(port, ["/api/version"], {}, 500)
        finally:
            server.terminate()
            server.wait(timeout=20)
    assert items == 30000, items
    result = {
        "units_per_list": items // 10,
        "list_pages_per_second": round(n_list / t_list, 1),
        "full_list_seconds": round(t_list / 10, 3),
        "units_per_second": round(items / t_list),
        "trivial_requests_per_second": round(n_triv / t_triv, 1),
        "ratio_trivial_over_page": round((n_triv / t_triv) / (n_list / t_list), 1),
        "ratio_trivial_over_full_list": round((n_triv / t_triv) / (10 / t_list), 1),
    }
    print()
    print(
        "Scoped list of 3,000 units through the API (advisor of both agencies, scoped, bearer token, pages of 500)"
    )
    print(f"  trivial JSON endpoint    {result['trivial_requests_per_second']:>8} requests/s")
    print(f"  units page (500 units)   {result['list_pages_per_second']:>8} requests/s")
    print(
        f"  whole list (6 pages)     {result['full_list_seconds']:>8} s  ({result['units_per_second']} units/s)"
    )
    print(f"  ratio trivial / page     {result['ratio_trivial_over_page']:>8}")
    print(f"  ratio trivial / list     {result['ratio_trivial_over_full_list']:>8}")
    return result


def outbox_write() -> dict:
    results = {}
    for size in (20000, 100000):
        results[size] = run_script("outbox_write.py", str(size))
    print()
    print(
        "Campaign outbox write (render + insert, chunked commits) vs a raw bulk insert of the same rows"
    )
    for size, r in results.items():
        print(
            f"  {size:>7} recipients   {r['fan_out_seconds']:>6} s vs {r['raw_insert_seconds']:>6} s raw"
            f"   ratio {r['ratio']:>5}   peak Python memory {r['peak_traced_mb']} MB"
        )
    return results


def send_throughput() -> dict:
    result = run_script("send_throughput.py", "300")
    print()
    print("SMS sending against the Twilio double (real SDK), rate limit lifted")
    for key, value in result.items():
        print(f"  {key:<36} {value:>7}")
    return result


def inspection_rates() -> dict:
    """The manager's rates over 1,000,000 answers, on SQLite and (inside scripts/with-services.sh,
    as `make bench` runs it) on PostgreSQL."""
    results = {
        engine: run_script("inspection_rates.py", engine, env=extra) for engine, extra in engines()
    }
    print()
    print(
        "Inspection rates over ~1,000,000 answers (5 years), best of 3, vs SELECT COUNT(*) of the answers"
    )
    for engine, r in results.items():
        print(f"  {engine} ({r['answers']} answers, built in {r['build_seconds']} s)")
        print(f"    COUNT(*)                       {r['count_seconds']:>8} s")
        for key in (
            "rates_by_residence",
            "rates_by_provider",
            "rates_by_agent",
            "rates_5_years",
            "under_controlled",
            "dashboard_page",
        ):
            print(f"    {key:<30} {r[key + '_seconds']:>8} s   ratio {r[key + '_over_count']:>7}")
    return results


def sync_pull() -> dict:
    """The agents' app's first pull and a one-change delta over a small and a huge history."""
    results = {engine: run_script("sync_pull.py", engine, env=extra) for engine, extra in engines()}
    print()
    print("Sync pulls: a sector of 30 residences / 3,000 units (server time through the API)")
    for engine, r in results.items():
        print(f"  {engine}")
        print(
            f"    first pull      {r['first_pull_seconds']:>8} s  {r['first_pull_pages']} pages, "
            f"{r['first_pull_records']} records, {r['first_pull_kb']} KB, "
            f"{r['first_pull_gzip_kb']} KB gzipped (budget 1 s, 300 KB)"
        )
        print(
            f"    delta, 1 change over 10,000 rows    {r['delta_10000_seconds']:>8} s "
            f"({r['delta_10000_queries']} queries)"
        )
        print(
            f"    delta, 1 change over 1,000,000 rows {r['delta_1000000_seconds']:>8} s "
            f"({r['delta_1000000_queries']} queries)   ratio {r['delta_ratio_1m_over_10k']}"
        )
    return results


def request_search() -> dict:
    """The requests page's search among 500,000 requests, against a lookup by primary key."""
    results = {
        engine: run_script("request_search.py", engine, env=extra) for engine, extra in engines()
    }
    print()
    print(
        "Request search among 500,000 requests (tickets.views.search: the pager's count, then "
        "the first 30 by date), median, vs one request by primary key"
    )
    for engine, r in results.items():
        print(
            f"  {engine} ({r['requests']} requests, built in {r['build_seconds']} s), "
            f"by primary key {r['pk_seconds'] * 1000:.2f} ms"
        )
        variants = [("", "")]
        if r.get("trigram_index"):
            variants = [("_no_trigram", " (no trigram index)"), ("", " (trigram index)")]
        for name in ("reference", "tenant", "address", "tenant_open", "address_open"):
            for suffix, label in variants:
                count, page = r[f"{name}_count{suffix}_seconds"], r[f"{name}_page{suffix}_seconds"]
                print(
                    f"    {name + label:<38} count {count * 1000:>8.2f} ms "
                    f"(ratio {r[f'{name}_count{suffix}_over_pk']:>6})   first page "
                    f"{page * 1000:>7.2f} ms (ratio {r[f'{name}_page{suffix}_over_pk']:>5})"
                    f"   {r[f'{name}_matches']} found"
                )
        if r.get("trigram_index"):
            print(
                f"    trigram index built in {r['trigram_index_build_seconds']} s, "
                f"{r['trigram_index_mb']} MB (table {r['table_mb']} MB)"
            )
    return results


def app_shell() -> dict:
    """The shell's weight (what the service worker caches, minus the icons) and Lighthouse."""
    import gzip

    static = ROOT / "pwa" / "static" / "terrain"
    files = sorted([*static.glob("*.js"), *static.glob("*.css")])
    shell_gz = sum(len(gzip.compress(f.read_bytes(), 9)) for f in files)
    result = {
        "shell_files": [f.name for f in files],
        "shell_js_css_gzip_kb": round(shell_gz / 1024, 1),
    }
    print()
    print(f"App shell: JS + CSS {result['shell_js_css_gzip_kb']} KB gzipped (budget 100 KB)")
    with tempfile.TemporaryDirectory(prefix="ronde-bench-") as data_dir:
        env = dict(
            os.environ,
            RONDE_DATA_DIR=data_dir,
            DEBUG="false",
            DATABASE_URL=f"sqlite:///{data_dir}/db.sqlite3",
        )
        env.pop("RONDE_TESTING", None)
        manage(env, "migrate", "--verbosity", "0")
        manage(env, "collectstatic", "--no-input", "--verbosity", "0")
        port = free_port()
        server = subprocess.Popen(
            [PY, "-m", "gunicorn", "backend.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up(port)
            report = Path(data_dir) / "lighthouse.json"
            subprocess.run(
                [
                    "npx",
                    "--yes",
                    "lighthouse@12.8.2",
                    f"http://127.0.0.1:{port}/terrain/",
                    "--only-categories=performance,accessibility,best-practices",
                    "--form-factor=mobile",
                    "--output=json",
                    f"--output-path={report}",
                    "--quiet",
                    "--chrome-flags=--headless --no-sandbox --disable-gpu --no-first-run "
                    "--disable-background-networking --disable-component-update --disable-sync",
                ],
                cwd=ROOT,
                env={
                    **os.environ,
                    "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium"),
                },
                check=True,
            )
            data = json.loads(report.read_text())
        finally:
            server.terminate()
            server.wait(timeout=30)
    for name, category in data["categories"].items():
        if category.get("score") is not None:
            result[f"lighthouse_{name}"] = round(category["score"] * 100)
    audits = data["audits"]
    for audit in ("first-contentful-paint", "largest-contentful-paint", "total-blocking-time"):
        result[audit] = audits[audit]["displayValue"]
    print(
        "Lighthouse 12.8.2 (mobile, simulated throttling): "
        + ", ".join(
            f"{k.removeprefix('lighthouse_')} {v}"
            for k, v in result.items()
            if k.startswith("lighthouse_")
        )
        + f"; FCP {result['first-contentful-paint']}, LCP {result['largest-contentful-paint']}"
        + " (budget: performance 90, accessibility 100)"
    )
    return result


BENCHMARKS = {
    "units": units_list,
    "outbox": outbox_write,
    "send": send_throughput,
    "rates": inspection_rates,
    "pull": sync_pull,
    "app": app_shell,
    "search": request_search,
}


def main(names: list[str]) -> int:
    results = {name: BENCHMARKS[name]() for name in (names or BENCHMARKS)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    print(f"\nWritten to {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
