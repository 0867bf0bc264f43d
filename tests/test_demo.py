"""The demo data: deterministic, realistic, idempotent, with fiction phone numbers."""

import pytest
from django.core.management import call_command

from backend.accounts.models import User
from backend.accounts.scoping import visible_residences
from backend.core import demo
from backend.estate import models as m
from backend.estate.phones import is_fiction, parse_mobile


def wipe():
    """Delete the demo, the records that protect others first (module-scoped data lives outside
    the test transactions)."""
    from inspections.models import Answer, ControlAlert, Grid, Penalty, Photo, Rework, Visit

    for model in [Penalty, Rework, Photo, Answer, Visit, ControlAlert]:
        model.objects.all().delete()
    Grid.objects.filter(organisation__isnull=False).delete()
    for model in [
        m.Person,
        m.Lease,
        m.Household,
        m.Equipment,
        m.Unit,
        m.Entrance,
        m.Building,
        m.ContractSite,
        m.ProviderContract,
        m.Sector,
    ]:
        model.objects.all().delete()
    User.objects.all().delete()
    for model in [m.Residence, m.Provider, m.Agency, m.Organisation]:
        model.objects.all().delete()


@pytest.fixture(scope="module")
def demo_data(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        assert demo.load() is True
        yield
        from django.db import connection

        # Module-scoped data outside a test transaction: clean up for the other modules.
        with connection.cursor():
            pass
        wipe()


@pytest.mark.django_db
def test_the_demo_has_the_promised_size(demo_data):
    assert m.Agency.objects.count() == 2
    assert m.Residence.objects.count() == 40
    assert m.Unit.objects.count() == 3000
    sizes = list(m.Residence.objects.values_list("units_count", flat=True))
    assert min(sizes) == 20 and max(sizes) == 400
    assert sum(1 for s in sizes if s <= 30) >= 8  # several small residences
    assert m.Household.objects.count() > 2800
    assert m.Provider.objects.count() >= 4 and m.ProviderContract.objects.count() >= 4
    assert m.Equipment.objects.filter(kind="lift").exists()


@pytest.mark.django_db
def test_every_demo_phone_is_a_valid_fiction_number(demo_data):
    mobiles = list(m.Person.objects.exclude(mobile="").values_list("mobile", flat=True))
    assert len(mobiles) > 3000 and len(set(mobiles)) == len(mobiles)
    assert all(is_fiction(n) and parse_mobile(n) == n for n in mobiles)


@pytest.mark.django_db
def test_one_login_per_role_with_a_scope(demo_data):
    for login in demo.LOGINS:
        user = User.objects.get(username=login.username)
        assert user.role == login.role
        assert user.check_password(demo.demo_password())
        assert visible_residences(user).exists(), login.username
    north = visible_residences(User.objects.get(username="responsable"))
    south = visible_residences(User.objects.get(username="responsable.sud"))
    assert not set(north) & set(south)


@pytest.mark.django_db
def test_a_second_load_changes_nothing(demo_data, capsys):
    call_command("load_demo")
    assert "rien n’a été modifié" in capsys.readouterr().out
    assert m.Unit.objects.count() == 3000


def fingerprint() -> str:
    import hashlib

    rows = [
        list(
            m.Residence.objects.order_by("code").values_list("code", "name", "units_count", "city")
        ),
        list(
            m.Person.objects.order_by(
                "household__leases__reference", "first_name", "last_name", "mobile", "email"
            ).values_list("first_name", "last_name", "mobile", "email")
        ),
        list(
            m.Lease.objects.order_by("reference").values_list(
                "reference", "module_number", "payment_method"
            )
        ),
    ]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.mark.django_db
def test_the_demo_is_deterministic(demo_data):
    """Loaded again from scratch, the demo is the same to the last phone number."""
    first = fingerprint()
    wipe()
    assert demo.load() is True
    assert fingerprint() == first


@pytest.mark.django_db
def test_the_demo_templates_are_valid_and_their_sms_cheap(demo_data):
    from messaging.models import TemplateVariant
    from messaging.rendering import SAMPLE
    from messaging.services import render_sms
    from messaging.sms import analyse

    variants = list(TemplateVariant.objects.select_related("template"))
    assert len(variants) >= 5
    for variant in variants:
        variant.full_clean()
        if variant.sms_body:
            assert analyse(render_sms(variant.sms_body, SAMPLE)).encoding == "GSM-7", variant


@pytest.mark.django_db
def test_the_demo_has_a_year_of_inspections_and_a_forgotten_small_residence(demo_data):
    from django.db.models import Min

    from inspections import rates
    from inspections.models import Penalty, Rework, Visit

    manager = User.objects.get(username="responsable")
    first = Visit.objects.aggregate(first=Min("finished_at"))["first"]
    from django.utils import timezone

    assert (timezone.now() - first).days > 330
    result = rates.compute(
        manager,
        timezone.localdate().replace(year=timezone.localdate().year - 1),
        timezone.localdate(),
    )
    assert len(result.months) >= 12 and all(r.average_score for r in result.rows if r.done)
    flagged = rates.under_controlled(manager)
    assert [r.units_count <= 30 for r, _last, _due in flagged] == [True]
    contractor = User.objects.get(username="prestataire")
    assert Rework.objects.filter(
        provider=contractor.provider, status=Rework.Status.REQUESTED
    ).exists()
    statuses = set(Penalty.objects.values_list("status", flat=True))
    assert statuses == {"proposed", "contested", "confirmed", "waived"}
