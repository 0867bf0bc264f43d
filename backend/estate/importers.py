"""Import the estate from the CSV files a landlord's ERP exports (docs/import.md).

Files as French spreadsheet software writes them: `;` separators, UTF-8 with or without BOM
or Windows-1252, dates as DD/MM/YYYY. One kind of record per file:

| kind        | key columns                                              |
| ----------- | -------------------------------------------------------- |
| residences  | code_agence, code_residence                              |
| batiments   | code_residence, code_batiment                            |
| entrees     | code_residence, code_batiment, code_entree               |
| logements   | code_residence, code_batiment, code_entree, code_logement |
| baux        | reference_contrat (+ the unit's four codes)              |
| locataires  | reference_contrat, nom, prenom                           |

Rules: a file-level problem (encoding, separator, missing columns) imports nothing; a bad row
is reported with its line number and reason and skipped; good rows are written in one
transaction, so a crash never leaves half a file; a re-run updates rows found by their key
instead of duplicating them.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from backend.core.text import normalise
from backend.estate import models as m
from backend.estate import phones

ENCODINGS = ("utf-8-sig", "cp1252")
CHUNK = 500


class ImportFileError(Exception):
    """The whole file is refused; nothing was imported."""


@dataclass
class RowError:
    line: int
    message: str


@dataclass
class ImportReport:
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    encoding: str = ""

    @property
    def rows_ok(self) -> int:
        return self.created + self.updated + self.unchanged


class RowInvalid(Exception):
    pass


def decode(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError:
        pass
    # Not UTF-8 as a whole. If some lines are UTF-8 with accents, the file mixes two encodings
    # (rows pasted from another file): reading it as Windows-1252 would garble those lines.
    first_bad, utf8_accented = None, False
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            if any(ord(c) > 127 for c in line.decode("utf-8")):
                utf8_accented = True
        except UnicodeDecodeError:
            first_bad = first_bad or number
    if utf8_accented and first_bad:
        raise ImportFileError(
            _(
                "Line %(line)d is not in UTF-8 while other lines are: the file mixes two encodings. "
                "Save it again as “CSV UTF-8” and retry."
            )
            % {"line": first_bad}
        )
    for encoding in ENCODINGS[1:]:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    try:
        data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFileError(
            _(
                "Line %(line)d holds bytes that are neither UTF-8 nor Windows-1252 (byte %(byte)s): "
                "save the file again as “CSV UTF-8” and retry."
            )
            % {"line": line, "byte": hex(data[exc.start])}
        ) from None
    raise AssertionError("unreachable")


def header_key(name: str) -> str:
    return normalise(name).replace(" ", "_")


def read_rows(data: bytes, required: list[str], optional: list[str]):
    text, encoding = decode(data)
    if not text.strip():
        raise ImportFileError(_("The file is empty."))
    first_line = text.lstrip("\ufeff").splitlines()[0]
    if ";" not in first_line:
        for sep, label in ((",", _("commas")), ("\t", _("tabs")), ("|", _("vertical bars"))):
            if sep in first_line:
                raise ImportFileError(
                    _(
                        "The columns are separated by %(separator)s: a semicolon (;) is expected, as "
                        "French spreadsheet software writes CSV files."
                    )
                    % {"separator": label}
                )
        if len(required) > 1:
            raise ImportFileError(
                _("The first line is not a header of columns separated by semicolons (;).")
            )
    reader = csv.reader(io.StringIO(text), delimiter=";")
    header = [header_key(h) for h in next(reader)]
    missing = [c for c in required if c not in header]
    if missing:
        raise ImportFileError(
            _("Missing columns: %(missing)s. Expected columns: %(expected)s.")
            % {"missing": ", ".join(missing), "expected": "; ".join(required + optional)}
        )
    duplicates = {h for h in header if h and header.count(h) > 1}
    if duplicates:
        raise ImportFileError(
            _("Columns given twice: %(columns)s.") % {"columns": ", ".join(sorted(duplicates))}
        )
    rows = []
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            rows.append((line, None))
            continue
        rows.append((line, {h: c.strip() for h, c in zip(header, cells, strict=True)}))
    return rows, encoding, set(header)


def parse_date(value: str, column: str) -> date | None:
    if not value:
        return None
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise RowInvalid(
        _("%(column)s: “%(value)s” is not a date (DD/MM/YYYY).")
        % {"column": column, "value": value}
    )


def parse_int(value: str, column: str, minimum: int | None = None) -> int | None:
    if not value:
        return None
    try:
        number = int(value.replace(" ", "").replace("\u00a0", ""))
    except ValueError:
        raise RowInvalid(
            _("%(column)s: “%(value)s” is not a whole number.") % {"column": column, "value": value}
        ) from None
    if minimum is not None and number < minimum:
        raise RowInvalid(
            _("%(column)s: %(value)s is below %(minimum)s.")
            % {"column": column, "value": number, "minimum": minimum}
        )
    return number


def parse_choice(
    value: str, column: str, choices: dict[str, str], default: str | None = None
) -> str:
    if not value:
        if default is None:
            raise RowInvalid(_("%(column)s is required.") % {"column": column})
        return default
    key = normalise(value)
    if key not in choices:
        raise RowInvalid(
            _("%(column)s: “%(value)s” is not one of: %(choices)s.")
            % {"column": column, "value": value, "choices": ", ".join(sorted(choices))}
        )
    return choices[key]


def required(row: dict, column: str, max_length: int = 200) -> str:
    value = row.get(column, "")
    if not value:
        raise RowInvalid(_("%(column)s is required.") % {"column": column})
    if len(value) > max_length:
        raise RowInvalid(
            _("%(column)s: at most %(count)d characters.") % {"column": column, "count": max_length}
        )
    return value


def optional(row: dict, column: str, max_length: int = 300) -> str:
    value = row.get(column, "")
    if len(value) > max_length:
        raise RowInvalid(
            _("%(column)s: at most %(count)d characters.") % {"column": column, "count": max_length}
        )
    return value


FREQUENCIES = {
    "hebdomadaire": m.InspectionFrequency.WEEKLY,
    "bimensuelle": m.InspectionFrequency.FORTNIGHTLY,
    "quinzaine": m.InspectionFrequency.FORTNIGHTLY,
    "mensuelle": m.InspectionFrequency.MONTHLY,
    "trimestrielle": m.InspectionFrequency.QUARTERLY,
}
UNIT_KINDS = {
    "appartement": m.UnitKind.APARTMENT,
    "maison": m.UnitKind.HOUSE,
    "pavillon": m.UnitKind.HOUSE,
    "commerce": m.UnitKind.COMMERCIAL,
    "local commercial": m.UnitKind.COMMERCIAL,
    "parking": m.UnitKind.PARKING,
    "garage": m.UnitKind.PARKING,
    "autre": m.UnitKind.OTHER,
}
PAYMENT_METHODS = {
    "prelevement": m.PaymentMethod.DIRECT_DEBIT,
    "prelevement automatique": m.PaymentMethod.DIRECT_DEBIT,
    "virement": m.PaymentMethod.TRANSFER,
    "cheque": m.PaymentMethod.CHEQUE,
    "especes": m.PaymentMethod.CASH,
    "carte": m.PaymentMethod.CASH,
    "autre": m.PaymentMethod.OTHER,
}
PERSON_ROLES = {
    "titulaire": m.Person.Role.SIGNATORY,
    "signataire": m.Person.Role.SIGNATORY,
    "cotitulaire": m.Person.Role.CO_SIGNATORY,
    "co titulaire": m.Person.Role.CO_SIGNATORY,
    "occupant": m.Person.Role.OCCUPANT,
}
CHANNELS = {
    "sms": m.Channel.SMS,
    "email": m.Channel.EMAIL,
    "e mail": m.Channel.EMAIL,
    "courriel": m.Channel.EMAIL,
}
LANGUAGES = {code: code for code, _label in m.LANGUAGES}


def _same(obj, name: str, value) -> bool:
    field = obj._meta.get_field(name)
    if field.is_relation:
        return getattr(obj, field.attname) == (value.pk if value is not None else None)
    return getattr(obj, name) == value


class Importer:
    kind = ""
    required: list[str] = []
    optional: list[str] = []
    fields: list[str] = []  # compared to decide updated / unchanged

    def __init__(self, organisation: m.Organisation):
        self.organisation = organisation

    def prepare(self, rows: list[dict]) -> None:
        """Load what rows refer to, in a few queries."""

    def build(self, row: dict):
        """Return (key, object or None if new, values): raise RowInvalid on a bad row."""
        raise NotImplementedError

    def save(self, items) -> tuple[int, int, int]:
        """Create and update in bulk. `items` is [(existing or None, values)]."""
        model = self.model
        created, updated, unchanged = [], [], 0
        for existing, values in items:
            if existing is None:
                obj = model(**values)
                self.finish(obj)
                created.append(obj)
            else:
                if all(_same(existing, f, values[f]) for f in self.fields if f in values):
                    unchanged += 1
                    continue
                for name, value in values.items():
                    setattr(existing, name, value)
                self.finish(existing)
                updated.append(existing)
        model.objects.bulk_create(created, batch_size=CHUNK)
        if updated:
            names = {name for _existing, values in items for name in values} & set(self.fields)
            model.objects.bulk_update(
                updated, [*sorted(names), *self.derived_fields], batch_size=CHUNK
            )
        self.after_save(created, updated)
        from backend.sync.records import record_objects

        record_objects([*created, *updated])  # bulk writes skip the signals that feed phones
        return len(created), len(updated), unchanged

    def after_save(self, created, updated) -> None:
        """Cascade what changed into the denormalised columns of the descendants."""

    def has(self, column: str) -> bool:
        """Whether the file has this optional column: a missing column changes nothing."""
        return column in self.present

    def finish(self, obj) -> None:
        if hasattr(obj, "prepare"):
            obj.prepare()

    derived_fields: list[str] = []
    present: set[str] = set()


class ResidenceImporter(Importer):
    kind = "residences"
    model = m.Residence
    required = ["code_agence", "code_residence", "nom", "adresse", "code_postal", "ville"]
    optional = ["nb_logements", "frequence_controle"]
    fields = [
        "agency",
        "name",
        "address",
        "postcode",
        "city",
        "units_count",
        "inspection_frequency",
    ]
    derived_fields = ["organisation", "search_text"]

    def prepare(self, rows):
        self.agencies = {a.code: a for a in m.Agency.objects.filter(organisation=self.organisation)}
        self.existing = {
            r.code: r for r in m.Residence.objects.filter(organisation=self.organisation)
        }

    def build(self, row):
        agency_code = required(row, "code_agence", 20)
        if agency_code not in self.agencies:
            raise RowInvalid(_("Unknown agency “%(code)s”.") % {"code": agency_code})
        code = required(row, "code_residence", 30)
        postcode = required(row, "code_postal", 5)
        if not re.fullmatch(r"\d{5}", postcode):
            raise RowInvalid(
                _("code_postal: “%(value)s” is not a French postcode.") % {"value": postcode}
            )
        values = {
            "agency": self.agencies[agency_code],
            "code": code,
            "name": required(row, "nom"),
            "address": required(row, "adresse", 300),
            "postcode": postcode,
            "city": required(row, "ville", 120),
        }
        if self.has("nb_logements"):
            values["units_count"] = parse_int(row["nb_logements"], "nb_logements", minimum=0) or 0
        if self.has("frequence_controle"):
            values["inspection_frequency"] = parse_choice(
                row["frequence_controle"],
                "frequence_controle",
                FREQUENCIES,
                default=m.InspectionFrequency.MONTHLY,
            )
        return code, self.existing.get(code), values

    def after_save(self, created, updated):
        m.cascade(residences=[r.pk for r in updated])


class BuildingImporter(Importer):
    kind = "batiments"
    model = m.Building
    required = ["code_residence", "code_batiment", "nom"]
    optional = ["adresse"]
    fields = ["residence", "name", "address"]

    def prepare(self, rows):
        self.residences = {
            r.code: r for r in m.Residence.objects.filter(organisation=self.organisation)
        }
        self.existing = {
            (b.residence.code, b.code): b
            for b in m.Building.objects.filter(
                residence__organisation=self.organisation
            ).select_related("residence")
        }

    def residence(self, row):
        code = required(row, "code_residence", 30)
        if code not in self.residences:
            raise RowInvalid(
                _("Unknown residence “%(code)s”: import the residences first.") % {"code": code}
            )
        return self.residences[code]

    def build(self, row):
        residence = self.residence(row)
        code = required(row, "code_batiment", 30)
        key = (residence.code, code)
        values = {"residence": residence, "code": code, "name": required(row, "nom")}
        if self.has("adresse"):
            values["address"] = optional(row, "adresse")
        return key, self.existing.get(key), values

    def after_save(self, created, updated):
        m.cascade(buildings=[b.pk for b in updated])


class EntranceImporter(BuildingImporter):
    kind = "entrees"
    model = m.Entrance
    required = ["code_residence", "code_batiment", "code_entree", "nom"]
    optional = ["adresse"]
    fields = ["building", "name", "address"]
    derived_fields = ["residence"]

    def prepare(self, rows):
        super().prepare(rows)
        self.buildings = self.existing
        self.existing = {
            (e.building.residence.code, e.building.code, e.code): e
            for e in m.Entrance.objects.filter(
                residence__organisation=self.organisation
            ).select_related("building__residence")
        }

    def building(self, row):
        residence = self.residence(row)
        code = required(row, "code_batiment", 30)
        building = self.buildings.get((residence.code, code))
        if building is None:
            raise RowInvalid(
                _("Unknown building “%(code)s” in residence “%(residence)s”.")
                % {"code": code, "residence": residence.code}
            )
        return building

    def build(self, row):
        building = self.building(row)
        code = required(row, "code_entree", 30)
        key = (building.residence.code, building.code, code)
        values = {"building": building, "code": code, "name": required(row, "nom")}
        if self.has("adresse"):
            values["address"] = optional(row, "adresse")
        return key, self.existing.get(key), values

    def after_save(self, created, updated):
        m.cascade(entrances=[e.pk for e in updated])


class UnitImporter(EntranceImporter):
    kind = "logements"
    model = m.Unit
    required = ["code_residence", "code_batiment", "code_entree", "code_logement"]
    optional = ["type", "etage", "porte", "pieces"]
    fields = ["entrance", "kind", "floor", "door", "rooms"]
    derived_fields = ["residence", "search_text"]

    def prepare(self, rows):
        super().prepare(rows)
        self.entrances = self.existing
        self.existing = {
            (
                u.entrance.building.residence.code,
                u.entrance.building.code,
                u.entrance.code,
                u.code,
            ): u
            for u in m.Unit.objects.filter(
                residence__organisation=self.organisation
            ).select_related("entrance__building__residence")
        }

    def entrance(self, row):
        building = self.building(row)
        code = required(row, "code_entree", 30)
        entrance = self.entrances.get((building.residence.code, building.code, code))
        if entrance is None:
            raise RowInvalid(
                _("Unknown entrance “%(code)s” in building “%(building)s”.")
                % {"code": code, "building": building.code}
            )
        return entrance

    def build(self, row):
        entrance = self.entrance(row)
        code = required(row, "code_logement", 30)
        key = (entrance.building.residence.code, entrance.building.code, entrance.code, code)
        values = {"entrance": entrance, "code": code}
        if self.has("type"):
            values["kind"] = parse_choice(
                row["type"], "type", UNIT_KINDS, default=m.UnitKind.APARTMENT
            )
        if self.has("etage"):
            values["floor"] = parse_int(row["etage"], "etage")
        if self.has("porte"):
            values["door"] = optional(row, "porte", 20)
        if self.has("pieces"):
            values["rooms"] = parse_int(row["pieces"], "pieces", minimum=0)
        return key, self.existing.get(key), values

    def after_save(self, created, updated):
        m.leases_follow(updated)  # a unit moved to another entrance takes its leases along


class LeaseImporter(UnitImporter):
    kind = "baux"
    model = m.Lease
    required = [
        "reference_contrat",
        "code_residence",
        "code_batiment",
        "code_entree",
        "code_logement",
        "date_debut",
    ]
    optional = ["numero_module", "mode_paiement", "date_fin", "code_foyer"]
    fields = ["unit", "module_number", "payment_method", "start_date", "end_date"]
    derived_fields = ["residence", "organisation"]

    def prepare(self, rows):
        super().prepare(rows)
        self.units = self.existing
        self.existing = {
            lease.reference: lease
            for lease in m.Lease.objects.filter(organisation=self.organisation).select_related(
                "household"
            )
        }
        self.households = {
            h.external_code: h
            for h in m.Household.objects.filter(organisation=self.organisation).exclude(
                external_code=""
            )
        }
        # Every lease period per unit, to refuse two tenants in one home at the same time.
        self.periods: dict[int, list[tuple[str, date, date | None]]] = {}
        for lease in self.existing.values():
            self.periods.setdefault(lease.unit_id, []).append(
                (lease.reference, lease.start_date, lease.end_date)
            )

    def build(self, row):
        try:
            reference = self.organisation.check_contract_reference(
                required(row, "reference_contrat", 30)
            )
        except ValidationError as exc:
            raise RowInvalid(" ".join(exc.messages)) from None
        entrance = self.entrance(row)
        code = required(row, "code_logement", 30)
        unit = self.units.get(
            (entrance.building.residence.code, entrance.building.code, entrance.code, code)
        )
        if unit is None:
            raise RowInvalid(
                _("Unknown unit “%(code)s” in entrance “%(entrance)s”.")
                % {"code": code, "entrance": entrance.code}
            )
        existing = self.existing.get(reference)
        start = parse_date(row.get("date_debut", ""), "date_debut")
        if start is None:
            raise RowInvalid(_("%(column)s is required.") % {"column": "date_debut"})
        values = {"unit": unit, "reference": reference, "start_date": start}
        if self.has("date_fin"):
            values["end_date"] = parse_date(row["date_fin"], "date_fin")
        end = values.get("end_date", existing.end_date if existing else None)
        if end and end < start:
            raise RowInvalid(_("date_fin is before date_debut."))
        for other, other_start, other_end in self.periods.get(unit.pk, []):
            if (
                other != reference
                and other_start <= (end or date.max)
                and (other_end is None or other_end >= start)
            ):
                raise RowInvalid(
                    _("This unit already has a lease over this period (L%(reference)s).")
                    % {"reference": other}
                )
        if self.has("numero_module"):
            values["module_number"] = optional(row, "numero_module", 20)
        if self.has("mode_paiement"):
            values["payment_method"] = parse_choice(
                row["mode_paiement"],
                "mode_paiement",
                PAYMENT_METHODS,
                default=m.PaymentMethod.TRANSFER,
            )
        values["_household_code"] = (
            optional(row, "code_foyer", 50) if self.has("code_foyer") else ""
        )
        periods = [p for p in self.periods.get(unit.pk, []) if p[0] != reference]
        self.periods[unit.pk] = [*periods, (reference, start, end)]
        return reference, existing, values

    def save(self, items):
        # Leases of one household code share a Household, also across imports (the code is
        # kept): one extranet registration per household, whatever the number of contracts.
        new_households = []
        for existing, values in items:
            code = values.pop("_household_code")
            if existing is not None:
                continue
            household = self.households.get(code) if code else None
            if household is None:
                household = m.Household(
                    organisation=self.organisation,
                    external_code=code,
                    name=_("Household %(code)s") % {"code": code or values["reference"]},
                )
                new_households.append(household)
                if code:
                    self.households[code] = household
            values["household"] = household
        m.Household.objects.bulk_create(new_households, batch_size=CHUNK)
        return super().save(items)

    def after_save(self, created, updated):
        pass  # leases are what it saves: nothing follows them

    def finish(self, obj):
        obj.residence_id = obj.unit.residence_id
        obj.organisation_id = self.organisation.pk


class TenantImporter(Importer):
    kind = "locataires"
    model = m.Person
    required = ["reference_contrat", "nom", "prenom"]
    optional = ["role", "mobile", "email", "canal_prefere", "langue"]
    fields = ["role", "mobile", "email", "preferred_channel", "language"]
    derived_fields = ["search_text"]

    def prepare(self, rows):
        self.leases = {
            lease.reference: lease
            for lease in m.Lease.objects.filter(organisation=self.organisation).select_related(
                "household", "residence"
            )
        }
        self.existing = {
            (p.household_id, normalise(p.last_name), normalise(p.first_name)): p
            for p in m.Person.objects.filter(household__organisation=self.organisation)
        }
        self.renamed: dict[int, m.Household] = {}

    def build(self, row):
        try:
            reference = self.organisation.check_contract_reference(
                required(row, "reference_contrat", 30)
            )
        except ValidationError as exc:
            raise RowInvalid(" ".join(exc.messages)) from None
        lease = self.leases.get(reference)
        if lease is None:
            raise RowInvalid(
                _("Unknown contract “%(reference)s”: import the leases first.")
                % {"reference": reference}
            )
        last, first = required(row, "nom", 100), required(row, "prenom", 100)
        household = lease.household
        key = (household.pk, normalise(last), normalise(first))
        existing = self.existing.get(key)
        values = {"household": household, "first_name": first, "last_name": last}
        if self.has("mobile"):
            values["mobile"] = row["mobile"]
            if values["mobile"]:
                try:
                    values["mobile"] = phones.parse_mobile(
                        values["mobile"], lease.residence.phone_region
                    )
                except ValidationError as exc:
                    raise RowInvalid(
                        _("mobile: %(error)s") % {"error": " ".join(exc.messages)}
                    ) from None
        if self.has("email"):
            values["email"] = row["email"].lower()
            if values["email"]:
                try:
                    validate_email(values["email"])
                except ValidationError:
                    raise RowInvalid(
                        _("email: “%(value)s” is not an e-mail address.")
                        % {"value": values["email"]}
                    ) from None
        mobile = values.get("mobile", existing.mobile if existing else "")
        email = values.get("email", existing.email if existing else "")
        if self.has("canal_prefere") or existing is None:
            channel = parse_choice(
                row.get("canal_prefere", ""),
                "canal_prefere",
                CHANNELS,
                default=m.Channel.SMS if mobile else m.Channel.EMAIL,
            )
            if channel == m.Channel.SMS and not mobile and email:
                channel = m.Channel.EMAIL
            values["preferred_channel"] = channel
        if self.has("role"):
            values["role"] = parse_choice(
                row["role"], "role", PERSON_ROLES, default=m.Person.Role.SIGNATORY
            )
        if (
            values.get("role", existing.role if existing else m.Person.Role.SIGNATORY)
            == m.Person.Role.SIGNATORY
        ):
            household.name = _("Household %(name)s") % {"name": last}
            self.renamed[household.pk] = household
        if self.has("langue"):
            values["language"] = parse_choice(row["langue"], "langue", LANGUAGES, default="fr")
        return key, existing, values

    def save(self, items):
        result = super().save(items)
        m.Household.objects.bulk_update(list(self.renamed.values()), ["name"], batch_size=CHUNK)
        return result


IMPORTERS = {
    cls.kind: cls
    for cls in (
        ResidenceImporter,
        BuildingImporter,
        EntranceImporter,
        UnitImporter,
        LeaseImporter,
        TenantImporter,
    )
}


def import_file(
    kind: str, data: bytes, organisation: m.Organisation, dry_run: bool = False
) -> ImportReport:
    if kind not in IMPORTERS:
        raise ImportFileError(
            _("Unknown kind “%(kind)s”: choose among %(kinds)s.")
            % {"kind": kind, "kinds": ", ".join(IMPORTERS)}
        )
    importer = IMPORTERS[kind](organisation)
    rows, encoding, importer.present = read_rows(data, importer.required, importer.optional)
    report = ImportReport(kind=kind, encoding=encoding)
    with transaction.atomic():
        importer.prepare([r for _, r in rows if r])
        items, seen = [], {}
        for line, row in rows:
            if row is None:
                report.errors.append(RowError(line, _("Wrong number of columns.")))
                continue
            try:
                key, existing, values = importer.build(row)
            except RowInvalid as exc:
                report.errors.append(RowError(line, str(exc)))
                continue
            if key in seen:
                report.errors.append(
                    RowError(
                        line, _("Same key as line %(line)d: row ignored.") % {"line": seen[key]}
                    )
                )
                continue
            seen[key] = line
            items.append((existing, values))
        report.created, report.updated, report.unchanged = importer.save(items)
        if dry_run:
            transaction.set_rollback(True)
    return report
