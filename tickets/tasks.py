"""Periodic jobs of the requests app (docs/jobs.md): reminders, on-call handover, digest."""

from django.conf import settings
from django.utils import translation

from backend import jobs
from tickets import oncall, services


@jobs.periodic(minutes=15)
def appointment_reminders() -> int:
    return services.send_reminders()


@jobs.periodic(minutes=15)
def on_call_handover() -> int:
    with translation.override(settings.LANGUAGE_CODE):
        return oncall.hand_over()


@jobs.periodic(minutes=60)
def overdue_digest() -> int:
    with translation.override(settings.LANGUAGE_CODE):
        return oncall.overdue_digest()
