"""Grids: the default French grid, text editing with versions, and the scoring method."""

from decimal import Decimal

import pytest

from backend.core.errors import ServiceError
from inspections import grids, scoring
from inspections.models import Grid, Item


def test_the_default_grid_ships_with_the_app(db):
    grid = grids.ensure_default_grid()
    zones = [z.name for z in grid.current.zones.all()]
    assert zones == [
        "Hall et boîtes aux lettres",
        "Escaliers et paliers",
        "Ascenseur",
        "Local poubelles",
        "Caves et parking",
        "Abords",
        "Vitrerie",
        "Éclairage",
    ]
    assert Item.objects.filter(zone__version=grid.current, critical=True).count() == 3
    assert grids.ensure_default_grid() == grid  # once


def test_publishing_a_changed_text_makes_a_new_version_and_keeps_the_old(db):
    grid = Grid.objects.create(name="Espaces verts", category="green_spaces")
    first = grids.publish(grid, "# Pelouses\nTonte faite | 3\nDéchets ramassés | 2 | critique\n")
    assert first.number == 1
    assert grids.publish(grid, grids.as_text(first)) is None  # unchanged: no new version
    second = grids.publish(grid, "# Pelouses\nTonte faite | 3\n# Haies\nTaille faite | 2\n")
    assert second.number == 2 and grid.current == second
    assert [i.label for i in Item.objects.filter(zone__version=first)] == [
        "Tonte faite",
        "Déchets ramassés",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Sol propre | 3", "commencez par une zone"),
        ("# Hall\nSol | 11", "ni un poids"),
        ("# Hall\nSol | cher", "ni un poids"),
        ("# Hall\n# Escaliers\nMarches | 2", "Hall"),
        ("", "au moins une zone"),
    ],
)
def test_a_wrong_grid_text_is_refused_with_the_line(db, text, message):
    with pytest.raises(ServiceError) as info:
        grids.parse(text)
    assert message in str(info.value).lower() or message in str(info.value)


def test_the_score_is_points_over_maxima_without_na_and_critical_fails():
    rows = [
        (1, "Hall", 3, False, "compliant"),  # 3 / 3
        (1, "Hall", 2, False, "minor"),  # 1 / 2
        (1, "Hall", 1, False, "na"),  # left out
        (2, "Cave", 2, False, "major"),  # 0 / 2
    ]
    score = scoring.compute(rows)
    assert [z.percent for z in score.zones] == [Decimal("80.0"), Decimal("0.0")]
    assert score.percent == Decimal("57.1")  # 4 / 7
    assert not score.critical_failed and not score.passed(80) and score.passed(50)
    critical = scoring.compute([(1, "Hall", 3, True, "minor"), (1, "Hall", 10, False, "compliant")])
    assert (
        critical.percent == Decimal("88.5") and critical.critical_failed and not critical.passed(80)
    )
    assert scoring.compute([(1, "Hall", 3, False, "na")]).percent is None
