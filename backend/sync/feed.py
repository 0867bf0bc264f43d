"""Pull: a snapshot of the agent's scope, then deltas read from the change feed (docs/sync.md).

Cursors are opaque strings:
- `s.<txid>.<id>.<type index>.<last pk>`: a snapshot in progress, paged type by type; the
  first two numbers are where the deltas will start once it is done;
- `d.<txid>.<id>`: deltas after that position of the feed.

A delta costs what the changes since the cursor cost, never the history: one range scan of the
`(txid, id)` index, then one query per record type present in the page.
"""

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import BooleanField, Max, Q
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from backend.accounts.scoping import visible_residences
from backend.core.errors import ServiceError
from backend.sync.models import Change
from backend.sync.records import TYPES

PAGE = 1000  # records (snapshot) or changes (delta) per page
FAR = 2**62


@dataclass
class Page:
    cursor: str
    more: bool
    reset: bool = False
    records: list = field(default_factory=list)
    deleted: list = field(default_factory=list)
    dropped_residences: list = field(default_factory=list)
    scope: list = field(default_factory=list)


def _bad_cursor():
    return ServiceError(
        _("The phone's sync position is not understood: it will reload its data."),
        code="bad_cursor",
        status=400,
    )


def safe_limit() -> int:
    """Feed rows of transactions below this id are final: no still-open transaction can add
    one later. PostgreSQL: the oldest transaction still running — or just above it when that
    one is our own (its rows are visible to us, and nothing older is still running); SQLite:
    no limit (writers take turns, so ids commit in order)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
                "pg_current_xact_id_if_assigned()::text::bigint"
            )
            oldest, own = cursor.fetchone()
            return oldest + 1 if own == oldest else oldest
    return FAR


def _start_position() -> tuple[int, int]:
    """Where deltas start after a snapshot begun now: every feed row before it is already
    reflected in what the snapshot reads; rows after it come as deltas."""
    last = Change.objects.aggregate(last=Max("id"))["last"] or 0
    if connection.vendor == "postgresql":
        return safe_limit() - 1, last
    return 0, last


def _residence_filter(record_type, residence_ids) -> Q:
    if record_type.residence is None:
        return Q()
    path = "pk" if record_type.residence == "pk" else record_type.residence.removesuffix("_id")
    return Q(**{f"{path}__in": residence_ids})


def snapshot(user, cursor: str | None) -> Page:
    kinds = list(TYPES)
    if not cursor:
        txid, change_id = _start_position()
        index, last = 0, None
    else:
        try:
            _s, txid, change_id, index, last = cursor.split(".", 4)
            txid, change_id, index = int(txid), int(change_id), int(index)
        except ValueError:
            raise _bad_cursor() from None
        last = last or None
    page = Page(cursor="", more=True, reset=cursor is None or cursor == "")
    remaining = PAGE
    while index < len(kinds) and remaining > 0:
        record_type = TYPES[kinds[index]]
        queryset = record_type.queryset(user).order_by("pk")
        if last is not None:
            queryset = queryset.filter(pk__gt=last)
        objects = list(queryset[:remaining])
        page.records.extend(record_type.envelopes(objects))
        remaining -= len(objects)
        if len(objects) and remaining == 0:
            last = str(objects[-1].pk)
            break
        index, last = index + 1, None
    if index >= len(kinds):
        page.cursor, page.more = f"d.{txid}.{change_id}", False
        page.scope = list(visible_residences(user).values_list("pk", flat=True))
    else:
        page.cursor = f"s.{txid}.{change_id}.{index}.{last or ''}"
    return page


def changes_after(txid: int, change_id: int, limit: int, scope, organisation_id):
    """Feed rows after a position, final ones only, in the scope: a range scan of the
    `(txid, id)` index (a row-value comparison, which both databases read from the index)."""
    if connection.vendor == "postgresql":
        table = Change._meta.db_table
        # The table name is ours, the numbers go as parameters.
        after = Change.objects.filter(
            RawSQL(  # noqa: S611
                f'("{table}"."txid", "{table}"."id") > (%s, %s)',
                (txid, change_id),
                output_field=BooleanField(),
            ),
            txid__lt=limit,
        )
    else:
        # SQLite: txid is always 0. Its planner turns a row-value comparison next to another
        # bound on txid into a scan of the whole index; equality then a range on id is a seek.
        after = Change.objects.filter(txid=0, id__gt=change_id)
    return after.filter(
        Q(residence_id__in=scope)
        | Q(
            residence_id__isnull=True,
            organisation_id__in=[organisation_id] if organisation_id else [],
        )
        | Q(residence_id__isnull=True, organisation_id__isnull=True)
    ).order_by("txid", "id")


def delta(user, cursor: str, known: list[int] | None) -> Page:
    try:
        _d, txid, change_id = cursor.split(".")
        txid, change_id = int(txid), int(change_id)
    except ValueError:
        raise _bad_cursor() from None
    scope = set(visible_residences(user).values_list("pk", flat=True))
    page = Page(cursor=cursor, more=False, scope=sorted(scope))
    if known is not None:
        # Residences that left the agent's scope go as tombstones; new ones come whole.
        page.dropped_residences = sorted(set(known) - scope)
        added = sorted(scope - set(known))
        if added:
            for record_type in TYPES.values():
                if record_type.residence is None:
                    continue
                queryset = record_type.queryset(user).filter(_residence_filter(record_type, added))
                page.records.extend(record_type.envelopes(queryset))
    rows = list(
        changes_after(txid, change_id, safe_limit(), scope, user.organisation_id).values_list(
            "txid", "id", "kind", "record_id"
        )[: PAGE + 1]
    )
    page.more = len(rows) > PAGE
    rows = rows[:PAGE]
    if rows:
        page.cursor = f"d.{rows[-1][0]}.{rows[-1][1]}"
    wanted: dict[str, set] = {}
    for _txid, _id, kind, record_id in rows:
        if kind in TYPES:
            wanted.setdefault(kind, set()).add(record_id)
    for kind, ids in wanted.items():
        record_type = TYPES[kind]
        found = {str(obj.pk): obj for obj in record_type.queryset(user).filter(pk__in=list(ids))}
        page.records.extend(record_type.envelopes(found[i] for i in sorted(ids) if i in found))
        # Deleted, out of scope, or no longer kept by phones (a lifted rework...): tombstones.
        page.deleted.extend({"t": kind, "id": i} for i in sorted(ids) if i not in found)
    return page


def pull(user, cursor: str | None, known: list[int] | None = None) -> Page:
    if not cursor or cursor.startswith("s."):
        return snapshot(user, cursor)
    if cursor.startswith("d."):
        return delta(user, cursor, known)
    raise _bad_cursor()
