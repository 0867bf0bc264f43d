"""The record types that phones keep, and how their changes reach the feed (docs/sync.md).

Each app registers its types: the model, where its residence is (the scope), what a phone
keeps (open rework, this week's rounds...), and a compact serialisation. Saving or deleting a
registered model writes a `Change` row in the same transaction (signals); bulk writes that skip
signals call `record_many()` themselves.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db.models import Model, QuerySet
from django.db.models.signals import post_delete, post_save


def _same(queryset: QuerySet) -> QuerySet:
    return queryset


@dataclass(frozen=True)
class RecordType:
    kind: str
    model: type[Model]
    # Attribute holding the residence id ("residence_id"; "pk" for residences themselves), or
    # None for records of the whole organisation (grids), scoped by `organisation`.
    residence: str | None
    serialize: Callable[[Model], dict]
    keep: Callable[[QuerySet], QuerySet] = _same
    related: tuple = ()
    organisation: Callable[[Model], int | None] | None = None
    # Other models whose changes change this record: (model, function(instance) -> records),
    # each record a (record_id, residence_id, organisation_id) tuple.
    watch: tuple = field(default_factory=tuple)
    # Optional: serialise a page of records at once, when one at a time would query per record.
    serialize_many: Callable[[list], list[dict]] | None = None

    def envelopes(self, objects: Iterable[Model]) -> list[dict]:
        """What a phone receives: type, id, residence and the compact data of each record."""
        objects = list(objects)
        if self.serialize_many:
            data = self.serialize_many(objects)
        else:
            data = [self.serialize(obj) for obj in objects]
        return [
            {"t": self.kind, "id": str(obj.pk), "r": self.residence_of(obj), "d": d}
            for obj, d in zip(objects, data, strict=True)
        ]

    def residence_of(self, obj) -> int | None:
        return getattr(obj, self.residence) if self.residence else None

    def organisation_of(self, obj) -> int | None:
        return self.organisation(obj) if self.organisation else None

    def queryset(self, user) -> QuerySet:
        from backend.accounts.scoping import scoped

        queryset = self.keep(scoped(user, self.model))
        # select_related() without names would follow every foreign key, recursively.
        return queryset.select_related(*self.related) if self.related else queryset


TYPES: dict[str, RecordType] = {}


def register(record_type: RecordType) -> None:
    """Register a type once (apps' ready()); its saves and deletes feed the change log."""
    if record_type.kind in TYPES:
        return
    TYPES[record_type.kind] = record_type

    def on_change(sender, instance, **kwargs):
        if kwargs.get("raw"):
            return  # fixtures
        record(
            record_type.kind,
            instance.pk,
            record_type.residence_of(instance),
            record_type.organisation_of(instance),
        )

    uid = f"sync:{record_type.kind}"
    post_save.connect(on_change, sender=record_type.model, weak=False, dispatch_uid=uid + ":save")
    post_delete.connect(on_change, sender=record_type.model, weak=False, dispatch_uid=uid + ":del")
    for n, (model, records_of) in enumerate(record_type.watch):

        def on_related(sender, instance, records_of=records_of, **kwargs):
            if kwargs.get("raw"):
                return
            record_many(record_type.kind, records_of(instance))

        post_save.connect(on_related, sender=model, weak=False, dispatch_uid=f"{uid}:w{n}:save")
        post_delete.connect(on_related, sender=model, weak=False, dispatch_uid=f"{uid}:w{n}:del")


def record(kind: str, record_id, residence_id: int | None, organisation_id: int | None = None):
    from backend.sync.models import Change

    Change.objects.create(
        kind=kind,
        record_id=str(record_id),
        residence_id=residence_id,
        organisation_id=organisation_id,
    )


def record_many(kind: str, rows: Iterable[tuple]) -> None:
    """Changes of records written in bulk: (record_id, residence_id[, organisation_id]) rows."""
    from backend.sync.models import Change

    Change.objects.bulk_create(
        [
            Change(
                kind=kind,
                record_id=str(row[0]),
                residence_id=row[1],
                organisation_id=row[2] if len(row) > 2 else None,
            )
            for row in rows
        ],
        batch_size=1000,
    )


def record_objects(objects, moved: bool = False) -> None:
    """Changes of model instances written in bulk (imports, cascades), if phones keep their
    type. `moved`: they may have changed residence, so the phones of the old one must hear of
    it too — recorded for the whole organisation, each phone then keeps or drops the record."""
    objects = list(objects)
    organisations = _organisations(objects) if moved else {}
    by_kind: dict[str, list] = {}
    for obj in objects:
        for record_type in TYPES.values():
            if isinstance(obj, record_type.model):
                if moved:
                    row = (
                        obj.pk,
                        None,
                        getattr(obj, "organisation_id", None)
                        or organisations.get(_residence_id(obj)),
                    )
                else:
                    row = (obj.pk, record_type.residence_of(obj), record_type.organisation_of(obj))
                by_kind.setdefault(record_type.kind, []).append(row)
    for kind, rows in by_kind.items():
        record_many(kind, rows)


def _residence_id(obj) -> int | None:
    from backend.estate.models import Residence

    return obj.pk if isinstance(obj, Residence) else getattr(obj, "residence_id", None)


def _organisations(objects) -> dict[int, int]:
    """Residence id -> organisation id for the objects' residences, in one query."""
    from backend.estate.models import Residence

    ids = {_residence_id(obj) for obj in objects} - {None}
    return dict(Residence.objects.filter(pk__in=ids).values_list("pk", "organisation_id"))


# --- the estate, as phones need it ----------------------------------------------------------


def register_core_types() -> None:
    from backend.estate.models import Building, Entrance, Equipment, Residence, Unit

    register(
        RecordType(
            kind="residence",
            model=Residence,
            residence="pk",
            serialize=lambda r: {
                "code": r.code,
                "name": r.name,
                "address": r.address,
                "postcode": r.postcode,
                "city": r.city,
                "units": r.units_count,
                "frequency": r.inspection_frequency,
            },
        )
    )
    register(
        RecordType(
            kind="building",
            model=Building,
            residence="residence_id",
            serialize=lambda b: {"residence": b.residence_id, "code": b.code, "name": b.name},
        )
    )
    register(
        RecordType(
            kind="entrance",
            model=Entrance,
            residence="residence_id",
            serialize=lambda e: {
                "residence": e.residence_id,
                "building": e.building_id,
                "code": e.code,
                "name": e.name,
            },
        )
    )
    register(
        RecordType(
            kind="unit",
            model=Unit,
            residence="residence_id",
            serialize=lambda u: {
                "residence": u.residence_id,
                "entrance": u.entrance_id,
                "code": u.code,
                "door": u.door,
                "floor": u.floor,
            },
        )
    )
    register(
        RecordType(
            kind="equipment",
            model=Equipment,
            residence="residence_id",
            serialize=lambda q: {
                "residence": q.residence_id,
                "building": q.building_id,
                "entrance": q.entrance_id,
                "kind": q.kind,
                "name": q.name,
            },
            keep=lambda qs: qs.filter(is_active=True),  # out of service: a tombstone
        )
    )
