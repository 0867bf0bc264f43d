"""Benchmark: sending throughput against the Twilio double (the real SDK, Prism serving
Twilio's own API description), with 1, 2 and 4 django-q2 workers.

    python bench/send_throughput.py 300

The rate limit is lifted for this measure (SMS_RATE_PER_SECOND=100000): it shows what the
outbox and the transport can do; in production each sender's rate (10 segments/s for an
alphanumeric sender) is the limit, whatever the number of workers.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(workers: int, count: int, prism_url: str) -> float:
    data_dir = tempfile.mkdtemp(prefix="ronde-bench-send-")
    env = dict(
        os.environ,
        RONDE_DATA_DIR=data_dir,
        DATABASE_URL=f"sqlite:///{data_dir}/db.sqlite3",
        JOBS_EAGER="false",
        SMS_TRANSPORT="twilio",
        TWILIO_ACCOUNT_SID="AC" + "0123456789abcdef" * 2,
        TWILIO_AUTH_TOKEN="bench",
        TWILIO_FROM="RONDE",
        TWILIO_TWO_WAY_FROM="+33939000001",
        TWILIO_API_URL=prism_url,
        SMS_RATE_PER_SECOND="100000",
        Q_WORKERS=str(workers),
        SITE_URL="https://ronde.example.fr",
    )
    env.pop("RONDE_TESTING", None)
    seed = f"""
import django; django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from datetime import date
from backend.accounts.models import Role, User
from backend.estate import models as m
from messaging.models import Campaign, Message
from django.utils import timezone
org = m.Organisation.objects.create(code="B", name="Bench")
agency = m.Agency.objects.create(organisation=org, code="01", name="A")
res = m.Residence.objects.create(agency=agency, code="R", name="R", address="1 rue", postcode="37000", city="Tours")
user = User.objects.create(username="b", role=Role.ADMIN, organisation=org)
c = Campaign.objects.create(organisation=org, residence=res, author=user, title="B", purpose="operational",
    sms_body="x", status="ready", urgent=True)
Message.objects.bulk_create([Message(campaign=c, residence=res, channel="sms", to=f"+3363998{{i:04d}}",
    body=f"Message {{i}}", segments=1, next_attempt_at=timezone.now()) for i in range({count})])
"""
    subprocess.run(
        [sys.executable, "-c", seed],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "backend.settings"},
        check=True,
        capture_output=True,
    )
    kick = (
        "import django; django.setup(); from backend import jobs; from messaging import outbox; "
        f"[jobs.enqueue(outbox.dispatch) for _ in range({workers})]"
    )
    count_sent = (
        "import django; django.setup(); from messaging.models import Message; "
        "print(Message.objects.filter(status='sent').count())"
    )
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(6)  # the cluster starts its workers
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", kick],
            cwd=ROOT,
            check=True,
            capture_output=True,
            env={**env, "DJANGO_SETTINGS_MODULE": "backend.settings"},
        )
        while True:
            out = subprocess.run(
                [sys.executable, "-c", count_sent],
                cwd=ROOT,
                capture_output=True,
                text=True,
                env={**env, "DJANGO_SETTINGS_MODULE": "backend.settings"},
            )
            if int(out.stdout.strip().splitlines()[-1]) >= count:
                break
            if time.perf_counter() - started > 600:
                raise RuntimeError("sending did not finish in 10 minutes")
            time.sleep(0.5)
        return count / (time.perf_counter() - started)
    finally:
        cluster.terminate()
        cluster.wait(timeout=30)


def raw_sdk(count: int, threads: int, url: str) -> float:
    """The double's own capacity: the same SDK calls from `threads` threads, no Ronde at all."""
    from concurrent.futures import ThreadPoolExecutor

    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    class _HttpClient(TwilioHttpClient):  # the same host rewrite as the project's transport
        def __init__(self, base, **kwargs):
            super().__init__(**kwargs)
            self.base = base

        def request(self, method, url, *args, **kwargs):
            return super().request(
                method, self.base + url.split("twilio.com", 1)[1], *args, **kwargs
            )

    sid = "AC" + "0123456789abcdef" * 2

    def send(i):
        client = Client(sid, "bench", http_client=_HttpClient(url, timeout=10))
        client.messages.create(to=f"+3363998{i:04d}", body=f"Message {i}", from_="RONDE")

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, range(count)))
    return count / (time.perf_counter() - started)


def main(count: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    from tests import twilio_mock

    workdir = Path(tempfile.mkdtemp(prefix="ronde-bench-prism-"))
    prism, url = twilio_mock.start(workdir)
    try:
        result = {
            f"{w}_workers_messages_per_second": round(run(w, count, url), 1) for w in (1, 2, 4)
        }
        result["raw_sdk_1_thread_per_second"] = round(raw_sdk(count, 1, url), 1)
        result["raw_sdk_4_threads_per_second"] = round(raw_sdk(count, 4, url), 1)
        return result
    finally:
        prism.terminate()


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)))
