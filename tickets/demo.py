"""The demo's requests (`manage.py load_demo`, called by backend.core.demo once the estate, the
people, the providers, the logins and the templates exist).

- A year of history, written in bulk: technical requests and complaints on every channel, with
  their timeline, work orders, slots, appointments and satisfaction scores, at realistic
  delays; most are closed, some are open, a few overdue, some scheduled in the coming days. The
  reference counters are kept in step, so that the next request continues after them. This
  history has no outbox messages (there would be thousands): its timeline says what each
  tenant was told.
- One lift breakdown reported three times on three channels (phone, the agent in the field, an
  inbound SMS), grouped, sent to the lift maintainer, booked, repaired and closed through the
  real services, so that every message to each reporter is in the outbox; and one lift that
  broke down this morning, its technician expected tomorrow (the hall's QR page says so).

The real services run at past moments: the clock (django.utils.timezone.now) is moved for the
duration of each step. Loading is single-threaded and happens before the server starts.
"""

import random
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from backend.accounts.models import Role, User
from backend.core.bulk import insert_objects, insert_rows
from backend.estate import models as m
from backend.estate.services import contracts_for
from tickets import deadlines, services
from tickets.models import (
    CATEGORY_RULES,
    Appointment,
    Category,
    Counter,
    Event,
    IntakeChannel,
    Kind,
    Payer,
    Request,
    Slot,
    Status,
    Urgency,
    WorkOrder,
)

SEED = 20261124
REQUESTS_PER_YEAR = 2400
TWO_WAY_NUMBER = "+33939000001"

# Drawn first, then adjusted: a QR code is in a hall (common areas only), an agent has a
# sector, an SMS or an e-mail needs the tenant's mobile or address; the rest is by phone.
CHANNEL_WEIGHTS = {
    IntakeChannel.PHONE: 15,
    IntakeChannel.COUNTER: 8,
    IntakeChannel.FIELD: 28,
    IntakeChannel.SMS: 13,
    IntakeChannel.EMAIL: 16,
    IntakeChannel.QR: 20,
}
CATEGORY_WEIGHTS = {
    Category.LEAK: 12,
    Category.HEATING: 9,
    Category.HOT_WATER: 6,
    Category.INTERCOM: 7,
    Category.DOOR: 8,
    Category.LIFT: 6,
    Category.ELECTRICITY: 7,
    Category.PESTS: 4,
    Category.OTHER: 10,
    Category.NEIGHBOURHOOD: 12,
    Category.CHARGES: 7,
    Category.RENT: 4,
}
# Share of a category's requests about the common areas (an entrance) rather than a home.
COMMON_SHARE = {
    Category.LEAK: 0.2,
    Category.HEATING: 0.1,
    Category.HOT_WATER: 0.0,
    Category.INTERCOM: 1.0,
    Category.DOOR: 0.7,
    Category.LIFT: 1.0,
    Category.ELECTRICITY: 0.6,
    Category.PESTS: 0.4,
    Category.OTHER: 0.5,
}
DESCRIPTIONS = {
    (Category.LEAK, False): [
        "Fuite sous l'évier de la cuisine, l'eau coule dans le placard.",
        "Fuite au niveau du ballon d'eau chaude, flaque au sol.",
        "Le voisin du dessus a une fuite : tache d'humidité au plafond de la salle de bains.",
        "Le joint de la baignoire fuit, l'eau passe chez le voisin du dessous.",
        "Chasse d'eau qui coule en continu.",
    ],
    (Category.LEAK, True): [
        "Fuite d'eau dans la cage d'escalier au 2e étage.",
        "Infiltration au plafond du hall après la pluie.",
        "Canalisation qui goutte dans le local poubelles.",
    ],
    (Category.HEATING, False): [
        "Radiateurs froids dans tout le logement depuis hier soir.",
        "Le radiateur de la chambre ne chauffe plus.",
        "Chaudière en panne, code erreur affiché.",
        "Chauffage trop faible, 16 °C dans le séjour.",
    ],
    (Category.HEATING, True): [
        "Plus de chauffage dans toute l'entrée depuis ce matin.",
        "Radiateurs froids chez plusieurs locataires de l'immeuble.",
    ],
    (Category.HOT_WATER, False): [
        "Plus d'eau chaude depuis ce matin.",
        "Eau chaude tiède, le ballon ne chauffe plus.",
        "Le chauffe-eau se met en sécurité.",
    ],
    (Category.INTERCOM, True): [
        "L'interphone ne sonne plus chez plusieurs locataires.",
        "Le badge n'ouvre plus la porte du hall.",
        "Platine d'interphone cassée, les visiteurs ne peuvent pas appeler.",
    ],
    (Category.DOOR, False): [
        "La serrure de la porte d'entrée du logement est bloquée.",
        "Porte-fenêtre du balcon qui ne ferme plus.",
        "Volet roulant de la chambre bloqué en position basse.",
    ],
    (Category.DOOR, True): [
        "La porte du hall ne se ferme plus, la ventouse ne tient pas.",
        "Porte du local vélos forcée.",
        "Ferme-porte cassé, la porte de l'entrée claque.",
    ],
    (Category.LIFT, True): [
        "Ascenseur en panne, bloqué au rez-de-chaussée.",
        "L'ascenseur s'arrête entre deux étages puis repart.",
        "Portes de l'ascenseur qui se referment mal.",
        "Bouton d'appel du 3e étage qui ne fonctionne plus.",
    ],
    (Category.ELECTRICITY, False): [
        "Prise de la cuisine qui fait des étincelles.",
        "Le disjoncteur saute dès qu'on allume le four.",
        "Plus de courant dans la salle de bains.",
    ],
    (Category.ELECTRICITY, True): [
        "Éclairage de la cage d'escalier en panne au 3e étage.",
        "Minuterie du hall qui ne fonctionne plus, on est dans le noir.",
        "Éclairage du parking en panne.",
    ],
    (Category.PESTS, False): [
        "Présence de cafards dans la cuisine.",
        "Punaises de lit dans la chambre.",
        "Souris dans le logement.",
    ],
    (Category.PESTS, True): [
        "Rats vus près du local poubelles.",
        "Cafards dans la cage d'escalier.",
        "Nid de guêpes au-dessus de l'entrée.",
    ],
    (Category.OTHER, False): [
        "VMC bruyante dans la salle de bains.",
        "Moisissures sur le mur de la chambre.",
        "Carrelage décollé dans l'entrée du logement.",
    ],
    (Category.OTHER, True): [
        "Boîte aux lettres forcée dans le hall.",
        "Tags sur le mur du hall.",
        "Encombrants déposés devant l'entrée.",
        "Vitre de la porte du local poubelles cassée.",
    ],
    (Category.NEIGHBOURHOOD, False): [
        "Bruit tous les soirs après minuit chez le voisin du dessus.",
        "Chien qui aboie toute la journée dans l'appartement voisin.",
        "Voisin qui fume dans la cage d'escalier.",
        "Véhicule garé en permanence sur ma place de parking.",
    ],
    (Category.CHARGES, False): [
        "Je conteste la régularisation des charges de l'année dernière.",
        "Montant des charges d'eau anormalement élevé.",
        "Je ne comprends pas la ligne « entretien des parties communes ».",
    ],
    (Category.RENT, False): [
        "Je souhaite un échéancier pour mon retard de loyer.",
        "Mon avis d'échéance ne tient pas compte de mon APL.",
        "Je demande une attestation de paiement du loyer.",
    ],
}
DONE_COMMENTS = {
    Category.LEAK: [
        "Joint remplacé, plus de fuite.",
        "Siphon changé et raccord resserré.",
        "Recherche de fuite faite, canalisation réparée.",
    ],
    Category.HEATING: [
        "Purge des radiateurs et remise en pression.",
        "Vanne thermostatique remplacée.",
        "Carte électronique de la chaudière remplacée.",
    ],
    Category.HOT_WATER: [
        "Résistance du chauffe-eau remplacée.",
        "Thermostat du ballon remplacé.",
    ],
    Category.INTERCOM: [
        "Combiné remplacé, essais d'appel OK.",
        "Platine de rue réparée, badges reprogrammés.",
    ],
    Category.DOOR: [
        "Cylindre remplacé, clés remises au locataire.",
        "Ventouse et ferme-porte réglés.",
        "Mécanisme de volet remplacé.",
    ],
    Category.LIFT: [
        "Contacteur de porte palière remplacé, essais OK.",
        "Cellule de porte nettoyée et réglée.",
        "Bouton d'appel remplacé.",
    ],
    Category.ELECTRICITY: [
        "Détecteur de présence remplacé.",
        "Prise remplacée et circuit contrôlé.",
        "Minuterie changée.",
    ],
    Category.PESTS: [
        "Traitement par gel effectué, second passage dans 3 semaines.",
        "Dératisation des parties communes effectuée.",
    ],
    Category.OTHER: [
        "Réparation effectuée.",
        "Nettoyage et remise en état faits.",
        "Pièce remplacée.",
    ],
}
COMPLAINT_DELAYS = [
    "Réponse sous 8 jours.",
    "Nous revenons vers vous sous 15 jours.",
    "Un courrier vous sera adressé sous 10 jours.",
]
COMPLAINT_ANSWERS = {
    Category.NEIGHBOURHOOD: [
        "Courrier de rappel au règlement intérieur envoyé au voisin.",
        "Médiation organisée avec les deux foyers.",
        "Rencontre avec le voisin, engagement écrit obtenu.",
    ],
    Category.CHARGES: [
        "Régularisation vérifiée : le montant est juste, le détail vous est envoyé.",
        "Erreur de répartition corrigée : avoir sur le prochain avis d'échéance.",
    ],
    Category.RENT: [
        "Échéancier de paiement mis en place.",
        "Avis d'échéance corrigé et renvoyé.",
        "Attestation envoyée par courrier.",
    ],
}
CANCEL_REASONS = [
    "Signalement en double.",
    "Le locataire a trouvé la cause lui-même, plus d'intervention nécessaire.",
    "Réparation locative, à la charge du locataire.",
]
SCORES = [5] * 45 + [4] * 30 + [3] * 12 + [2] * 7 + [1] * 6
SLOT_HOURS = [(8, 10), (10, 12), (14, 16), (16, 18)]


def load(organisation) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        _Loader(organisation, random.Random(SEED)).run()


# --- the clock -------------------------------------------------------------------------------

_real_now = timezone.now


@contextmanager
def _at(moment: datetime):
    """Run the real services as if it were `moment`. The model fields whose default is the
    clock function itself (not looked up at call time) are set afterwards."""
    started = _real_now()
    timezone.now = lambda: moment
    try:
        yield
    finally:
        timezone.now = _real_now
    for model, name in ((Event, "at"), (WorkOrder, "sent_at"), (Appointment, "booked_at")):
        model.objects.filter(**{f"{name}__gte": started}).update(**{name: moment})


# The history's requests and timeline (some 2,400 and 25,000 rows) are written as plain rows
# (backend.core.bulk): bulk_create would spend seconds turning them into model instances.
EVENT_COLUMNS = [
    "request",
    "kind",
    "status",
    "text",
    "told",
    "channel",
    "author",
    "author_label",
    "internal",
    "at",
]


# --- the plan of one request of the history ---------------------------------------------------


@dataclass
class _Step:
    at: datetime
    action: str
    data: dict = field(default_factory=dict)


@dataclass
class _Plan:
    created: datetime
    category: str
    channel: str
    residence: m.Residence
    entrance: m.Entrance | None
    unit: m.Unit | None
    equipment_id: int | None
    person: m.Person | None
    household: m.Household | None
    author: User | None
    description: str
    urgency: str
    payer: str = Payer.LANDLORD
    contact_name: str = ""
    contact_phone: str = ""
    steps: list = field(default_factory=list)
    id: uuid.UUID | None = None


class _Loader:
    def __init__(self, organisation, rng: random.Random):
        self.organisation = organisation
        self.rng = rng
        self.zone = organisation.zone
        self.now = _real_now()
        self.today = timezone.localdate(self.now, self.zone)
        self.inbound = 0

    # --- what the estate has ---

    def gather(self):
        organisation = self.organisation
        self.residences = {
            r.pk: r
            for r in m.Residence.objects.filter(organisation=organisation).select_related("agency")
        }
        self.entrances = {e.pk: e for e in m.Entrance.objects.filter(residence__in=self.residences)}
        self.units = {u.pk: u for u in m.Unit.objects.filter(residence__in=self.residences)}
        self.households = {h.pk: h for h in m.Household.objects.filter(organisation=organisation)}
        self.people: dict[int, list[m.Person]] = {}
        for person in m.Person.objects.filter(household__in=self.households).order_by("pk"):
            self.people.setdefault(person.household_id, []).append(person)
        self.occupied = []  # (unit, household) with a current lease and someone to speak for it
        leases = m.Lease.objects.current(self.today).filter(organisation=organisation)
        for unit_id, household_id, end in leases.order_by("unit_id").values_list(
            "unit_id", "household_id", "end_date"
        ):
            if household_id in self.people:
                self.occupied.append((self.units[unit_id], self.households[household_id], end))
        self.equipment: dict[tuple, int] = {}
        self.lifts: dict[int, m.Equipment] = {}
        for item in m.Equipment.objects.filter(residence__in=self.residences).order_by("pk"):
            if item.entrance_id:
                self.equipment.setdefault((item.entrance_id, item.kind), item.pk)
                if item.kind == m.EquipmentKind.LIFT:
                    self.lifts[item.entrance_id] = item
            else:
                self.equipment.setdefault((item.residence_id, item.kind), item.pk)
        users = User.objects.filter(organisation=organisation).select_related("provider")
        self.users = {u.username: u for u in users}
        self.advisor = self.users["conseiller"]
        self.managers = {
            agency_id: user
            for user in users.filter(role=Role.MANAGER)
            for agency_id in user.agencies.values_list("pk", flat=True)
        }
        self.agents = {}
        for agent in users.filter(role=Role.AGENT).order_by("username"):
            for sector in agent.sectors.all():
                for residence_id in sector.residences.values_list("pk", flat=True):
                    self.agents.setdefault(residence_id, agent)
        self.technicians: dict[int, list[User]] = {}
        for user in users.filter(role=Role.CONTRACTOR).order_by("username"):
            self.technicians.setdefault(user.provider_id, []).append(user)
        self.regie = m.Provider.objects.get(organisation=organisation, kind=m.ProviderKind.REGIE)
        self.regie_contracts = {
            s.residence_id: s.contract
            for s in m.ContractSite.objects.filter(contract__provider=self.regie).select_related(
                "contract__provider"
            )
        }
        ids = list(self.residences)
        self.contracts = {
            work: contracts_for(ids, work)
            for work in {r.work for r in CATEGORY_RULES.values() if r.work}
        }
        self.labels = {u.pk: services._label(u) for u in users}
        self.strings()
        self.deadline_hours = {
            (category, urgency): deadlines.hours_for(organisation.pk, category, urgency)
            for category in CATEGORY_RULES
            for urgency in Urgency.values
        }

    # --- time ---

    def local(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=self.zone)

    def working_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.organisation.is_public_holiday(day)

    def office(self, moment: datetime) -> datetime:
        """`moment`, or the next opening of the offices (8:30, Monday to Friday) after it."""
        local = moment.astimezone(self.zone)
        opens, closes = time(8, 30), time(17, 30)
        if self.working_day(local.date()) and opens <= local.time() < closes:
            return moment
        day = local.date() if local.time() < opens else local.date() + timedelta(days=1)
        while not self.working_day(day):
            day += timedelta(days=1)
        return self.local(day, 8, 30) + timedelta(minutes=self.rng.randint(0, 90))

    def hours(self, low: float, high: float) -> timedelta:
        return timedelta(hours=self.rng.uniform(low, high))

    def slot_after(self, moment: datetime, days: int) -> tuple[datetime, datetime]:
        day = moment.astimezone(self.zone).date() + timedelta(days=days)
        while not self.working_day(day):
            day += timedelta(days=1)
        for start, end in self.rng.sample(SLOT_HOURS, len(SLOT_HOURS)):
            if self.local(day, start) > moment + timedelta(hours=1):
                return self.local(day, start), self.local(day, end)
        return self.slot_after(moment, days + 1)

    # --- the history ---

    def pick(self, weights: dict):
        keys = list(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]

    def plan(self, occupied, excluded_households, excluded_lifts) -> _Plan | None:
        rng = self.rng
        channel = self.pick(CHANNEL_WEIGHTS)
        day = self.today - timedelta(days=rng.randint(0, 364))
        if channel in (IntakeChannel.PHONE, IntakeChannel.COUNTER, IntakeChannel.FIELD):
            while not self.working_day(day):
                day -= timedelta(days=1)
            created = self.local(day, 8, 30) + timedelta(minutes=rng.randint(0, 540))
        else:
            created = self.local(day, 7) + timedelta(minutes=rng.randint(0, 16 * 60))
        weights = dict(CATEGORY_WEIGHTS)
        if day.month in (10, 11, 12, 1, 2, 3):
            weights[Category.HEATING] *= 3
            weights[Category.HOT_WATER] *= 2
        else:
            weights[Category.HEATING] //= 3
        category = self.pick(weights)
        unit, household, _end = rng.choice(occupied)
        if household.pk in excluded_households:
            return None
        entrance = self.entrances[unit.entrance_id]
        residence = self.residences[unit.residence_id]
        rule = CATEGORY_RULES[category]
        common = rule.kind == Kind.TECHNICAL and rng.random() < COMMON_SHARE[category]
        equipment_id = None
        if category == Category.LIFT:
            lift = self.lifts.get(entrance.pk)
            if lift is None or lift.pk in excluded_lifts:
                category, rule = Category.DOOR, CATEGORY_RULES[Category.DOOR]
            else:
                equipment_id = lift.pk
        if common:
            kind = {
                Category.INTERCOM: m.EquipmentKind.INTERCOM,
                Category.DOOR: m.EquipmentKind.DOOR,
            }.get(category)
            if kind:
                equipment_id = self.equipment.get((entrance.pk, kind))
            if category == Category.HEATING:
                equipment_id = self.equipment.get((residence.pk, m.EquipmentKind.BOILER))
                if equipment_id is None:
                    common = False
        if channel == IntakeChannel.QR and (not common or category == Category.HEATING):
            channel = IntakeChannel.PHONE
        members = self.people[household.pk]
        person = members[0] if len(members) == 1 or rng.random() < 0.85 else members[1]
        if channel == IntakeChannel.SMS and not person.mobile:
            channel = IntakeChannel.PHONE
        if channel == IntakeChannel.EMAIL and not person.email:
            channel = IntakeChannel.PHONE
        agent = self.agents.get(residence.pk)
        if channel == IntakeChannel.FIELD and agent is None:
            channel = IntakeChannel.PHONE
        author = None
        if channel == IntakeChannel.FIELD:
            author = agent
        elif channel in (IntakeChannel.PHONE, IntakeChannel.COUNTER, IntakeChannel.EMAIL):
            manager = self.managers.get(residence.agency_id)
            author = manager if manager and rng.random() < 0.2 else self.advisor
        urgency = rule.urgency
        if rule.kind == Kind.TECHNICAL and rng.random() < 0.2:
            urgency = rng.choice([u for u in Urgency.values if u != rule.urgency])
        plan = _Plan(
            created=created,
            category=category,
            channel=channel,
            residence=residence,
            entrance=entrance,
            unit=None if common else unit,
            equipment_id=equipment_id,
            person=person,
            household=household,
            author=author,
            description=rng.choice(DESCRIPTIONS[(category, common)]),
            urgency=urgency,
        )
        if common and category == Category.HEATING:
            plan.entrance = None
        if channel == IntakeChannel.QR:
            plan.person = plan.household = None
            if rng.random() < 0.6:
                plan.contact_name = person.first_name
                plan.contact_phone = f"+3373998{rng.randint(0, 9999):04d}"
        if equipment_id and category == Category.LIFT:
            plan.payer = Payer.CONTRACT
        elif not common and category in (Category.DOOR, Category.OTHER) and rng.random() < 0.1:
            plan.payer = Payer.TENANT
        plan.id = uuid.UUID(int=rng.getrandbits(128), version=4)
        if rule.kind == Kind.TECHNICAL:
            self.technical_steps(plan)
        else:
            self.complaint_steps(plan)
        return plan

    def provider_for(self, plan: _Plan):
        """As services.default_provider: the contract covering the category, else the régie."""
        work = CATEGORY_RULES[plan.category].work
        contract = self.contracts[work].get(plan.residence.pk)
        if contract is None:
            contract = self.regie_contracts.get(plan.residence.pk)
        provider = contract.provider if contract else self.regie
        technicians = self.technicians.get(provider.pk, [])
        technician = self.rng.choice(technicians) if technicians else None
        return provider, contract, technician

    def technical_steps(self, plan: _Plan):
        rng, steps = self.rng, plan.steps
        urgent, low = plan.urgency == Urgency.URGENT, plan.urgency == Urgency.LOW
        ordered = self.office(
            plan.created
            + (
                self.hours(0.1, 1.5)
                if urgent
                else self.hours(2, 70)
                if low
                else self.hours(0.5, 26)
            )
        )
        if rng.random() < 0.03:
            steps.append(_Step(ordered, "cancel", {"reason": rng.choice(CANCEL_REASONS)}))
            return
        provider, contract, technician = self.provider_for(plan)
        order = {
            "provider": provider,
            "contract": contract,
            "technician": technician,
            "id": uuid.UUID(int=rng.getrandbits(128), version=4),
        }
        steps.append(_Step(ordered, "order", order))
        recent = self.now - plan.created < timedelta(days=45)
        stuck = recent and rng.random() < 0.06
        if stuck and rng.random() < 0.5:
            return  # the contractor never answered: overdue
        accepted = ordered + (self.hours(0.1, 2) if urgent else self.hours(0.5, 30))
        steps.append(_Step(accepted, "accept", order))
        if stuck:
            return  # accepted, then nothing: overdue
        if plan.unit is not None:
            booked = self.office(accepted + self.hours(0.05, 3))
            days = 0 if urgent else rng.randint(3, 15) if low else rng.randint(1, 8)
            start, end = self.slot_after(booked, days)
            steps.append(_Step(booked, "book", {**order, "slot": (start, end)}))
            if rng.random() < 0.07:
                missed = start + self.hours(0.3, 1.5)
                steps.append(_Step(missed, "no_access", order))
                booked = self.office(missed + self.hours(1, 30))
                start, end = self.slot_after(booked, rng.randint(1, 6))
                steps.append(_Step(booked, "book", {**order, "slot": (start, end)}))
            done = start + self.hours(0.3, 1.8)
        else:
            done = self.office(
                accepted
                + (
                    self.hours(1, 8)
                    if urgent
                    else self.hours(48, 300)
                    if low
                    else self.hours(20, 120)
                )
            )
        comment = rng.choice(DONE_COMMENTS[plan.category])
        steps.append(_Step(done, "done", {**order, "comment": comment}))
        self.closing_steps(plan, done)

    def complaint_steps(self, plan: _Plan):
        rng, steps = self.rng, plan.steps
        acknowledged = self.office(plan.created + self.hours(2, 48))
        if rng.random() < 0.03:
            steps.append(_Step(acknowledged, "cancel", {"reason": CANCEL_REASONS[0]}))
            return
        steps.append(_Step(acknowledged, "acknowledge", {"delay": rng.choice(COMPLAINT_DELAYS)}))
        done = self.office(acknowledged + self.hours(24, 400))
        answer = rng.choice(COMPLAINT_ANSWERS[plan.category])
        steps.append(_Step(done, "answer", {"comment": answer}))
        self.closing_steps(plan, done)

    def closing_steps(self, plan: _Plan, done: datetime):
        closed = self.office(done + self.hours(18, 120))
        plan.steps.append(_Step(closed, "close"))
        if plan.person is not None and plan.person.mobile and self.rng.random() < 0.55:
            rated = closed + self.hours(0.1, 30)
            plan.steps.append(_Step(rated, "rating", {"score": self.rng.choice(SCORES)}))

    def history(self, until: datetime, excluded_households, excluded_lifts) -> list[_Plan]:
        plans = []
        while len(plans) < REQUESTS_PER_YEAR:
            plan = self.plan(self.occupied, excluded_households, excluded_lifts)
            if plan is None or plan.created >= until:
                continue
            plan.steps = [s for s in plan.steps if s.at <= until]
            plans.append(plan)
        return plans

    # --- writing the history ---

    def strings(self):
        """The timeline's French lines, the same the services write, translated once."""
        from messaging.services import render_sms

        self.t = {
            key: _(text)
            for key, text in {
                "taken": "Request taken (%(channel)s): %(category)s, %(urgency)s.",
                "informed": "Tenant informed: %(title)s",
                "nobody": "Nobody could be told: no mobile or e-mail for this request.",
                "ronde": "Ronde",
                "qr": "Report from the hall's QR code",
                "acknowledged": "Request acknowledged.",
                "sent": "Work order %(number)s sent to %(provider)s.",
                "accepted": "Work order %(number)s accepted.",
                "booked": "Appointment booked with %(prestataire)s on %(date_rdv)s %(heure_rdv)s.",
                "absent": "Tenant absent or no access.",
                "waiting": "Waiting for a new appointment.",
                "call": "We will call you to set a new appointment.",
                "intervention": "Intervention done.",
                "reported": "Intervention reported done.",
                "done": "Done.",
                "closed": "Closed.",
                "rating": "Satisfaction: %(score)d / 5.",
                "cancelled": "Cancelled: %(reason)s",
            }.items()
        }
        self.channels = dict(IntakeChannel.choices)
        self.categories = dict(Category.choices)
        self.urgencies = {value: str(label).lower() for value, label in Urgency.choices}
        # Each message rendered once with markers, the values put in place for each tenant.
        names = [
            "prenom",
            "reference_demande",
            "agence",
            "telephone_agence",
            "delai",
            "date_rdv",
            "heure_rdv",
            "prestataire",
            "lien_suivi",
        ]
        self.bodies = {
            key: (
                self.t["informed"] % {"title": title()},
                render_sms(body(), {name: f"@@{name}@@" for name in names}),
            )
            for key, (title, body) in services.MESSAGES.items()
        }
        self.forced: dict[str, str] = {}

    def numbers(self, prefix: str, moments: list[datetime]) -> list[str]:
        """References for `moments` (sorted), after the counters' values, which follow."""
        values, out = {}, []
        for moment in moments:
            year = timezone.localdate(moment).year
            if year not in values:
                counter = Counter.objects.filter(
                    organisation=self.organisation, prefix=prefix, year=year
                ).first()
                values[year] = counter.value if counter else 0
            values[year] += 1
            out.append(f"{prefix}{year}-{values[year]:06d}")
        for year, value in values.items():
            Counter.objects.update_or_create(
                organisation=self.organisation,
                prefix=prefix,
                year=year,
                defaults={"value": value},
            )
        return out

    def told(self, plan: _Plan, reference: str, key: str, extra=None) -> tuple:
        """(text, told, channel, internal) of what the tenant was told."""
        from messaging import sms

        person = plan.person
        if person is not None:
            channel = person.preferred_channel if (person.mobile and person.email) else None
            channel = channel or ("sms" if person.mobile else "email" if person.email else "")
            first_name = person.first_name
        else:
            channel = "sms" if plan.contact_phone else ""
            first_name = plan.contact_name
        if not channel:
            return self.t["nobody"], "", "", True
        agency = plan.residence.agency
        values = {
            "prenom": first_name,
            "reference_demande": reference,
            "agence": agency.name,
            "telephone_agence": agency.phone,
            **(extra or {}),
        }
        text, body = self.bodies[key]
        for name, value in values.items():
            if value not in self.forced:
                self.forced[value] = sms.replace_forcing(value)
            body = body.replace(f"@@{name}@@", self.forced[value])
        for name in ("delai", "date_rdv", "heure_rdv", "prestataire", "lien_suivi"):
            body = body.replace(f"@@{name}@@", "")
        return text, body, channel, False

    def write(self, plans: list[_Plan]) -> None:
        if not plans:
            return
        plans.sort(key=lambda p: p.created)
        references = self.numbers("D", [p.created for p in plans])
        orders = sorted((s.at, s.data["id"]) for p in plans for s in p.steps if s.action == "order")
        order_numbers = dict(
            zip([o[1] for o in orders], self.numbers("BT", [o[0] for o in orders]), strict=True)
        )
        requests, events, work_orders, slots, appointments = [], [], {}, [], []
        organisation = self.organisation
        for plan, reference in zip(plans, references, strict=True):
            rule = CATEGORY_RULES[plan.category]
            acknowledge, resolve = self.deadline_hours[(plan.category, plan.urgency)]
            request = Request(
                id=plan.id,
                reference=reference,
                organisation=organisation,
                residence=plan.residence,
                building_id=plan.entrance.building_id if plan.entrance else None,
                entrance=plan.entrance,
                unit=plan.unit,
                equipment_id=plan.equipment_id,
                kind=rule.kind,
                category=plan.category,
                team=rule.team,
                urgency=plan.urgency,
                payer=plan.payer,
                description=plan.description,
                channel=plan.channel,
                status=Status.NEW,
                household=plan.household,
                person=plan.person,
                contact_name=plan.contact_name,
                contact_phone=plan.contact_phone,
                created_by=plan.author,
                created_at=plan.created,
                acknowledge_due_at=plan.created + timedelta(hours=acknowledge),
                resolve_due_at=plan.created + timedelta(hours=resolve),
            )
            request.search_text = services.search_text_of(request)
            requests.append(request)
            self.play(plan, request, order_numbers, events, work_orders, slots, appointments)
            request.updated_at = events[-1][-1]
        insert_objects(Request, requests)
        insert_objects(WorkOrder, list(work_orders.values()))
        Slot.objects.bulk_create(slots, batch_size=500)  # their ids, for the appointments
        for appointment in appointments:
            appointment.slot_id = appointment.slot.pk
        insert_objects(Appointment, appointments)
        insert_rows(Event, EVENT_COLUMNS, events)

    def play(self, plan, request, order_numbers, events, work_orders, slots, appointments):
        """Apply the plan's steps to the request, its timeline and its work order, as the
        services would have."""
        t, advisor, reference = self.t, self.advisor, request.reference
        order = booked = None

        def event(kind, text, at, user=None, label="", status="", channel="", told=""):
            events.append(
                (
                    request.pk,
                    kind,
                    status,
                    text,
                    told,
                    channel,
                    user.pk if user else None,
                    label or (self.labels[user.pk] if user else ""),
                    False,
                    at,
                )
            )

        def move(value, text, at, user=advisor):
            request.status = value
            event(Event.Kind.STATUS, text, at, user, status=value)

        def tell(key, at, extra=None):
            text, body, channel, internal = self.told(plan, reference, key, extra)
            events.append(
                (
                    request.pk,
                    Event.Kind.TOLD,
                    "",
                    text,
                    body,
                    channel,
                    None,
                    t["ronde"],
                    internal,
                    at,
                )
            )

        if plan.channel == IntakeChannel.QR:
            label = t["qr"]
        elif plan.author is None:
            label = str(plan.person)
        else:
            label = ""
        event(
            Event.Kind.CREATED,
            t["taken"]
            % {
                "channel": self.channels[plan.channel],
                "category": self.categories[plan.category],
                "urgency": self.urgencies[plan.urgency],
            },
            plan.created,
            plan.author,
            label,
            status=Status.NEW,
            channel=plan.channel,
        )
        tell("demande-prise-en-compte", plan.created)
        for step in plan.steps:
            at, data = step.at, step.data
            worker = data.get("technician") or advisor
            if step.action == "order":
                provider, contract = data["provider"], data["contract"]
                order = WorkOrder(
                    id=data["id"],
                    number=order_numbers[data["id"]],
                    organisation_id=request.organisation_id,
                    request=request,
                    residence=plan.residence,
                    provider=provider,
                    contract=contract,
                    purchase_order=contract.purchase_order_reference if contract else "",
                    access=WorkOrder.Access.TENANT_PRESENT if plan.unit else WorkOrder.Access.FREE,
                    technician=data["technician"],
                    status=WorkOrder.Status.SENT,
                    created_by=advisor,
                    sent_at=at,
                )
                work_orders[order.pk] = order
                request.acknowledged_at = at
                move(Status.ACKNOWLEDGED, t["acknowledged"], at)
                event(
                    Event.Kind.ORDER,
                    t["sent"] % {"number": order.number, "provider": provider.name},
                    at,
                    advisor,
                )
            elif step.action == "accept":
                order.status, order.answered_at = WorkOrder.Status.ACCEPTED, at
                event(Event.Kind.MILESTONE, t["accepted"] % {"number": order.number}, at, worker)
            elif step.action == "book":
                start, end = data["slot"]
                slot = Slot(
                    provider=order.provider,
                    technician=data["technician"],
                    starts_at=start,
                    ends_at=end,
                )
                slots.append(slot)
                reminder = self.local(start.astimezone(self.zone).date(), 18) - timedelta(days=1)
                booked = Appointment(
                    work_order=order,
                    slot=slot,
                    booked_by=advisor,
                    booked_at=at,
                    reminded_at=reminder if at < reminder <= self.now else None,
                )
                appointments.append(booked)
                order.status = WorkOrder.Status.APPOINTMENT
                extra = {
                    "prestataire": order.provider.name,
                    "date_rdv": services.day_text(start, self.organisation),
                    "heure_rdv": services.window_text(slot, self.organisation),
                }
                text = t["booked"] % extra
                event(Event.Kind.MILESTONE, text, at, advisor)
                move(Status.SCHEDULED, text, at)
                tell("demande-rdv", at, extra)
            elif step.action == "no_access":
                booked.status, booked.ended_at = Appointment.Status.CANCELLED, at
                order.status = WorkOrder.Status.NO_ACCESS
                event(Event.Kind.MILESTONE, t["absent"], at, worker)
                move(Status.ACKNOWLEDGED, t["waiting"], at, worker)
                tell(
                    "demande-absent",
                    at,
                    {"prestataire": order.provider.name, "delai": t["call"]},
                )
            elif step.action == "done":
                order.status, order.done_at = WorkOrder.Status.DONE, at
                order.comment = data["comment"]
                if booked is not None and booked.status == Appointment.Status.BOOKED:
                    booked.ended_at = at
                event(Event.Kind.MILESTONE, f"{t['intervention']} {data['comment']}", at, worker)
                request.done_at = at
                move(Status.DONE, t["reported"], at, worker)
                tell("demande-realisee", at)
            elif step.action == "acknowledge":
                request.acknowledged_at = at
                move(Status.ACKNOWLEDGED, f"{t['acknowledged']} {data['delay']}", at)
                tell("demande-delai", at, {"delai": data["delay"]})
            elif step.action == "answer":
                request.done_at = at
                move(Status.DONE, f"{t['done']} {data['comment']}", at)
                tell("demande-realisee", at)
            elif step.action == "close":
                request.closed_at = request.satisfaction_asked_at = at
                move(Status.CLOSED, t["closed"], at)
                tell("demande-cloture", at)
            elif step.action == "rating":
                request.satisfaction = data["score"]
                event(
                    Event.Kind.RATING,
                    t["rating"] % {"score": data["score"]},
                    at,
                    label=str(plan.person),
                    channel="sms",
                )
            elif step.action == "cancel":
                request.closed_at = at
                move(Status.CANCELLED, t["cancelled"] % {"reason": data["reason"]}, at)
                tell("demande-annulee", at, {"delai": data["reason"]})

    # --- through the real services ---

    def tenants_of(self, entrance_id: int, count: int, mobile: bool = True):
        """`count` households of the entrance, each with its first member, who has a mobile."""
        found = []
        for unit, household, end in self.occupied:
            if unit.entrance_id != entrance_id or end is not None:
                continue
            person = self.people[household.pk][0]
            if person.mobile or not mobile:
                found.append((unit, household, person))
        return found[:count] if len(found) >= count else None

    def choose_places(self):
        """The lift of the closed breakdown (in the demo agent's sector, for a field report,
        with three households that have a mobile) and this morning's (in the other agency)."""
        sector = set(self.users["agent"].sectors.values_list("residences", flat=True))
        lifts = sorted(
            (lift for lift in self.lifts.values() if lift.contract_id), key=lambda x: x.pk
        )
        closed = next(
            (lift, tenants)
            for lift in lifts
            if lift.residence_id in sector
            and (tenants := self.tenants_of(lift.entrance_id, 3)) is not None
        )
        agency_id = self.residences[closed[0].residence_id].agency_id
        broken = next(
            lift for lift in lifts if self.residences[lift.residence_id].agency_id != agency_id
        )
        return closed, broken

    def closed_breakdown(self, day: date, lift: m.Equipment, tenants) -> None:
        """Three tenants report the same lift on three channels; the advisor groups them and
        sends the lift maintainer, who comes the same afternoon; closed the next day."""
        advisor, agent = self.advisor, self.users["agent"]
        technician = self.users["ascensoriste"]
        (unit_a, _h, phone), (_u, _h2, field_person), (_u3, _h3, texter) = tenants
        entrance = self.entrances[lift.entrance_id]
        at = self.local
        next_day = day + timedelta(days=1)
        while not self.working_day(next_day):
            next_day += timedelta(days=1)
        with _at(at(day, 8, 47)):
            first = services.create_request(
                advisor,
                services.RequestInput(
                    unit_id=unit_a.pk,
                    equipment_id=lift.pk,
                    category=Category.LIFT,
                    description="L'ascenseur est bloqué au rez-de-chaussée, portes fermées. "
                    "La locataire habite au dernier étage et a une poussette.",
                    person_id=phone.pk,
                ),
                IntakeChannel.PHONE,
            )
        with _at(at(day, 9, 6)):
            second = services.create_request(
                agent,
                services.RequestInput(
                    equipment_id=lift.pk,
                    category=Category.LIFT,
                    description="Constaté pendant la ronde : ascenseur à l'arrêt, voyant défaut "
                    "allumé en cabine. Un locataire âgé n'a pas pu monter ses courses.",
                    person_id=field_person.pk,
                ),
                IntakeChannel.FIELD,
            )
        with _at(at(day, 9, 21)):
            self.sms(
                texter,
                f"Bonjour, l'ascenseur de l'{entrance.name.lower()} est encore en panne, "
                "ma mère ne peut pas descendre. Merci de faire vite.",
            )
        third = Request.objects.filter(person=texter, channel=IntakeChannel.SMS).get()
        with _at(at(day, 9, 30)):
            services.update_request(
                advisor, third.pk, category=Category.LIFT, urgency=Urgency.URGENT
            )
        with _at(at(day, 9, 33)):
            services.group(
                advisor,
                [first.pk, second.pk, third.pk],
                title=f"Ascenseur en panne — {entrance}",
            )
        with _at(at(day, 9, 38)):
            order = services.send_order(
                advisor,
                first.pk,
                services.OrderInput(
                    technician_id=technician.pk,
                    access=WorkOrder.Access.FREE,
                    access_note="Clé de la machinerie chez la gardienne.",
                    instructions="Cabine bloquée au rez-de-chaussée, portes fermées. Personne "
                    "bloquée : non. Trois signalements.",
                ),
            )
        with _at(at(day, 10, 12)):
            services.accept_order(technician, order.pk)
        with _at(at(day, 10, 15)):
            slot, _later = services.publish_slots(
                technician,
                [
                    (at(day, 14), at(day, 16)),
                    (at(next_day, 8), at(next_day, 10)),
                ],
                technician_id=technician.pk,
            )
        with _at(at(day, 10, 19)):
            services.book(advisor, order.pk, slot.pk)
        with _at(at(day, 14, 25)):
            services.report(technician, order.pk, services.Milestone("on_site"))
        with _at(at(day, 15, 40)):
            services.report(
                technician,
                order.pk,
                services.Milestone(
                    "done",
                    comment="Contacteur de porte palière du rez-de-chaussée remplacé, essais "
                    "de fonctionnement à tous les étages. Ascenseur remis en service.",
                ),
            )
        with _at(at(next_day, 9, 5)):
            services.close(advisor, first.pk, "Remise en service confirmée par la gardienne.")
        with _at(at(next_day, 11, 42)):
            self.sms(texter, "5")
        with _at(at(next_day, 18, 4)):
            self.sms(phone, "4")

    def sms(self, person: m.Person, body: str) -> None:
        from messaging.services import handle_inbound

        self.inbound += 1
        handle_inbound(f"SMdemo{self.inbound:028d}", person.mobile, TWO_WAY_NUMBER, body)

    def open_breakdown(self, lift: m.Equipment, reported: datetime) -> Request:
        """Reported this morning from the hall's QR code; the maintainer accepted and comes
        tomorrow morning."""
        advisor, technician = self.advisor, self.users["ascensoriste"]
        span = self.now - reported
        entrance = self.entrances[lift.entrance_id]
        with _at(reported):
            request = services.create_request(
                None,
                services.RequestInput(
                    residence_id=lift.residence_id,
                    entrance_id=entrance.pk,
                    equipment_id=lift.pk,
                    category=Category.LIFT,
                    description="Ascenseur bloqué au 2e étage, il faisait un bruit de frottement "
                    "avant de s'arrêter.",
                    contact_name="Nadia",
                    contact_phone="+33739980042",
                ),
                IntakeChannel.QR,
                residences=[lift.residence_id],
                label=_("Report from the hall's QR code"),
            )
        with _at(reported + span * 0.3):
            order = services.send_order(
                advisor,
                request.pk,
                services.OrderInput(
                    technician_id=technician.pk,
                    access=WorkOrder.Access.FREE,
                    instructions="Cabine arrêtée au 2e étage, bruit de frottement signalé.",
                ),
            )
        with _at(reported + span * 0.5):
            services.accept_order(technician, order.pk)
        tomorrow = timezone.localdate(self.now, self.zone) + timedelta(days=1)
        with _at(reported + span * 0.6):
            (slot,) = services.publish_slots(
                technician,
                [(self.local(tomorrow, 8), self.local(tomorrow, 10))],
                technician_id=technician.pk,
            )
        with _at(reported + span * 0.7):
            services.book(advisor, order.pk, slot.pk)
        return request

    def run(self):
        from backend import jobs
        from backend.core.models import Job
        from messaging import outbox
        from messaging.models import Message

        self.gather()
        (lift, tenants), broken = self.choose_places()
        day = self.today - timedelta(days=17)
        while not self.working_day(day) or not self.working_day(day + timedelta(days=1)):
            day -= timedelta(days=1)
        started = self.local(day, 8, 30)
        midnight = self.local(self.today, 0, 5)
        reported = max(midnight, self.now - timedelta(minutes=150))
        excluded = {household.pk for _unit, household, _person in tenants}
        plans = self.history(reported, excluded, {lift.pk, broken.pk})
        self.write([p for p in plans if p.created < started])
        last_message = Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        last_job = Job.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        self.closed_breakdown(day, lift, tenants)
        # Those messages left weeks ago: delivered then, not waiting in the outbox now, and the
        # jobs that were to send them have nothing left to do.
        Message.objects.filter(pk__gt=last_message, status=Message.Status.QUEUED).update(
            status=Message.Status.DELIVERED,
            sent_at=F("created_at"),
            delivered_at=F("created_at"),
            next_attempt_at=None,
        )
        Job.objects.filter(
            pk__gt=last_job, name=jobs.job_name(outbox.dispatch), status=Job.Status.WAITING
        ).update(status=Job.Status.DONE)
        self.write([p for p in plans if p.created >= started])
        self.open_breakdown(broken, reported)
