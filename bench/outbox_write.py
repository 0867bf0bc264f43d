"""Benchmark: writing a campaign's outbox for N recipients (run in its own process per size, so
that its peak memory is its own).

    python bench/outbox_write.py 20000

Prints one JSON line: seconds to fan out (audience streamed, texts rendered, rows inserted in
chunks), seconds for a raw bulk insert of the same rows, their ratio, and the peak memory
(tracemalloc's peak of Python allocations during a second, untimed fan-out, and the
process's max RSS, which includes building the test estate).
"""

import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(size: int) -> dict:
    data_dir = tempfile.mkdtemp(prefix="ronde-bench-outbox-")
    os.environ.update(
        RONDE_DATA_DIR=data_dir,
        DATABASE_URL=f"sqlite:///{data_dir}/db.sqlite3",
        DJANGO_SETTINGS_MODULE="backend.settings",
        JOBS_EAGER="false",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from backend.accounts.models import Role, User
    from backend.estate import models as m
    from messaging import services
    from messaging.models import Campaign, Message

    org = m.Organisation.objects.create(code="B", name="Bench")
    agency = m.Agency.objects.create(organisation=org, code="01", name="Agence")
    residence = m.Residence.objects.create(
        agency=agency,
        code="R",
        name="Grand Ensemble",
        address="1 rue",
        postcode="37000",
        city="Tours",
        units_count=size,
    )
    building = m.Building.objects.create(residence=residence, code="B", name="Bâtiment A")
    entrances = m.Entrance.objects.bulk_create(
        [
            m.Entrance(building=building, residence=residence, code=f"E{i}", name=f"Entrée {i}")
            for i in range(50)
        ]
    )
    chunk = 5000
    for start in range(0, size, chunk):
        n = min(chunk, size - start)
        units = m.Unit.objects.bulk_create(
            [
                m.Unit(
                    entrance=entrances[(start + i) % 50],
                    residence=residence,
                    code=f"U{start + i}",
                    door=str(i),
                )
                for i in range(n)
            ]
        )
        households = m.Household.objects.bulk_create(
            [m.Household(organisation=org, name="F") for _ in range(n)]
        )
        m.Lease.objects.bulk_create(
            [
                m.Lease(
                    organisation=org,
                    residence=residence,
                    unit=u,
                    household=h,
                    reference=f"{1000000 + start + i}",
                    start_date=date(2020, 1, 1),
                )
                for i, (u, h) in enumerate(zip(units, households, strict=True))
            ]
        )
        m.Person.objects.bulk_create(
            [
                m.Person(
                    household=h,
                    first_name="Hélène",
                    last_name=f"Martin{start + i}",
                    mobile=f"+3363998{(start + i) % 10000:04d}",
                    email=f"p{start + i}@example.org",
                    preferred_channel="sms",
                )
                for i, h in enumerate(households)
            ]
        )
    user = User.objects.create(username="bench", role=Role.ADMIN, organisation=org)
    campaign = Campaign.objects.create(
        organisation=org,
        residence=residence,
        author=user,
        title="Bench",
        purpose="operational",
        sms_body="Bonjour {{ prenom }}, l'ascenseur de {{ entree }} ({{ residence }}) est réparé.",
        audience={"kind": "residence", "ids": [residence.pk]},
        urgent=True,
    )
    started = time.perf_counter()
    written = services.prepare_campaign(campaign.pk)
    fan_out = time.perf_counter() - started
    assert written == size, written
    # Peak memory in a second, identical run: tracemalloc slows Python down, so the timed run
    # goes without it.
    Message.objects.all().delete()
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.PREPARING, prepared_up_to=0
    )
    tracemalloc.start()
    services.prepare_campaign(campaign.pk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # The same rows, inserted raw: what the fan-out costs above the database's own work.
    rows = [
        Message(
            **{
                f.attname: getattr(msg, f.attname)
                for f in Message._meta.concrete_fields
                if f.attname != "id"
            }
        )
        for msg in Message.objects.all().iterator(chunk_size=5000)
    ]
    Message.objects.all().delete()
    started = time.perf_counter()
    Message.objects.bulk_create(rows, batch_size=500)
    raw = time.perf_counter() - started
    return {
        "recipients": size,
        "fan_out_seconds": round(fan_out, 2),
        "raw_insert_seconds": round(raw, 2),
        "ratio": round(fan_out / raw, 2),
        "peak_traced_mb": round(peak / 1e6, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
