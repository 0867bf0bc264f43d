"""Benchmark: the manager's rates over 1,000,000 answers spread over 5 years (its own process).

    python bench/inspection_rates.py sqlite
    DATABASE_URL=postgres://... python bench/inspection_rates.py postgres

200 residences inspected weekly for 5 years with a 20-item grid (about 52,000 visits and
1,040,000 answers, one rework in ten visits, penalties). Measured, each as the best of 3 runs:
the rates of the last 12 months by residence, provider and agent (rates.compute), the
under-controlled residences, the whole dashboard page (queries and rendering), and, as the
reference, a plain `SELECT COUNT(*)` over the answers table. Prints one JSON line.
"""

import json
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RESIDENCES = 200
YEARS = 5
ITEMS = 20


def best_of(fn, rounds=3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def build():
    """The estate and five years of inspections, with bulk inserts (not timed)."""
    from django.db import connection
    from django.utils import timezone

    from backend.accounts.models import Role, User
    from backend.estate import models as m
    from inspections import grids
    from inspections.models import Answer, Grid, Item, Penalty, Rework, Visit

    rng = random.Random(4)
    org = m.Organisation.objects.create(code="B", name="Bench")
    agencies = [
        m.Agency.objects.create(organisation=org, code=f"0{n}", name=f"Agence {n}") for n in (1, 2)
    ]
    residences = m.Residence.objects.bulk_create(
        [
            m.Residence(
                agency=agencies[n % 2],
                organisation=org,
                code=f"R{n:03}",
                name=f"Résidence {n:03}",
                address="1 rue",
                postcode="37000",
                city="Tours",
                units_count=rng.choice([24, 60, 120, 300]),
                inspection_frequency=7,
            )
            for n in range(RESIDENCES)
        ]
    )
    providers = [
        m.Provider.objects.create(organisation=org, name=f"Prestataire {n}", kind="cleaning")
        for n in (1, 2)
    ]
    contracts = [
        m.ProviderContract.objects.create(
            provider=p,
            reference=f"MEN-{n}",
            categories=["cleaning"],
            start_date=date(2018, 1, 1),
            penalty_per_day=50,
        )
        for n, p in enumerate(providers)
    ]
    m.ContractSite.objects.bulk_create(
        [m.ContractSite(contract=contracts[n % 2], residence=r) for n, r in enumerate(residences)]
    )
    agents = []
    for n in range(10):
        sector = m.Sector.objects.create(agency=agencies[n % 2], name=f"Secteur {n}")
        sector.residences.set(residences[n::10])
        agent = User.objects.create(username=f"agent{n}", role=Role.AGENT, organisation=org)
        agent.sectors.set([sector])
        agents.append(agent)
    manager = User.objects.create(username="responsable", role=Role.MANAGER, organisation=org)
    manager.agencies.set(agencies)
    text = "".join(
        f"# Zone {z}\n" + "".join(f"Point {z}.{i} | {1 + i % 3}\n" for i in range(5))
        for z in range(4)
    )
    version = grids.publish(
        Grid.objects.create(organisation=org, name="Grille", category="cleaning"), text
    )
    items = list(Item.objects.filter(zone__version=version))
    assert len(items) == ITEMS
    today = timezone.localdate()
    values = ["compliant"] * 16 + ["minor"] * 3 + ["major", "na"]
    answers_total = 0
    for chunk in range(0, RESIDENCES, 20):
        visits, answers, reworks, penalties = [], [], [], []
        for index in range(chunk, chunk + 20):
            residence = residences[index]
            day = today - timedelta(days=365 * YEARS) + timedelta(days=index % 7)
            while day < today:
                at = timezone.make_aware(
                    datetime.combine(day, datetime.min.time()) + timedelta(hours=9)
                )
                visit = Visit(
                    organisation=org,
                    residence=residence,
                    grid_version=version,
                    contract=contracts[index % 2],
                    agent=agents[index % 10],
                    planned_for=day,
                    status=Visit.Status.DONE,
                    started_at=at,
                    finished_at=at + timedelta(minutes=20),
                    score=Decimal(rng.randint(600, 1000)) / 10,
                    passed=True,
                )
                visits.append(visit)
                for item in items:
                    answers.append(
                        Answer(visit=visit, item=item, value=rng.choice(values), answered_at=at)
                    )
                if rng.random() < 0.1:
                    answer = answers[-1]
                    answer.value, answer.cause = "major", "service"
                    rework = Rework(
                        visit=visit,
                        answer=answer,
                        residence=residence,
                        contract=contracts[index % 2],
                        provider=providers[index % 2],
                        requested_at=at,
                        deadline=at + timedelta(hours=48),
                        done_at=at + timedelta(hours=rng.randint(4, 80)),
                        status=rng.choice(["lifted"] * 9 + ["not_lifted"]),
                        checked_at=at + timedelta(hours=90),
                    )
                    reworks.append(rework)
                    if rework.status == "not_lifted":
                        penalties.append(
                            Penalty(
                                rework=rework,
                                residence=residence,
                                contract=rework.contract,
                                provider=rework.provider,
                                reason="not_lifted",
                                days_late=1,
                                amount=50,
                                status="confirmed",
                                proposed_at=at,
                                contest_until=at + timedelta(days=15),
                                decided_at=at + timedelta(days=16),
                            )
                        )
                visit.answered = sum(a.value != "na" for a in answers[-ITEMS:])
                visit.defects = sum(a.value in ("minor", "major") for a in answers[-ITEMS:])
                day += timedelta(days=7)
        Visit.objects.bulk_create(visits, batch_size=2000)
        Answer.objects.bulk_create(answers, batch_size=5000)
        Rework.objects.bulk_create(reworks, batch_size=2000)
        Penalty.objects.bulk_create(penalties, batch_size=2000)
        answers_total += len(answers)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return manager, answers_total


def main(engine: str) -> dict:
    data_dir = tempfile.mkdtemp(prefix="ronde-bench-rates-")
    os.environ.update(
        RONDE_DATA_DIR=data_dir,
        DJANGO_SETTINGS_MODULE="backend.settings",
        JOBS_EAGER="false",
        DEBUG="false",
        ALLOWED_HOSTS="testserver",
    )
    if engine == "sqlite":
        os.environ["DATABASE_URL"] = f"sqlite:///{data_dir}/db.sqlite3"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command(
        "collectstatic", interactive=False, verbosity=0
    )  # the page is served as in production
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from inspections import rates

    started = time.perf_counter()
    manager, answers = build()
    build_seconds = time.perf_counter() - started
    today = timezone.localdate()
    year_ago = today - timedelta(days=365)

    def count():
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM inspections_answer")
            return cursor.fetchone()[0]

    assert count() == answers
    client = Client()
    client.force_login(manager)

    def page():
        response = client.get("/controles/")
        assert response.status_code == 200, response.status_code

    result = {
        "engine": engine,
        "answers": answers,
        "build_seconds": round(build_seconds, 1),
        "count_seconds": best_of(count),
        "rates_by_residence_seconds": best_of(
            lambda: rates.compute(manager, year_ago, today, "residence")
        ),
        "rates_by_provider_seconds": best_of(
            lambda: rates.compute(manager, year_ago, today, "provider")
        ),
        "rates_by_agent_seconds": best_of(lambda: rates.compute(manager, year_ago, today, "agent")),
        "rates_5_years_seconds": best_of(
            lambda: rates.compute(manager, today - timedelta(days=365 * YEARS), today, "residence")
        ),
        "under_controlled_seconds": best_of(lambda: rates.under_controlled(manager, today)),
        "dashboard_page_seconds": best_of(page),
    }
    for key in [
        k for k in result if k.endswith("_seconds") and k not in ("count_seconds", "build_seconds")
    ]:
        result[key.replace("_seconds", "_over_count")] = round(
            result[key] / result["count_seconds"], 1
        )
    for key, value in list(result.items()):
        if key.endswith("_seconds") and key != "build_seconds":
            result[key] = round(value, 4)
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite")))
