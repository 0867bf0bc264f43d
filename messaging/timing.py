"""Quiet hours: when a text message may leave.

Campaigns and general or commercial information are held outside 08:00–20:00, on Sundays and
on the public holidays of the organisation's region, in the organisation's time zone; held
messages leave at the next allowed time. Answers to a tenant who just contacted us,
appointment changes and safety notices (urgent) go out at once, and so does any e-mail.
"""

from datetime import datetime, time, timedelta

from django.utils import timezone

from messaging.models import Channel, Purpose

OPENING = time(8, 0)
CLOSING = time(20, 0)


def quiet_hours_apply(*, channel: str, purpose: str, is_campaign: bool, urgent: bool) -> bool:
    """Urgency is for operational messages only: general and commercial information always
    wait for the allowed hours."""
    if channel != Channel.SMS:
        return False
    if purpose in (Purpose.INFORMATION, Purpose.COMMERCIAL):
        return True
    return is_campaign and not urgent


def is_allowed(organisation, moment: datetime) -> bool:
    local = timezone.localtime(moment, organisation.zone)
    if local.weekday() == 6 or organisation.is_public_holiday(local.date()):
        return False
    return OPENING <= local.time() < CLOSING


def next_allowed(organisation, moment: datetime) -> datetime:
    """`moment` if a text may leave then, else the next 08:00 of an allowed day."""
    if is_allowed(organisation, moment):
        return moment
    zone = organisation.zone
    local = timezone.localtime(moment, zone)
    day = local.date()
    if local.time() >= OPENING:
        day += timedelta(days=1)
    for _ in range(14):
        if day.weekday() != 6 and not organisation.is_public_holiday(day):
            return datetime.combine(day, OPENING, tzinfo=zone)
        day += timedelta(days=1)
    raise AssertionError("no allowed day in two weeks")
