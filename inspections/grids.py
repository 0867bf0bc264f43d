"""Grids as text, and the default French grid for common areas shipped with Ronde.

A grid is written (and edited) as lines, one zone after a "#", one item per line with its
weight and, optionally, "critique":

    # Hall et boîtes aux lettres
    Sol balayé et lavé | 3
    Absence de déchets, d'encombrants ou d'odeurs | 3 | critique

Saving a changed text publishes a new version: visits keep the version they were scored with.
"""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from backend.core.errors import ServiceError
from inspections.models import Grid, GridVersion, Item, Zone

DEFAULT_GRID_NAME = "Ménage des parties communes"
DEFAULT_GRID = """\
# Hall et boîtes aux lettres
Sol balayé et lavé | 3
Boîtes aux lettres propres, sans prospectus au sol | 2
Portes et vitrage d'entrée propres | 2
Paillasson ou tapis propre | 1
Absence de déchets, d'encombrants ou d'odeurs | 3 | critique
# Escaliers et paliers
Marches et paliers balayés et lavés | 3
Mains courantes et rampes dépoussiérées | 2
Plinthes et contremarches propres | 1
Murs sans salissures ni tags récents | 1
# Ascenseur
Sol de la cabine propre | 3
Parois et miroir de la cabine propres | 2
Boutons et portes palières propres | 1
# Local poubelles
Sol lavé, sans déchets hors des bacs | 3
Bacs propres et rangés | 2
Absence d'odeurs et de nuisibles | 3 | critique
# Caves et parking
Circulations balayées | 2
Absence d'encombrants et de dépôts sauvages | 3 | critique
# Abords
Espaces extérieurs sans papiers ni déchets | 2
Corbeilles vidées | 1
# Vitrerie
Vitres des parties communes propres | 1
# Éclairage
Éclairage des parties communes en état (défaut signalé) | 1
"""

CRITICAL_WORDS = {"critique", "critical"}


@dataclass
class ParsedItem:
    label: str
    weight: int
    critical: bool


@dataclass
class ParsedZone:
    name: str
    items: list[ParsedItem] = field(default_factory=list)


def parse(text: str) -> list[ParsedZone]:
    """The zones of a grid text, or ServiceError naming the line at fault (in French)."""
    zones: list[ParsedZone] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            name = line.lstrip("#").strip()
            if not name:
                raise ServiceError(
                    _("Line %(line)d: a zone needs a name after “#”.") % {"line": number}
                )
            zones.append(ParsedZone(name[:200]))
            continue
        if not zones:
            raise ServiceError(
                _("Line %(line)d: start with a zone, like “# Hall”.") % {"line": number}
            )
        parts = [p.strip() for p in line.split("|")]
        label = parts[0]
        weight = 1
        critical = False
        for part in parts[1:]:
            if part.isdigit() and 1 <= int(part) <= 10:
                weight = int(part)
            elif part.lower() in CRITICAL_WORDS:
                critical = True
            elif part:
                raise ServiceError(
                    _("Line %(line)d: “%(part)s” is neither a weight from 1 to 10 nor “critique”.")
                    % {"line": number, "part": part}
                )
        if not label:
            raise ServiceError(_("Line %(line)d: the item has no label.") % {"line": number})
        zones[-1].items.append(ParsedItem(label[:300], weight, critical))
    if not zones or not any(zone.items for zone in zones):
        raise ServiceError(_("The grid needs at least one zone with one item."))
    empty = [zone.name for zone in zones if not zone.items]
    if empty:
        raise ServiceError(_("These zones have no item: %(zones)s.") % {"zones": ", ".join(empty)})
    return zones


def as_text(version: GridVersion) -> str:
    lines = []
    for zone in version.zones.prefetch_related("items"):
        lines.append(f"# {zone.name}")
        for item in zone.items.all():
            lines.append(f"{item.label} | {item.weight}" + (" | critique" if item.critical else ""))
    return "\n".join(lines) + "\n"


def publish(grid: Grid, text: str, user=None) -> GridVersion | None:
    """Publish the text as the grid's next version (None if nothing changed)."""
    zones = parse(text)
    with transaction.atomic():
        grid = Grid.objects.select_for_update().get(pk=grid.pk)
        current = grid.current
        if current is not None and as_text(current).strip() == _normalised(zones).strip():
            return None
        version = GridVersion.objects.create(
            grid=grid, number=(current.number + 1) if current else 1, published_by=user
        )
        for z_order, parsed in enumerate(zones):
            zone = Zone.objects.create(version=version, name=parsed.name, order=z_order)
            Item.objects.bulk_create(
                [
                    Item(zone=zone, label=i.label, weight=i.weight, critical=i.critical, order=n)
                    for n, i in enumerate(parsed.items)
                ]
            )
    return version


def _normalised(zones: list[ParsedZone]) -> str:
    lines = []
    for zone in zones:
        lines.append(f"# {zone.name}")
        for i in zone.items:
            lines.append(f"{i.label} | {i.weight}" + (" | critique" if i.critical else ""))
    return "\n".join(lines) + "\n"


def ensure_default_grid() -> Grid:
    """The default French grid for common areas, shared by every organisation (idempotent)."""
    grid, _created = Grid.objects.get_or_create(
        organisation=None, contract=None, name=DEFAULT_GRID_NAME, defaults={"category": "cleaning"}
    )
    if grid.current is None:
        publish(grid, DEFAULT_GRID)
    return grid
