"""Quiet hours: no campaign SMS 20:00–08:00, on Sundays, on the region's public holidays."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from backend.estate.models import Organisation
from messaging import timing

PARIS = ZoneInfo("Europe/Paris")


def at(text, zone=PARIS):
    return datetime.fromisoformat(text).replace(tzinfo=zone)


@pytest.fixture
def org(db):
    return Organisation.objects.create(code="Q", name="Quiet")


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-24 10:00", "2026-11-24 10:00"),  # a Tuesday morning: at once
        ("2026-11-24 19:59", "2026-11-24 19:59"),
        ("2026-11-24 20:00", "2026-11-25 08:00"),  # evening: next morning
        ("2026-11-25 06:30", "2026-11-25 08:00"),  # early: same morning
        ("2026-11-28 21:00", "2026-11-30 08:00"),  # Saturday night: Sunday skipped
        ("2026-11-29 12:00", "2026-11-30 08:00"),  # Sunday
        ("2026-12-24 20:30", "2026-12-26 08:00"),  # Christmas is a holiday
        ("2026-11-10 22:00", "2026-11-12 08:00"),  # 11 November is a holiday
    ],
)
def test_held_messages_leave_at_the_next_allowed_time(org, moment, expected):
    assert timing.next_allowed(org, at(moment)) == at(expected)


def test_alsace_moselle_keeps_saint_stephen(org):
    assert timing.next_allowed(org, at("2026-12-25 21:00")) == at("2026-12-26 08:00")
    org.holiday_region = "57"
    assert timing.next_allowed(org, at("2026-12-25 21:00")) == at("2026-12-28 08:00")


def test_the_organisation_time_zone_decides(org):
    org.time_zone = "Indian/Reunion"
    reunion = ZoneInfo("Indian/Reunion")
    # 18:30 in Paris is 21:30 in La Réunion: held until 08:00 there.
    held = timing.next_allowed(org, at("2026-11-24 18:30"))
    assert held == datetime(2026, 11, 25, 8, 0, tzinfo=reunion)
    # La Réunion's own holiday (20 December, abolition of slavery).
    org.holiday_region = "974"
    assert timing.next_allowed(org, datetime(2026, 12, 20, 9, 0, tzinfo=reunion)).day == 21


@pytest.mark.parametrize(
    ("channel", "purpose", "campaign", "urgent", "applies"),
    [
        ("sms", "operational", True, False, True),  # a campaign, even operational
        ("sms", "operational", False, False, False),  # a message about their own request
        ("sms", "information", False, False, True),
        ("sms", "commercial", True, True, True),  # urgency is for operational messages only
        ("sms", "operational", True, True, False),  # a safety notice goes at once
        ("email", "commercial", True, False, False),  # e-mails are not held
    ],
)
def test_which_messages_wait(channel, purpose, campaign, urgent, applies):
    assert (
        timing.quiet_hours_apply(
            channel=channel, purpose=purpose, is_campaign=campaign, urgent=urgent
        )
        is applies
    )
