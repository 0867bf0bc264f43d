"""Deadlines to acknowledge and to resolve a request, and office hours (rules: docs/tickets.md).

The defaults below apply unless an organisation sets its own `Deadline` rows (admin). Hours are
calendar hours: an urgent leak does not wait for Monday.
"""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

from tickets.models import Category, Deadline, Urgency

# (hours to acknowledge, hours to resolve) per urgency; some categories are stricter.
DEFAULTS = {
    Urgency.URGENT: (2, 24),
    Urgency.NORMAL: (24, 7 * 24),
    Urgency.LOW: (72, 30 * 24),
}
CATEGORY_DEFAULTS = {
    (Category.LIFT, Urgency.URGENT): (1, 48),  # a lift is repaired by its maintainer's contract
    (Category.LEAK, Urgency.URGENT): (1, 12),
    (Category.HEATING, Urgency.URGENT): (2, 24),
}


def hours_for(organisation_id: int, category: str, urgency: str) -> tuple[int, int]:
    rule = (
        Deadline.objects.filter(organisation_id=organisation_id, category=category, urgency=urgency)
        .values_list("acknowledge_hours", "resolve_hours")
        .first()
    )
    if rule:
        return rule
    return CATEGORY_DEFAULTS.get((category, urgency)) or DEFAULTS[urgency]


def due_dates(organisation_id: int, category: str, urgency: str, start: datetime):
    acknowledge, resolve = hours_for(organisation_id, category, urgency)
    return start + timedelta(hours=acknowledge), start + timedelta(hours=resolve)


def _office_window() -> tuple[time, time]:
    opens, closes = settings.TICKETS_OFFICE_HOURS.split("-")
    return time.fromisoformat(opens), time.fromisoformat(closes)


def is_office_hours(organisation, at: datetime | None = None) -> bool:
    """Monday to Friday, within TICKETS_OFFICE_HOURS, not a public holiday of the
    organisation's region, in its time zone."""
    local = timezone.localtime(at or timezone.now(), organisation.zone)
    if local.weekday() >= 5 or organisation.is_public_holiday(local.date()):
        return False
    opens, closes = _office_window()
    return opens <= local.time() < closes
