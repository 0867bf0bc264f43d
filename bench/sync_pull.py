"""Benchmark: the agents' app's pulls (its own process, one engine per run).

    python bench/sync_pull.py sqlite
    DATABASE_URL=postgres://... python bench/sync_pull.py postgres

A sector of 30 residences and 3,000 units (2 buildings x 2 entrances x 25 units each), a week
of planned visits, the default grid. Measured through the API (django test client, so server
time only, JSON rendering included):
- the first pull: every page of the snapshot, its total server time, its size raw and gzipped;
- a delta pull bringing one change, with 10,000 then 1,000,000 rows of change history (other
  organisations' changes, as on a shared server), best of 5; the ratio of the two.
Prints one JSON line.
"""

import gzip
import json
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RESIDENCES = 30
UNITS_PER_ENTRANCE = 25


def build():
    from django.utils import timezone

    from backend.accounts.models import Role, User
    from backend.estate import models as m
    from inspections.grids import ensure_default_grid
    from inspections.models import Visit
    from inspections.services import grid_for

    ensure_default_grid()
    org = m.Organisation.objects.create(code="B", name="Bench")
    agency = m.Agency.objects.create(organisation=org, code="01", name="Agence")
    sector = m.Sector.objects.create(agency=agency, name="Secteur")
    residences = []
    for n in range(RESIDENCES):
        residence = m.Residence.objects.create(
            agency=agency,
            code=f"R{n:03}",
            name=f"Résidence {n:03}",
            address=f"{n} rue des Lilas",
            postcode="37000",
            city="Tours",
            units_count=100,
        )
        residences.append(residence)
        for b in range(2):
            building = m.Building.objects.create(
                residence=residence, code=f"B{b}", name=f"Bâtiment {b}"
            )
            for e in range(2):
                entrance = m.Entrance.objects.create(
                    building=building, code=f"E{e}", name=f"Entrée {e}"
                )
                m.Unit.objects.bulk_create(
                    m.Unit(
                        entrance=entrance,
                        residence=residence,
                        code=f"{residence.code}-{b}{e}{u:02}",
                        floor=u // 4,
                        door=str(u),
                    )
                    for u in range(UNITS_PER_ENTRANCE)
                )
    sector.residences.set(residences)
    agent = User.objects.create_user(
        "agent", password="x", role=Role.AGENT, organisation=org, first_name="A", last_name="Gent"
    )
    agent.sectors.set([sector])
    today = timezone.localdate()
    Visit.objects.bulk_create(
        Visit(
            organisation=org,
            residence=r,
            grid_version=grid_for(r, None),
            agent=agent,
            planned_for=today + timedelta(days=n % 7),
        )
        for n, r in enumerate(residences)
    )
    return agent, residences


def history(rows: int) -> None:
    """Top the change feed up to `rows` rows: other organisations' changes."""
    from backend.sync.models import Change

    missing = rows - Change.objects.count()
    batch = 20000
    while missing > 0:
        size = min(batch, missing)
        Change.objects.bulk_create(
            Change(
                kind="unit", record_id=str(n), residence_id=10**6 + n % 500, organisation_id=10**6
            )
            for n in range(size)
        )
        missing -= size


def main(engine: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="ronde-bench-") as data_dir:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
        os.environ["RONDE_DATA_DIR"] = data_dir
        os.environ["DEBUG"] = "false"
        os.environ["ALLOWED_HOSTS"] = "testserver"  # the test client's host
        if engine == "sqlite":
            os.environ["DATABASE_URL"] = f"sqlite:///{data_dir}/db.sqlite3"
        return run(engine)


def run(engine: str) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from backend.estate.models import Entrance

    agent, residences = build()
    client = Client(HTTP_X_RONDE_DEVICE="5d6c1d52-6c0e-4a53-9a6c-3f3f3f3f3f3f")
    client.force_login(agent)

    def get(cursor, known=""):
        response = client.get("/api/sync/pull", {"cursor": cursor, "known": known})
        assert response.status_code == 200, response.content[:300]
        return response

    def first_pull():
        cursor, pages, raw, zipped, records, seconds = "", 0, 0, 0, 0, 0.0
        while True:
            start = time.perf_counter()
            response = get(cursor)
            seconds += time.perf_counter() - start
            body = response.content
            page = json.loads(body)
            pages += 1
            raw += len(body)
            zipped += len(gzip.compress(body, 6))
            records += len(page["records"])
            cursor = page["cursor"]
            if not page["more"]:
                return {
                    "seconds": seconds,
                    "pages": pages,
                    "records": records,
                    "bytes": raw,
                    "gzip_bytes": zipped,
                    "cursor": cursor,
                    "scope": page["scope"],
                }

    snapshots = [first_pull() for _ in range(3)]
    snapshot = min(snapshots, key=lambda s: s["seconds"])
    result = {
        "engine": engine,
        "first_pull_seconds": round(snapshot["seconds"], 3),
        "first_pull_pages": snapshot["pages"],
        "first_pull_records": snapshot["records"],
        "first_pull_kb": round(snapshot["bytes"] / 1024, 1),
        "first_pull_gzip_kb": round(snapshot["gzip_bytes"] / 1024, 1),
    }
    known = ",".join(str(r) for r in snapshot["scope"])
    entrance = Entrance.objects.filter(residence=residences[0]).first()
    for rows in (10_000, 1_000_000):
        history(rows)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE sync_change")
        cursor = first_pull()["cursor"]
        entrance.name = f"Entrée {rows}"
        entrance.save()  # the one change the delta brings
        times = []
        for _ in range(5):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                page = json.loads(get(cursor, known).content)
                times.append(time.perf_counter() - start)
            assert [r["d"]["name"] for r in page["records"] if r["t"] == "entrance"] == [
                entrance.name
            ], page
        result[f"delta_{rows}_records"] = len(page["records"])
        if os.environ.get("BENCH_EXPLAIN"):
            for q in queries.captured_queries:
                start = time.perf_counter()
                with connection.cursor() as c:
                    c.execute(q["sql"])
                    c.fetchall()
                print(round(time.perf_counter() - start, 4), q["sql"][:300], file=sys.stderr)
        result[f"delta_{rows}_seconds"] = round(min(times), 5)
        result[f"delta_{rows}_queries"] = len(queries)
    result["delta_ratio_1m_over_10k"] = round(
        result["delta_1000000_seconds"] / result["delta_10000_seconds"], 2
    )
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite")))
