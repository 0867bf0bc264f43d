"""The score of a visit, with one documented method (docs/inspections.md):

- each answered item is worth its weight; compliant earns the weight, a minor defect half of it,
  a major defect nothing; not applicable leaves both the points and the maximum;
- a zone's score and the visit's score are the points over the maxima, in percent;
- a defect on a critical item fails the visit, whatever its score; otherwise the visit is
  compliant when its score reaches the grid's threshold.
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

FACTORS = {"compliant": Decimal(1), "minor": Decimal("0.5"), "major": Decimal(0)}


def of_items(items, answers: dict) -> "Score":
    """The score of a visit from its grid's items (with their zone) and its answers by item id."""
    return compute(
        (
            i.zone_id,
            i.zone.name,
            i.weight,
            i.critical,
            answers[i.pk].value if i.pk in answers else None,
        )
        for i in items
    )


def percent(part, whole) -> Decimal | None:
    """part over whole in percent, one decimal, rounded half up; None when whole is nothing."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class ZoneScore:
    name: str
    points: Decimal = Decimal(0)
    maximum: Decimal = Decimal(0)

    @property
    def percent(self) -> Decimal | None:
        return percent(self.points, self.maximum)


@dataclass
class Score:
    zones: list[ZoneScore] = field(default_factory=list)
    critical_failed: bool = False

    @property
    def points(self) -> Decimal:
        return sum((z.points for z in self.zones), Decimal(0))

    @property
    def maximum(self) -> Decimal:
        return sum((z.maximum for z in self.zones), Decimal(0))

    @property
    def percent(self) -> Decimal | None:
        return percent(self.points, self.maximum)

    def passed(self, threshold: int) -> bool:
        percent = self.percent
        return not self.critical_failed and percent is not None and percent >= threshold


def compute(rows) -> Score:
    """rows: (zone id, zone name, item weight, item critical, answer value), in zone order."""
    score = Score()
    zones: dict[int, ZoneScore] = {}
    for zone_id, zone_name, weight, critical, value in rows:
        zone = zones.get(zone_id)
        if zone is None:
            zone = zones[zone_id] = ZoneScore(zone_name)
            score.zones.append(zone)
        if value == "na" or value is None:
            continue
        zone.maximum += weight
        zone.points += weight * FACTORS[value]
        if critical and value != "compliant":
            score.critical_failed = True
    return score
