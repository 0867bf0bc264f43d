"""Rates for managers (docs/inspections.md): per residence, provider or agent over a period.

- visits planned in the period (cancelled ones aside), how many of them were done, and their
  ratio, the visit rate; visits done in the period (unplanned ones included);
- the average score of the visits done;
- the defect rate: items found with a defect over items answered (N/A aside), from the counts
  each visit keeps when it is finished (the answers table is never scanned);
- rework: requests per visit done, average lead time (request to "done"), share lifted on time;
- penalties confirmed (sum).

Each figure is one aggregate query grouped by the dimension, whatever the number of rows.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import Coalesce, Concat, NullIf, Trim, TruncMonth
from django.utils import timezone

from backend.accounts.scoping import scoped
from inspections.models import Penalty, Rework, Visit
from inspections.scoring import percent

DIMENSIONS = {  # how rates are grouped -> the visit field that groups them
    "residence": "residence_id",
    "provider": "contract__provider_id",
    "agent": "agent_id",
}


def _bounds(start: date, end: date):
    zone = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, time.min), zone),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), zone),
    )


@dataclass
class Row:
    key: int | None
    label: str
    planned: int = 0
    planned_done: int = 0
    done: int = 0
    average_score: Decimal | None = None
    answers: int = 0
    defects: int = 0
    reworks: int = 0
    lifted_on_time: int = 0
    rechecked: int = 0
    lead_time_hours: Decimal | None = None
    penalties: Decimal = Decimal(0)

    @property
    def visit_rate(self):
        return percent(self.planned_done, self.planned)

    @property
    def defect_rate(self):
        return percent(self.defects, self.answers)

    @property
    def rework_rate(self):
        return percent(self.reworks, self.done)

    @property
    def on_time_rate(self):
        return percent(self.lifted_on_time, self.rechecked)


@dataclass
class Rates:
    rows: list[Row] = field(default_factory=list)
    months: list[tuple[date, Decimal | None, int]] = field(
        default_factory=list
    )  # (month, score, done)


def _label(by: str, prefix: str):
    """The label of a row: the residence's or provider's name, the agent's full name."""
    if by == "agent":
        full = Trim(
            Concat(F(prefix + "agent__first_name"), Value(" "), F(prefix + "agent__last_name"))
        )
        return Coalesce(NullIf(full, Value("")), F(prefix + "agent__username"))
    return F({"residence": prefix + "residence__name", "provider": prefix + "provider__name"}[by])


def compute(user, start: date, end: date, by: str = "residence") -> Rates:
    visit_key = DIMENSIONS[by]
    low, high = _bounds(start, end)
    visits = scoped(user, Visit).exclude(status=Visit.Status.CANCELLED)
    rows: dict = {}

    def row(k, name):
        if k not in rows:
            rows[k] = Row(k, name or "—")
        return rows[k]

    visit_label = _label(by, "contract__" if by == "provider" else "")
    planned = visits.filter(planned_for__gte=start, planned_for__lte=end)
    for item in (
        planned.values(visit_key)
        .annotate(
            label=visit_label,
            n=Count("pk"),
            planned_done=Count("pk", filter=Q(status=Visit.Status.DONE)),
        )
        .order_by()
    ):
        r = row(item[visit_key], item["label"])
        r.planned, r.planned_done = item["n"], item["planned_done"]
    done = visits.filter(status=Visit.Status.DONE, finished_at__gte=low, finished_at__lt=high)
    for item in (
        done.values(visit_key)
        .annotate(
            label=visit_label,
            n=Count("pk"),
            score=Avg("score"),
            answered=Sum("answered"),
            defects=Sum("defects"),
        )
        .order_by()
    ):
        r = row(item[visit_key], item["label"])
        r.done = item["n"]
        r.average_score = (
            Decimal(item["score"]).quantize(Decimal("0.1")) if item["score"] is not None else None
        )
        r.answers, r.defects = item["answered"] or 0, item["defects"] or 0
    rework_key = {
        "residence": "residence_id",
        "provider": "provider_id",
        "agent": "visit__agent_id",
    }[by]
    reworks = (
        scoped(user, Rework)
        .filter(requested_at__gte=low, requested_at__lt=high)
        .exclude(status=Rework.Status.CANCELLED)
    )
    lead = ExpressionWrapper(F("done_at") - F("requested_at"), output_field=DurationField())
    for item in (
        reworks.values(rework_key)
        .annotate(
            label=_label(by, "visit__" if by == "agent" else ""),
            n=Count("pk"),
            rechecked=Count(
                "pk", filter=Q(status__in=[Rework.Status.LIFTED, Rework.Status.NOT_LIFTED])
            ),
            on_time=Count("pk", filter=Q(status=Rework.Status.LIFTED, done_at__lte=F("deadline"))),
            lead=Avg(lead),
        )
        .order_by()
    ):
        r = row(item[rework_key], item["label"])
        r.reworks, r.rechecked, r.lifted_on_time = item["n"], item["rechecked"], item["on_time"]
        if item["lead"] is not None:
            r.lead_time_hours = Decimal(item["lead"].total_seconds() / 3600).quantize(
                Decimal("0.1")
            )
    penalty_key = {
        "residence": "residence_id",
        "provider": "provider_id",
        "agent": "rework__visit__agent_id",
    }[by]
    penalties = scoped(user, Penalty).filter(
        status=Penalty.Status.CONFIRMED, decided_at__gte=low, decided_at__lt=high
    )
    for item in (
        penalties.values(penalty_key)
        .annotate(label=_label(by, "rework__visit__" if by == "agent" else ""), total=Sum("amount"))
        .order_by()
    ):
        row(item[penalty_key], item["label"]).penalties = item["total"] or Decimal(0)
    months = [
        (
            item["month"].date() if hasattr(item["month"], "date") else item["month"],
            Decimal(item["score"]).quantize(Decimal("0.1")) if item["score"] is not None else None,
            item["n"],
        )
        for item in done.annotate(month=TruncMonth("finished_at"))
        .values("month")
        .annotate(score=Avg("score"), n=Count("pk"))
        .order_by("month")
    ]
    return Rates(sorted(rows.values(), key=lambda r: r.label), months)


def inspection_lapses(residences, today: date):
    """The rule of "inspected in time", in one place: for each residence, (residence, date of
    its last finished visit or None, due date of the next one or None, lapsed)."""
    from django.db.models import Max

    residences = residences.annotate(
        last=Max("visits__finished_at", filter=Q(visits__status=Visit.Status.DONE))
    ).order_by("name")
    for residence in residences:
        last = timezone.localtime(residence.last).date() if residence.last else None
        due = last + timedelta(days=residence.inspection_frequency) if last else None
        yield residence, last, due, due is None or due < today


def under_controlled(user, today: date | None = None):
    """Residences in scope whose last visit is older than their target frequency allows, the
    oldest lapse first: [(residence, last visit date or None, due date or None)]."""
    from backend.estate.models import Residence

    today = today or timezone.localdate()
    lapsed = [
        (residence, last, due)
        for residence, last, due, late in inspection_lapses(scoped(user, Residence), today)
        if late
    ]
    return sorted(lapsed, key=lambda r: r[2] or date.min)
