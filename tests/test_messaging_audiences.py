"""Audiences: who receives, on which channel, who is left out and why — before sending."""

import pytest

from backend.core.errors import ServiceError
from backend.estate import models as m
from messaging import audiences, services
from messaging.models import ChannelBlock, Group, OptOut


def preview(user, audience, purpose="operational", sms=True, email=True, both=False):
    return audiences.preview(
        audiences.people(user, audience),
        purpose=purpose,
        wants_sms=sms,
        wants_email=email,
        both=both,
    )


def test_a_place_reaches_its_current_tenants_on_their_preferred_channel(estate, tenants, cast):
    tenants[1].preferred_channel = "email"
    tenants[1].save()
    result = preview(cast.advisor, {"kind": "residence", "ids": [estate.tilleuls.pk]})
    assert (result.recipients, result.sms, result.email) == (2, 1, 1)
    assert result.excluded == {}


def test_each_missing_channel_falls_back_to_the_other_once(estate, tenants, cast):
    first, second = tenants[0], tenants[1]
    first.mobile = ""
    first.save()
    second.email = ""
    second.preferred_channel = "email"
    second.save()
    result = preview(cast.advisor, {"kind": "residence", "ids": [estate.tilleuls.pk]})
    assert (result.recipients, result.sms, result.email) == (2, 1, 1)
    both = preview(cast.advisor, {"kind": "residence", "ids": [estate.tilleuls.pk]}, both=True)
    assert (both.recipients, both.sms, both.email) == (2, 1, 1)
    first.mobile = "+33639980001"
    first.save()
    both = preview(cast.advisor, {"kind": "residence", "ids": [estate.tilleuls.pk]}, both=True)
    assert (both.sms, both.email) == (2, 1)


def test_who_is_left_out_and_why(estate, tenants, cast):
    a, b = tenants[0], tenants[1]
    b.mobile = ""
    b.save()
    OptOut.objects.create(person=a, purpose="information", channel="sms", source="sms_keyword")
    result = preview(
        cast.advisor,
        {"kind": "residence", "ids": [estate.tilleuls.pk]},
        purpose="information",
        email=False,
    )
    assert result.recipients == 0
    assert result.excluded == {"opted_out": 1, "no_mobile": 1}
    reasons = {r["reason"]: r for r in result.reasons()}
    assert reasons["no_mobile"]["examples"] == [f"{b.first_name} {b.last_name}"]
    assert reasons["opted_out"]["label"] == "désinscrit"
    # Operational messages are never blocked by an opt-out.
    result = preview(cast.advisor, {"kind": "residence", "ids": [estate.tilleuls.pk]}, email=False)
    assert result.recipients == 1 and result.excluded == {"no_mobile": 1}


def test_a_refused_address_is_skipped_until_it_changes(estate, tenants, cast):
    a = tenants[0]
    ChannelBlock.objects.create(
        person=a, channel="sms", address=a.mobile, code="21211", reason="invalid"
    )
    result = preview(cast.advisor, {"kind": "people", "ids": [a.pk]}, email=False)
    assert result.excluded == {"blocked": 1}
    a.mobile = "+33639989999"
    a.save()
    assert preview(cast.advisor, {"kind": "people", "ids": [a.pk]}, email=False).recipients == 1


def test_people_who_moved_out_are_reported(estate, tenants, cast):
    from datetime import timedelta

    from django.utils import timezone

    person = tenants[0]
    moved = timezone.localdate() - timedelta(days=10)  # still in the residence's sight
    m.Lease.objects.filter(household=person.household).update(end_date=moved)
    result = preview(cast.advisor, {"kind": "people", "ids": [person.pk, tenants[1].pk]})
    assert result.excluded == {"moved_out": 1} and result.recipients == 1


def test_buildings_entrances_and_groups(estate, tenants, cast):
    entrance = estate.moulin.entrances.get()
    assert preview(cast.advisor, {"kind": "entrance", "ids": [entrance.pk]}).recipients == 2
    building = estate.moulin.buildings.get()
    assert preview(cast.advisor, {"kind": "building", "ids": [building.pk]}).recipients == 2
    group = Group.objects.create(organisation=estate.organisation, name="Amicale")
    group.people.set([tenants[0], tenants[2]])
    assert preview(cast.advisor, {"kind": "group", "ids": [group.pk]}).recipients == 2


def test_places_outside_the_scope_do_not_exist(estate, tenants, cast):
    from django.http import Http404

    with pytest.raises(Http404):
        audiences.people(cast.agent_a, {"kind": "residence", "ids": [estate.source.pk]})
    # Explicit lists are narrowed to the scope, never widened.
    result = preview(cast.agent_a, {"kind": "people", "ids": [t.pk for t in tenants]})
    assert result.recipients == 2


@pytest.mark.parametrize(
    "audience",
    [{"kind": "people", "ids": []}, {"kind": "moon", "ids": [1]}, {"kind": "people", "ids": ["1"]}],
)
def test_empty_or_malformed_audiences_are_refused(estate, cast, audience):
    with pytest.raises(ServiceError):
        audiences.people(cast.advisor, audience)


def test_a_send_to_nobody_is_refused_before_anything_is_written(estate, tenants, cast):
    from messaging.models import Campaign

    for person in tenants:
        person.mobile = ""
        person.save()
    data = services.CampaignInput(
        title="Coupure d'eau",
        purpose="operational",
        audience={"kind": "residence", "ids": [estate.tilleuls.pk]},
        texts=services.Texts(sms_body="Coupure d'eau demain."),
    )
    with pytest.raises(ServiceError) as info:
        services.create_campaign(cast.advisor, data)
    assert info.value.code == "empty_audience"
    assert not Campaign.objects.exists()
