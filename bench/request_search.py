"""Benchmark: finding a request among 500,000 (its own process, one engine per run).

    python bench/request_search.py sqlite
    DATABASE_URL=postgres://... python bench/request_search.py postgres

500,000 requests over ten years in 300 residences (plain INSERTs, not timed), each with the
search column the services write (tickets.services.search_text_of: reference, residence name,
address and city, entrance address, door, tenant's names, household). Measured, each as the
median of N runs, through the requests page's own search (tickets.views.search) on an
unscoped queryset, as the page asks it (the count for the pager, then the first 30 by date),
among every request (the page with a status chosen) and among the open ones (its default):
- the reference lookup (exact, the unique index);
- a tenant's name (one word, in about 1 row in 85);
- an address (two words, in about 1 row in 8);
next to the reference operation: one request fetched by primary key. On PostgreSQL, the name
and address searches are measured without, then with the trigram index of migration
tickets 0002 (its build time too). Prints one JSON line.
"""

import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROWS = int(os.environ.get("BENCH_REQUESTS", "500000"))
RESIDENCES = 300
PK_RUNS = 200
SEARCH_RUNS = 15
SEARCHES = {
    "reference": None,  # a reference in the middle of the table, set by build()
    "tenant": "Haddad",
    "address": "jean jaurès",
}


def median_seconds(fn, runs: int) -> float:
    fn()  # warm
    times = []
    for n in range(runs):
        start = time.perf_counter()
        fn(n)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build(rows: int) -> str:
    from django.db import connection
    from django.utils import timezone

    from backend.core.bulk import insert_rows
    from backend.core.demo import (
        CITIES_NORTH,
        CITIES_SOUTH,
        FIRST_NAMES,
        LAST_NAMES,
        RESIDENCE_NAMES,
        STREETS,
    )
    from backend.core.text import join_for_search, normalise
    from backend.estate import models as m
    from tickets.models import CATEGORY_RULES, Request

    rng = random.Random(7)
    org = m.Organisation.objects.create(code="BRS", name="Bench")
    agency = m.Agency.objects.create(organisation=org, code="01", name="Agence")
    cities = CITIES_NORTH + CITIES_SOUTH
    residences = m.Residence.objects.bulk_create(
        [
            m.Residence(
                agency=agency,
                organisation=org,
                code=f"R{n:03}",
                name=f"{RESIDENCE_NAMES[n % len(RESIDENCE_NAMES)]} {n // len(RESIDENCE_NAMES) + 1}",
                address=f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
                postcode=(city := rng.choice(cities))[1],
                city=city[0],
                units_count=100,
            )
            for n in range(RESIDENCES)
        ]
    )
    categories = list(CATEGORY_RULES)
    now = timezone.now()
    start = now - timedelta(days=3650)
    step = (now - start) / rows
    counters: dict[int, int] = {}
    middle = ""
    # join_for_search of the parts, each part normalised once (the same text: checked below).
    places = [normalise(f"{r.name} {r.address} {r.city}") for r in residences]
    streets = [normalise(s) for s in STREETS]
    firsts = [normalise(n) for n in FIRST_NAMES]
    lasts = [normalise(n) for n in LAST_NAMES]

    def generate():
        nonlocal middle
        for n in range(rows):
            created = start + step * n
            year = timezone.localdate(created).year
            counters[year] = counters.get(year, 0) + 1
            reference = f"D{year}-{counters[year]:06d}"
            if n == rows // 2:
                middle = reference
            place = rng.randrange(RESIDENCES)
            street = rng.randrange(len(STREETS))
            number, door = rng.randint(1, 90), f"{rng.randint(0, 9)}{rng.randint(1, 4):02d}"
            first, last = rng.randrange(len(FIRST_NAMES)), rng.randrange(len(LAST_NAMES))
            text = (
                f"d{year} {counters[year]:06d} {places[place]} {number} {streets[street]} "
                f"{door} {firsts[first]} {lasts[last]} foyer {lasts[last]}"
            )[:600]
            if n < 100:
                residence = residences[place]
                assert (
                    text
                    == join_for_search(
                        reference,
                        residence.name,
                        residence.address,
                        residence.city,
                        f"{number} {STREETS[street]}",
                        door,
                        FIRST_NAMES[first],
                        LAST_NAMES[last],
                        f"Foyer {LAST_NAMES[last]}",
                    )[:600]
                ), text
            category = rng.choice(categories)
            rule = CATEGORY_RULES[category]
            yield (
                uuid.UUID(int=rng.getrandbits(128), version=4),
                reference,
                org.pk,
                residences[place].pk,
                rule.kind,
                category,
                rule.team,
                rule.urgency,
                "landlord",
                "Demande de banc d'essai",
                "phone",
                "closed" if n < rows - 2000 else "acknowledged",
                "",
                "",
                "",
                created,
                created + timedelta(days=3),
                False,
                text,
            )

    insert_rows(
        Request,
        [
            "id",
            "reference",
            "organisation",
            "residence",
            "kind",
            "category",
            "team",
            "urgency",
            "payer",
            "description",
            "channel",
            "status",
            "contact_name",
            "contact_phone",
            "contact_email",
            "created_at",
            "updated_at",
            "on_call",
            "search_text",
        ],
        generate(),
        batch=5000,
    )
    if connection.vendor == "postgresql":
        # As autovacuum would have. Not on SQLite: nothing runs ANALYZE there in production,
        # and with its statistics (averages, no histogram) SQLite takes the status filter of
        # the page's default (open requests, 0.4 % of the rows) for unselective and walks the
        # whole date index instead (about 0.3 s for a rare name).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return middle


def main(engine: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="ronde-bench-") as data_dir:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
        os.environ["RONDE_DATA_DIR"] = data_dir
        os.environ["DEBUG"] = "false"
        if engine == "sqlite":
            os.environ["DATABASE_URL"] = f"sqlite:///{data_dir}/db.sqlite3"
        return run(engine)


def run(engine: str) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection, transaction

    from tickets.models import OPEN_STATUSES, Request
    from tickets.views import search

    open_requests = Request.objects.filter(status__in=OPEN_STATUSES)

    indexed = False
    if connection.vendor == "postgresql":
        # Built after the rows (as CREATE INDEX on a full table), so that both are measured.
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('request_search_trgm') IS NOT NULL")
            indexed = cursor.fetchone()[0]
            cursor.execute("DROP INDEX IF EXISTS request_search_trgm")
    started = time.perf_counter()
    with transaction.atomic():
        SEARCHES["reference"] = build(ROWS)
    result = {
        "engine": engine,
        "requests": ROWS,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    # One row, warm, as each search is asked again and again: the ratios compare the queries,
    # not the cache.
    pk = Request.objects.values_list("pk", flat=True).first()  # the latest one

    def by_pk(n=0):
        return Request.objects.get(pk=pk)

    result["pk_seconds"] = median_seconds(by_pk, PK_RUNS)

    def measure(suffix=""):
        # Every status (the page with a status chosen, "closed" being nearly all of them), and
        # the page's default, the open requests (about 2,000 here).
        for name, query in SEARCHES.items():
            for scope, requests in (("", Request.objects.all()), ("_open", open_requests)):
                if scope and name == "reference":
                    continue
                found = search(requests, query)
                total = found.count()
                assert total > 0, (name, query)
                page = list(found.order_by("-created_at")[:30])
                assert len(page) == min(30, total)
                key = f"{name}{scope}"
                result[f"{key}_matches"] = total
                result[f"{key}_count{suffix}_seconds"] = median_seconds(
                    lambda n=0, found=found: found.count(), SEARCH_RUNS
                )
                result[f"{key}_page{suffix}_seconds"] = median_seconds(
                    lambda n=0, found=found: list(found.order_by("-created_at")[:30]), SEARCH_RUNS
                )
                result[f"{key}_plan{suffix}"] = " | ".join(
                    line.strip() for line in found.explain().splitlines()[:4]
                )[:300]

    if connection.vendor == "postgresql":
        result["trigram_index"] = indexed
        if indexed:  # the migration could create it
            measure("_no_trigram")
            with connection.cursor() as cursor:
                start = time.perf_counter()
                cursor.execute(
                    "CREATE INDEX request_search_trgm ON tickets_request "
                    "USING gin (search_text gin_trgm_ops)"
                )
                cursor.execute("ANALYZE tickets_request")
                result["trigram_index_build_seconds"] = round(time.perf_counter() - start, 1)
                cursor.execute(
                    "SELECT pg_relation_size('tickets_request'), "
                    "pg_relation_size('request_search_trgm')"
                )
                table, index = cursor.fetchone()
                result["table_mb"] = round(table / 2**20)
                result["trigram_index_mb"] = round(index / 2**20)
    measure()
    for key in [
        k for k in result if k.endswith("_seconds") and "build" not in k and k != "pk_seconds"
    ]:
        result[key.replace("_seconds", "_over_pk")] = round(result[key] / result["pk_seconds"], 1)
    for key, value in list(result.items()):
        if key.endswith("_seconds") and "build" not in key:
            result[key] = round(value, 5)
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite")))
