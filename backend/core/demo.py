"""Deterministic demo data: a fictional landlord, two agencies, 40 residences and 3,000 units
with French names, fiction phone numbers (ARCEP's reserved range), providers and one login per
role. Loaded once by `manage.py load_demo` (make run); a second run changes nothing."""

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction

from backend.accounts import demo_tenants
from backend.accounts.models import Role, User
from backend.estate import models as m

ORGANISATION_CODE = "HDR"
SEED = 20261123

# 40 residences, 3,000 units; eleven small ones (20 to 30 units) that must not be forgotten.
RESIDENCE_SIZES = [
    400,
    300,
    240,
    180,
    150,
    130,
    120,
    105,
    100,
    90,
    85,
    80,
    75,
    70,
    65,
    60,
    55,
    50,
    45,
    40,
    42,
    40,
    38,
    35,
    33,
    32,
    30,
    30,
    28,
    28,
    26,
    25,
    24,
    24,
    22,
    22,
    21,
    20,
    20,
    20,
]
assert sum(RESIDENCE_SIZES) == 3000, sum(RESIDENCE_SIZES)

RESIDENCE_NAMES = [
    "Les Tilleuls",
    "Le Clos des Vignes",
    "Les Marronniers",
    "La Source",
    "Les Peupliers",
    "Le Parc Fleuri",
    "Les Érables",
    "La Roseraie",
    "Les Coteaux",
    "Le Moulin",
    "Les Acacias",
    "La Pinède",
    "Les Cèdres",
    "Le Val d'Or",
    "Les Jardins de l'Abbaye",
    "La Haute-Borne",
    "Les Glycines",
    "Le Bocage",
    "Les Charmilles",
    "La Prairie",
    "Les Bruyères",
    "Le Belvédère",
    "Les Lilas",
    "La Fontaine",
    "Les Hirondelles",
    "Le Champ de Foire",
    "Les Ormes",
    "La Chênaie",
    "Les Mimosas",
    "Le Verger",
    "Les Sablons",
    "La Croix-Blanche",
    "Les Aubépines",
    "Le Petit Bois",
    "Les Violettes",
    "La Garenne",
    "Les Capucines",
    "Le Pré Vert",
    "Les Saules",
    "La Bergerie",
]
CITIES_NORTH = [
    ("Tours", "37000"),
    ("Saint-Cyr-sur-Loire", "37540"),
    ("Fondettes", "37230"),
    ("Mettray", "37390"),
    ("Notre-Dame-d'Oé", "37390"),
]
CITIES_SOUTH = [
    ("Joué-lès-Tours", "37300"),
    ("Saint-Avertin", "37550"),
    ("Chambray-lès-Tours", "37170"),
    ("Ballan-Miré", "37510"),
    ("Montbazon", "37250"),
]
STREETS = [
    "rue Victor-Hugo",
    "avenue Jean-Jaurès",
    "rue de la République",
    "allée des Tilleuls",
    "rue Pasteur",
    "boulevard Gambetta",
    "rue Jules-Ferry",
    "place de la Mairie",
    "rue du Général-de-Gaulle",
    "chemin des Vignes",
    "rue Émile-Zola",
    "avenue de Verdun",
    "rue Marcel-Pagnol",
    "allée Simone-Veil",
    "rue Colette",
    "impasse des Lilas",
]
FIRST_NAMES = [
    "Marie",
    "Jean",
    "Hélène",
    "Éric",
    "Françoise",
    "Michel",
    "Nathalie",
    "Philippe",
    "Isabelle",
    "Alain",
    "Sylvie",
    "Patrick",
    "Catherine",
    "Christophe",
    "Sophie",
    "Stéphane",
    "Céline",
    "Laurent",
    "Amélie",
    "Nicolas",
    "Chloé",
    "Julien",
    "Léa",
    "Thomas",
    "Manon",
    "Lucas",
    "Camille",
    "Hugo",
    "Inès",
    "Karim",
    "Fatima",
    "Mohamed",
    "Yasmina",
    "Mamadou",
    "Aïcha",
    "Ousmane",
    "Nadia",
    "Rachid",
    "Zoé",
    "Noé",
    "Anaïs",
    "Gaëlle",
    "Loïc",
    "Maëlys",
    "Jérôme",
    "Agnès",
    "Benoît",
    "Cécile",
    "Thérèse",
    "Joël",
    "Noël",
    "Élodie",
    "Raphaël",
    "Héloïse",
    "François",
    "Emma",
    "Louis",
    "Jade",
    "Gabriel",
    "Louise",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Lefebvre",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Garcia",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Gautier",
    "Masson",
    "Marchand",
    "Duval",
    "Denis",
    "Dumont",
    "Marie",
    "Lemaire",
    "Noël",
    "Meyer",
    "Dufour",
    "Meunier",
    "Brun",
    "Blanchard",
    "Giraud",
    "Joly",
    "Rivière",
    "Lucas",
    "Brunet",
    "Gaillard",
    "Barbier",
    "Arnaud",
    "Benali",
    "Diallo",
    "Traoré",
    "N'Diaye",
    "Haddad",
    "Nguyen",
    "Da Silva",
    "Ferreira",
    "Yilmaz",
    "Kaya",
    "Hoarau",
    "Payet",
    "Béranger",
    "Pérez",
    "Lévêque",
    "Côté",
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    description: str


LOGINS = [
    DemoLogin("admin", Role.ADMIN, "administratrice de l'organisme (patrimoine, administration)"),
    DemoLogin("responsable", Role.MANAGER, "responsable de l'agence Nord"),
    DemoLogin("responsable.sud", Role.MANAGER, "responsable de l'agence Sud"),
    DemoLogin("conseiller", Role.ADVISOR, "conseiller, agences Nord et Sud"),
    DemoLogin("agent", Role.AGENT, "agente de proximité, secteur Nord 1"),
    DemoLogin("agent.sud", Role.AGENT, "agent de proximité, secteur Sud 1"),
    DemoLogin("prestataire", Role.CONTRACTOR, "prestataire de ménage Propreté Ligérienne"),
    DemoLogin("ascensoriste", Role.CONTRACTOR, "technicien de l'ascensoriste Ascenseurs du Centre"),
]

# The régie's technicians: contractors' accounts of the in-house team, not demo logins.
REGIE_TECHNICIANS = [
    ("regie.martin", "Olivier", "Martin"),
    ("regie.diallo", "Aminata", "Diallo"),
    ("regie.garnier", "Thierry", "Garnier"),
]


def demo_password() -> str:
    return settings.DEMO_PASSWORD


def is_loaded() -> bool:
    return m.Organisation.objects.filter(code=ORGANISATION_CODE).exists()


def load() -> bool:
    """Load the demo data unless it is there already. Returns whether it loaded."""
    with transaction.atomic():
        if is_loaded():
            return False
        _Builder(random.Random(SEED)).build()
    return True


class _Builder:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.today = date(2026, 11, 1)
        self.phone_numbers = iter(rng.sample(range(10000), 10000))
        self.lease_number = 1_000_000
        self.email_counts: dict[str, int] = {}

    def build(self):
        rng = self.rng
        organisation = m.Organisation.objects.create(
            code=ORGANISATION_CODE, name="Habitat des Deux Rives", time_zone="Europe/Paris"
        )
        north = m.Agency.objects.create(
            organisation=organisation,
            code="01",
            name="Agence Nord",
            address="12 rue Nationale, 37000 Tours",
            phone="02 47 00 00 01",
            email="agence.nord@deux-rives.example",
        )
        south = m.Agency.objects.create(
            organisation=organisation,
            code="02",
            name="Agence Sud",
            address="4 avenue de la République, 37300 Joué-lès-Tours",
            phone="02 47 00 00 02",
            email="agence.sud@deux-rives.example",
        )
        residences = []
        order = list(range(len(RESIDENCE_SIZES)))
        rng.shuffle(order)
        for index, size_index in enumerate(order):
            size = RESIDENCE_SIZES[size_index]
            agency = north if index % 2 == 0 else south
            city, postcode = rng.choice(CITIES_NORTH if agency is north else CITIES_SOUTH)
            frequency = (
                m.InspectionFrequency.WEEKLY
                if size >= 150
                else m.InspectionFrequency.FORTNIGHTLY
                if size >= 60
                else m.InspectionFrequency.MONTHLY
            )
            residence = m.Residence(
                agency=agency,
                code=f"R{index + 1:03d}",
                name=RESIDENCE_NAMES[index],
                address=f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
                postcode=postcode,
                city=city,
                units_count=size,
                inspection_frequency=frequency,
            )
            residence.prepare()
            residences.append(residence)
        m.Residence.objects.bulk_create(residences)
        self.providers(organisation, residences)
        self.sectors(north, south, residences)
        for residence in residences:
            self.residence_content(organisation, residence)
        self.cover_lifts(residences)
        self.users(organisation, north, south)
        self.templates(organisation)
        self.inspection_history(organisation)
        from tickets import demo as tickets_demo

        tickets_demo.load(organisation)
        demo_tenants.build(organisation)

    def residence_content(self, organisation, residence):
        rng = self.rng
        size = residence.units_count
        per_building = rng.randint(40, 80)
        n_buildings = max(1, round(size / per_building))
        buildings = m.Building.objects.bulk_create(
            [
                m.Building(residence=residence, code=f"B{b + 1}", name=f"Bâtiment {chr(65 + b)}")
                for b in range(n_buildings)
            ]
        )
        remaining = size
        units, equipment = [], []
        for b_index, building in enumerate(buildings):
            building_units = remaining // (n_buildings - b_index)
            remaining -= building_units
            n_entrances = max(1, min(4, round(building_units / 20)))
            entrances = []
            for e in range(n_entrances):
                entrance = m.Entrance(
                    building=building,
                    residence=residence,
                    code=f"{building.code}E{e + 1}",
                    name=f"Entrée {e + 1}",
                    address=f"{rng.randint(1, 90)} {rng.choice(STREETS)}",
                )
                entrances.append(entrance)
            m.Entrance.objects.bulk_create(entrances)
            left = building_units
            for e_index, entrance in enumerate(entrances):
                count = left // (n_entrances - e_index)
                left -= count
                per_floor = 4
                floors = (count + per_floor - 1) // per_floor
                for u in range(count):
                    floor, door = divmod(u, per_floor)
                    unit = m.Unit(
                        entrance=entrance,
                        residence=residence,
                        code=f"{entrance.code}-{u + 1:03d}",
                        floor=floor,
                        door=f"{floor}{door + 1:02d}",
                        rooms=rng.choice([1, 2, 3, 3, 4, 4, 5]),
                    )
                    units.append(unit)
                equipment.append(
                    m.Equipment(
                        residence=residence,
                        building=building,
                        entrance=entrance,
                        kind=m.EquipmentKind.INTERCOM,
                        name=f"Interphone {entrance.name}",
                    )
                )
                equipment.append(
                    m.Equipment(
                        residence=residence,
                        building=building,
                        entrance=entrance,
                        kind=m.EquipmentKind.DOOR,
                        name=f"Porte {entrance.name}",
                    )
                )
                if floors >= 5:
                    equipment.append(
                        m.Equipment(
                            residence=residence,
                            building=building,
                            entrance=entrance,
                            kind=m.EquipmentKind.LIFT,
                            name=f"Ascenseur {building.name} {entrance.name}",
                            brand=rng.choice(["Otis", "Schindler", "Kone", "Thyssenkrupp"]),
                            serial_number=f"ASC-{rng.randint(10000, 99999)}",
                            contract=self.lift_contract,
                        )
                    )
            equipment.append(
                m.Equipment(
                    residence=residence,
                    building=building,
                    kind=m.EquipmentKind.VENTILATION,
                    name=f"VMC {building.name}",
                )
            )
        if size >= 60:
            equipment.append(
                m.Equipment(
                    residence=residence,
                    kind=m.EquipmentKind.PARKING_GATE,
                    name="Portail du parking",
                )
            )
        if size >= 150:
            equipment.append(
                m.Equipment(
                    residence=residence,
                    kind=m.EquipmentKind.BOILER,
                    name="Chaufferie collective",
                )
            )
        by_id = {b.pk: b for b in buildings}
        for unit in units:
            unit.entrance.building = by_id[unit.entrance.building_id]
            unit.entrance.building.residence = residence
            unit.prepare()
        m.Unit.objects.bulk_create(units)
        m.Equipment.objects.bulk_create(equipment)
        self.households(organisation, residence, units)

    def households(self, organisation, residence, units):
        rng = self.rng
        occupied = [u for u in units if rng.random() > 0.03]
        households = [m.Household(organisation=organisation, name="") for _ in occupied]
        people_per_household = []
        for household in households:
            last = rng.choice(LAST_NAMES)
            household.name = f"Foyer {last}"
            people = [
                self.person(household, rng.choice(FIRST_NAMES), last, m.Person.Role.SIGNATORY)
            ]
            if rng.random() < 0.4:
                people.append(
                    self.person(
                        household,
                        rng.choice(FIRST_NAMES),
                        last if rng.random() < 0.6 else rng.choice(LAST_NAMES),
                        m.Person.Role.CO_SIGNATORY,
                    )
                )
            people_per_household.append(people)
        m.Household.objects.bulk_create(households)
        leases, people = [], []
        for unit, household, members in zip(
            occupied, households, people_per_household, strict=True
        ):
            self.lease_number += rng.randint(1, 37)
            start = self.today - timedelta(days=rng.randint(30, 20 * 365))
            end = None
            if rng.random() < 0.02:
                end = self.today + timedelta(days=rng.randint(5, 80))  # leaving soon
            lease = m.Lease(
                organisation=organisation,
                residence=residence,
                unit=unit,
                household=household,
                reference=f"{self.lease_number:08d}",
                module_number=f"{rng.randint(1, 99):02d}",
                payment_method=rng.choice(
                    [m.PaymentMethod.DIRECT_DEBIT] * 11
                    + [m.PaymentMethod.TRANSFER] * 6
                    + [m.PaymentMethod.CHEQUE, m.PaymentMethod.CASH]
                ),
                start_date=start,
                end_date=end,
            )
            leases.append(lease)
            for person in members:
                person.household = household
                person.prepare()
                people.append(person)
        m.Lease.objects.bulk_create(leases)
        m.Person.objects.bulk_create(people)

    def person(self, household, first, last, role):
        rng = self.rng
        mobile = ""
        if rng.random() < 0.9:
            mobile = f"+3363998{next(self.phone_numbers):04d}"
        email = ""
        if rng.random() < 0.7:
            from backend.core.text import normalise

            base = f"{normalise(first)}.{normalise(last)}".replace(" ", "-").replace("'", "")
            n = self.email_counts.get(base, 0) + 1
            self.email_counts[base] = n
            email = f"{base}{n if n > 1 else ''}@example.org"
        channel = (
            m.Channel.SMS if mobile and (not email or rng.random() < 0.75) else m.Channel.EMAIL
        )
        language = "fr" if rng.random() < 0.95 else rng.choice(["en", "ar", "pt", "tr"])
        return m.Person(
            household=household,
            role=role,
            first_name=first,
            last_name=last,
            mobile=mobile,
            email=email,
            preferred_channel=channel,
            language=language,
        )

    def providers(self, organisation, residences):
        def provider(name, kind, siret):
            return m.Provider.objects.create(
                organisation=organisation,
                name=name,
                kind=kind,
                siret=siret,
                email=f"contact@{name.lower().replace(' ', '-')}.example",
            )

        start = date(2025, 1, 1)
        self.cleaning_north = provider(
            "Propreté Ligérienne", m.ProviderKind.CLEANING, "41234567800012"
        )
        self.cleaning_south = provider(
            "Net'Service Touraine", m.ProviderKind.CLEANING, "52345678900023"
        )
        self.lifts = provider("Ascenseurs du Centre", m.ProviderKind.MAINTENANCE, "63456789000034")
        multi = provider("Multitech 37", m.ProviderKind.MAINTENANCE, "74567890100045")
        self.regie = provider("Régie Deux Rives", m.ProviderKind.REGIE, "")
        thermal = provider("Thermi-Loire", m.ProviderKind.MAINTENANCE, "85678901200056")

        def contract(prov, reference, categories, covered, days, **extra):
            c = m.ProviderContract.objects.create(
                provider=prov,
                reference=reference,
                categories=categories,
                start_date=start,
                purchase_order_reference=f"BC-{reference}",
                **extra,
            )
            m.ContractSite.objects.bulk_create(
                [m.ContractSite(contract=c, residence=r, visit_days=days(r)) for r in covered]
            )
            return c

        def cleaning_days(residence):
            if residence.units_count >= 150:
                return [0, 2, 4]
            if residence.units_count >= 60:
                return [1, 3]
            return [self.rng.choice([0, 1, 2, 3, 4])]

        north = [r for r in residences if r.agency.code == "01"]
        south = [r for r in residences if r.agency.code == "02"]
        contract(
            self.cleaning_north,
            "MEN-2025-N",
            [m.WorkCategory.CLEANING],
            north,
            cleaning_days,
            rework_deadline_hours=48,
            penalty_per_day=50,
            penalty_grace_days=1,
            penalty_cap=500,
        )
        contract(
            self.cleaning_south,
            "MEN-2025-S",
            [m.WorkCategory.CLEANING],
            south,
            cleaning_days,
            rework_deadline_hours=72,
            penalty_per_day=40,
            penalty_grace_days=0,
            penalty_cap=400,
        )
        # Every residence with a lift is covered (cover_lifts, once the lifts exist).
        self.lift_contract = contract(
            self.lifts,
            "ASC-2025",
            [m.WorkCategory.LIFT],
            [r for r in residences if r.units_count >= 80],
            lambda r: [],
            rework_deadline_hours=24,
            penalty_per_day=150,
        )
        contract(
            thermal,
            "PC-2025",
            [m.WorkCategory.PLUMBING, m.WorkCategory.HEATING],
            residences,
            lambda r: [],
            rework_deadline_hours=48,
            penalty_per_day=40,
        )
        contract(
            multi,
            "MT-2025",
            [
                m.WorkCategory.VENTILATION,
                m.WorkCategory.INTERCOM,
                m.WorkCategory.DOORS,
                m.WorkCategory.PESTS,
            ],
            residences,
            lambda r: [],
            rework_deadline_hours=72,
            penalty_per_day=30,
        )
        contract(
            self.regie,
            "REGIE",
            [m.WorkCategory.MULTI, m.WorkCategory.ELECTRICITY],
            residences,
            lambda r: [],
            rework_deadline_hours=120,
        )

    def cover_lifts(self, residences):
        """The lift maintainer's contract covers every residence that has a lift."""
        covered = set(
            m.ContractSite.objects.filter(contract=self.lift_contract).values_list(
                "residence_id", flat=True
            )
        )
        with_lifts = set(
            m.Equipment.objects.filter(kind=m.EquipmentKind.LIFT).values_list(
                "residence_id", flat=True
            )
        )
        m.ContractSite.objects.bulk_create(
            [
                m.ContractSite(contract=self.lift_contract, residence=r, visit_days=[])
                for r in residences
                if r.pk in with_lifts and r.pk not in covered
            ]
        )

    def sectors(self, north, south, residences):
        for agency, prefix in ((north, "Nord"), (south, "Sud")):
            own = [r for r in residences if r.agency_id == agency.pk]
            half = len(own) // 2
            for number, chunk in ((1, own[:half]), (2, own[half:])):
                sector = m.Sector.objects.create(agency=agency, name=f"Secteur {prefix} {number}")
                sector.residences.set(chunk)

    def inspection_history(self, organisation):
        """A year of inspections: visits at each residence's frequency with realistic scores,
        rework (most lifted, some late or not lifted), penalties (confirmed, waived, one
        contested and one proposed), and one small residence left uninspected for months."""
        from decimal import Decimal

        from django.utils import timezone

        from backend.estate.models import ContractSite, ProviderContract
        from inspections.grids import ensure_default_grid
        from inspections.models import Answer, Item, Penalty, Rework, Visit

        rng = self.rng
        version = ensure_default_grid().current
        items = list(Item.objects.filter(zone__version=version).order_by("zone__order", "order"))
        today = timezone.localdate()
        now = timezone.now()
        agents = {}
        for agent in User.objects.filter(role=Role.AGENT, organisation=organisation).order_by(
            "username"
        ):
            for sector in agent.sectors.all():
                for residence_id in sector.residences.values_list("pk", flat=True):
                    agents.setdefault(residence_id, agent)
        cleaning = {}
        for site in ContractSite.objects.select_related("contract"):
            if "cleaning" in site.contract.categories:
                cleaning[site.residence_id] = site.contract
        residences = list(m.Residence.objects.filter(organisation=organisation).order_by("code"))
        forgotten = min((r for r in residences if r.units_count <= 30), key=lambda r: r.code)
        visits, answers, reworks = [], [], []
        for residence in residences:
            interval = residence.inspection_frequency
            contract = cleaning.get(residence.pk)
            quality = rng.uniform(0.80, 0.97)  # some sites are kept better than others
            day = today - timedelta(days=365) + timedelta(days=rng.randint(0, interval - 1))
            stop = (
                today - timedelta(days=100)
                if residence.pk == forgotten.pk
                else today - timedelta(days=1)
            )
            while day <= stop:
                if day.weekday() == 6:
                    day += timedelta(days=1)
                finished = timezone.make_aware(datetime.combine(day, time(9, rng.randint(0, 59))))
                visit = Visit(
                    organisation=organisation,
                    residence=residence,
                    grid_version=version,
                    contract=contract,
                    agent=agents.get(residence.pk),
                    planned_for=day,
                    status=Visit.Status.DONE,
                    started_at=finished - timedelta(minutes=25),
                    finished_at=finished,
                    joint=rng.random() < 0.08,
                )
                points = maximum = Decimal(0)
                critical_failed = False
                for item in items:
                    roll = rng.random()
                    value = (
                        "compliant"
                        if roll < quality
                        else "minor"
                        if roll < quality + (1 - quality) * 0.7
                        else "major"
                    )
                    if item.zone.name == "Ascenseur" and residence.units_count < 80:
                        value = "na"
                    if value != "na":
                        maximum += item.weight
                        points += (
                            item.weight
                            * {"compliant": 1, "minor": Decimal("0.5"), "major": 0}[value]
                        )
                        critical_failed |= item.critical and value != "compliant"
                    cause = (
                        ""
                        if value in ("compliant", "na")
                        else ("damage" if rng.random() < 0.15 else "service")
                    )
                    answer = Answer(
                        visit=visit,
                        item=item,
                        value=value,
                        cause=cause,
                        answered_at=finished,
                        comment="Traces au sol" if value == "major" else "",
                    )
                    answers.append(answer)
                    if value == "major" and cause == "service" and contract:
                        requested = finished
                        deadline = requested + timedelta(hours=contract.rework_deadline_hours)
                        late = rng.random() < 0.2
                        done = (
                            deadline + timedelta(hours=rng.randint(6, 90))
                            if late
                            else requested
                            + timedelta(hours=rng.randint(4, contract.rework_deadline_hours - 1))
                        )
                        lifted = rng.random() < 0.9
                        reworks.append(
                            Rework(
                                visit=visit,
                                answer=answer,
                                residence=residence,
                                contract=contract,
                                provider_id=contract.provider_id,
                                requested_at=requested,
                                deadline=deadline,
                                done_at=min(done, now),
                                provider_comment="Repassé",
                                status=Rework.Status.LIFTED if lifted else Rework.Status.NOT_LIFTED,
                                checked_at=min(done + timedelta(hours=20), now),
                            )
                        )
                visit.score = (points * 100 / maximum).quantize(Decimal("0.1")) if maximum else None
                visit.critical_failed = critical_failed
                visit.answered = sum(a.value != "na" for a in answers[-len(items) :])
                visit.defects = sum(a.value in ("minor", "major") for a in answers[-len(items) :])
                visit.passed = not critical_failed and visit.score is not None and visit.score >= 80
                visits.append(visit)
                day += timedelta(days=interval)
        Visit.objects.bulk_create(visits, batch_size=500)
        Answer.objects.bulk_create(answers, batch_size=2000)
        Rework.objects.bulk_create(reworks, batch_size=500)
        contracts = {c.pk: c for c in ProviderContract.objects.all()}
        penalties = []
        for n, rework in enumerate(
            r for r in reworks if r.status == Rework.Status.NOT_LIFTED or r.done_at > r.deadline
        ):
            contract = contracts[rework.contract_id]
            end = rework.checked_at if rework.status == Rework.Status.NOT_LIFTED else rework.done_at
            days = max(1, (end - rework.deadline).days + 1)
            amount = contract.penalty_per_day * days
            if contract.penalty_cap is not None:
                amount = min(amount, contract.penalty_cap)
            if amount <= 0:
                continue
            proposed = rework.checked_at
            status = Penalty.Status.CONFIRMED if n % 5 else Penalty.Status.WAIVED
            penalties.append(
                Penalty(
                    rework=rework,
                    residence_id=rework.residence_id,
                    contract=contract,
                    provider_id=rework.provider_id,
                    reason=Penalty.Reason.NOT_LIFTED
                    if rework.status == Rework.Status.NOT_LIFTED
                    else Penalty.Reason.LATE,
                    days_late=days,
                    amount=amount,
                    status=status,
                    proposed_at=proposed,
                    contest_until=proposed + timedelta(days=contract.contest_days),
                    decided_at=proposed + timedelta(days=contract.contest_days + 1),
                    decision_reason="Constat photo"
                    if status == Penalty.Status.CONFIRMED
                    else "Accord avec le prestataire",
                )
            )
        # The two latest penalties are still open: one proposed (its contest period running),
        # one contested by the provider and waiting for the manager's decision.
        recent = sorted(penalties, key=lambda p: p.proposed_at)[-2:]
        for p, status in zip(
            recent, [Penalty.Status.CONTESTED, Penalty.Status.PROPOSED], strict=False
        ):
            p.status, p.decided_at, p.decision_reason = status, None, ""
            p.proposed_at = now - timedelta(days=3 if status == Penalty.Status.CONTESTED else 1)
            p.contest_until = p.proposed_at + timedelta(days=p.contract.contest_days)
            if status == Penalty.Status.CONTESTED:
                p.contest_text = (
                    "Notre équipe est passée dans les délais : voir notre bon d'intervention."
                )
                p.contested_at = p.proposed_at + timedelta(days=1)
        Penalty.objects.bulk_create(penalties, batch_size=500)
        # Open rework for the provider's login to answer.
        open_visit = next(
            v
            for v in reversed(visits)
            if v.contract_id and v.contract.provider_id == self.cleaning_north.pk
        )
        answer = next(a for a in answers if a.visit_id == open_visit.pk and a.value != "na")
        Answer.objects.filter(pk=answer.pk).update(
            value="major", cause="service", comment="Sol du hall non lavé"
        )
        if not Rework.objects.filter(answer_id=answer.pk).exists():
            Rework.objects.create(
                visit=open_visit,
                answer_id=answer.pk,
                residence=open_visit.residence,
                contract=open_visit.contract,
                provider_id=open_visit.contract.provider_id,
                requested_at=now - timedelta(hours=3),
                deadline=now + timedelta(hours=45),
            )

    def templates(self, organisation):
        from messaging.models import Template, TemplateVariant

        texts = [
            (
                "ascenseur-panne",
                "Ascenseur en panne",
                "operational",
                "both",
                "Bonjour {{ prenom }}, l'ascenseur de {{ batiment }} ({{ residence }}) est en panne. "
                "Le technicien est prévenu, nous vous tenons informé. {{ agence }}",
                "Ascenseur en panne à {{ residence }}",
                "Bonjour {{ prenom }},\n\nL'ascenseur de {{ batiment }} est en panne. Le technicien est "
                "prévenu et nous vous tiendrons informé de sa remise en service.\n\n{{ agence }} — {{ telephone_agence }}",
            ),
            (
                "ascenseur-repare",
                "Ascenseur réparé",
                "operational",
                "sms",
                "Bonjour {{ prenom }}, l'ascenseur de {{ batiment }} fonctionne de nouveau. Merci de votre patience. {{ agence }}",
                "",
                "",
            ),
            (
                "coupure-eau",
                "Coupure d'eau programmée",
                "operational",
                "both",
                "Bonjour {{ prenom }}, une coupure d'eau aura lieu à {{ residence }} ({{ entree }}) pour travaux. {{ agence }}",
                "Coupure d'eau programmée à {{ residence }}",
                "Bonjour {{ prenom }},\n\nUne coupure d'eau est programmée dans votre immeuble pour des travaux.\n\n{{ agence }}",
            ),
            (
                "fete-voisins",
                "Fête des voisins",
                "information",
                "email",
                "",
                "Fête des voisins à {{ residence }}",
                "Bonjour {{ prenom }},\n\nVotre amicale organise la fête des voisins au pied de votre immeuble. "
                "Venez nombreux !\n\n{{ agence }}",
            ),
        ]
        for key, name, purpose, channels, sms_body, subject, text in texts:
            template = Template.objects.create(
                organisation=organisation, key=key, name=name, purpose=purpose, channels=channels
            )
            TemplateVariant.objects.create(
                template=template,
                language="fr",
                sms_body=sms_body,
                email_subject=subject,
                email_text=text,
            )
        for key, name, sms_body in [
            (
                "proprete-controle",
                "Contrôle de propreté conforme",
                "Bonjour, la propreté des parties communes de {{ residence }} a été vérifiée aujourd'hui et "
                "trouvée conforme. Merci de contribuer à la propreté de votre immeuble. {{ agence }}",
            ),
            (
                "reprise-levee",
                "Reprise levée",
                "Bonjour, un défaut de propreté relevé dans les parties communes de {{ residence }} a été "
                "corrigé par le prestataire et vérifié par notre agent. {{ agence }}",
            ),
        ]:
            template, _created = Template.objects.get_or_create(
                organisation=organisation,
                key=key,
                defaults={"name": name, "purpose": "information", "channels": "sms"},
            )
            TemplateVariant.objects.update_or_create(
                template=template, language="fr", defaults={"sms_body": sms_body}
            )
        english = Template.objects.get(organisation=organisation, key="ascenseur-panne")
        TemplateVariant.objects.create(
            template=english,
            language="en",
            sms_body="Hello {{ prenom }}, the lift of {{ batiment }} ({{ residence }}) is out of order. "
            "The technician has been called; we will keep you informed. {{ agence }}",
            email_subject="Lift out of order at {{ residence }}",
            email_text="Hello {{ prenom }},\n\nThe lift of {{ batiment }} is out of order. We will keep you informed.",
        )

    def users(self, organisation, north, south):
        password = demo_password()
        sectors = {s.name: s for s in m.Sector.objects.all()}
        names = {
            "admin": ("Claire", "Admin"),
            "responsable": ("Sébastien", "Moreau"),
            "responsable.sud": ("Hélène", "Dubreuil"),
            "conseiller": ("Yanis", "Benali"),
            "agent": ("Sandrine", "Lefèvre"),
            "agent.sud": ("Mickaël", "Hoarau"),
            "prestataire": ("Rui", "Ferreira"),
            "ascensoriste": ("Bruno", "Lemaire"),
        }
        providers = {"prestataire": self.cleaning_north, "ascensoriste": self.lifts}
        for login in LOGINS:
            first, last = names[login.username]
            user = User(
                username=login.username,
                first_name=first,
                last_name=last,
                role=login.role,
                organisation=organisation,
                email=f"{login.username}@deux-rives.example",
            )
            if login.role == Role.CONTRACTOR:
                user.provider = providers[login.username]
            user.set_password(password)
            user.save()
            if login.username == "responsable":
                user.agencies.set([north])
            elif login.username == "responsable.sud":
                user.agencies.set([south])
            elif login.username == "conseiller":
                user.agencies.set([north, south])
            elif login.username == "agent":
                user.sectors.set([sectors["Secteur Nord 1"]])
            elif login.username == "agent.sud":
                user.sectors.set([sectors["Secteur Sud 1"]])
        for username, first, last in REGIE_TECHNICIANS:
            technician = User(
                username=username,
                first_name=first,
                last_name=last,
                role=Role.CONTRACTOR,
                organisation=organisation,
                provider=self.regie,
                email=f"{username}@deux-rives.example",
            )
            technician.set_unusable_password()
            technician.save()
