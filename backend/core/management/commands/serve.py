"""`manage.py serve`: what `make run` starts. Prepares the database, then runs the web server
(gunicorn) and the job worker (django-q2's qcluster) side by side until Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from backend import jobs
from backend.accounts import demo_tenants
from backend.core import demo


class Command(BaseCommand):
    help = "Migrate, load the demo data, then run the web server and the job worker together."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("RONDE_BIND", "127.0.0.1:8000"))
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo data.")

    def handle(self, *args, bind, no_demo, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if not no_demo:
            call_command("load_demo")
        call_command("collectstatic", interactive=False, verbosity=0)
        python = sys.executable
        bin_dir = os.path.dirname(python)
        children = [
            subprocess.Popen(
                [
                    os.path.join(bin_dir, "gunicorn"),
                    "backend.wsgi",
                    "--bind",
                    bind,
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                    "--access-logfile",
                    "-",
                    "--graceful-timeout",
                    "5",
                ],
            ),
            subprocess.Popen([python, "manage.py", "qcluster"]),
        ]
        # A first heartbeat right away, so /api/health shows the worker without waiting for
        # the scheduler's first tick.
        jobs.enqueue(jobs.heartbeat)
        self.banner(bind, no_demo)
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        code = 0
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    self.stderr.write(
                        f"{child.args[0]} stopped (code {child.returncode}): stopping all."
                    )
                    stopping, code = True, 1
            time.sleep(0.3)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        self.stdout.write("Ronde stopped.")
        sys.exit(code)

    def banner(self, bind, no_demo):
        url = f"http://{bind}/"
        lines = ["", "=" * 64, f"  Ronde runs at {url}", f"  API docs: {url}api/docs", ""]
        if not no_demo:
            lines.append(f"  Demo logins (password: {demo.demo_password()}):")
            for login in demo.LOGINS:
                lines.append(f"    {login.username:<18} {login.description}")
            lines.append("")
            lines += demo_tenants.banner_lines()
        if settings.EMAIL_TRANSPORT == "capture":
            lines.append(f"  E-mail and SMS are captured, not sent: {url}messages-captures/")
        lines += ["  Stop with Ctrl-C.", "=" * 64, ""]
        self.stdout.write("\n".join(lines))
