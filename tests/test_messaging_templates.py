"""Templates: a restricted engine, refused at save time with the reason, most specific wins."""

import pytest
from django.core.exceptions import ValidationError

from messaging import rendering, services
from messaging.models import Template, TemplateVariant


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("Bonjour {{ locataire }}", "Variable(s) inconnue(s)\u00a0: locataire"),
        ("{{ prenom.upper() }}", "uniquement des variables"),
        ("{{ prenom.__class__ }}", "uniquement des variables simples"),
        ("{{ prenom[0] }}", "uniquement des variables simples"),
        ("{% for x in residence %}x{% endfor %}", "uniquement des variables"),
        ("{{ prenom|attr('x') }}", "Filtre «\u00a0attr\u00a0» inconnu"),
        ("Bonjour {{ prenom", "ne peut pas être lu"),
        ("{{ prenom|upper(1) }}", "valeurs d’exemple"),
        ("{% if logement < 3 %}x{% endif %}", "valeurs d’exemple"),
        ("{{ " + "(" * 3000 + "prenom" + ")" * 3000 + " }}", "trop"),
    ],
)
def test_templates_that_would_not_render_are_refused_with_the_reason(source, reason):
    with pytest.raises(rendering.TemplateError) as info:
        rendering.check(source)
    assert reason in str(info.value)


def test_allowed_syntax_renders_and_html_is_escaped():
    assert (
        rendering.check("{% if date_rdv %}RDV {{ date_rdv }}{% endif %} {{ prenom|upper }}").render(
            {**rendering.SAMPLE, "date_rdv": "lundi"}
        )
        == "RDV lundi HÉLÈNE"
    )
    html = rendering.render("<p>{{ nom }}</p>", {"nom": "<b>x</b>"}, html=True)
    assert html == "<p>&lt;b&gt;x&lt;/b&gt;</p>"
    # SMS text is never escaped: an apostrophe stays an apostrophe.
    assert rendering.render("{{ nom }}", {"nom": "L'Hôte"}) == "L'Hôte"


def test_a_variant_is_checked_when_saved(estate):
    template = Template.objects.create(
        organisation=estate.organisation, key="ascenseur", name="Ascenseur", channels="both"
    )
    variant = TemplateVariant(template=template, sms_body="Bonjour {{ inconnu }}", email_subject="")
    with pytest.raises(ValidationError) as info:
        variant.full_clean()
    errors = info.value.message_dict
    assert "sms_body" in errors and "email_subject" in errors and "email_text" in errors
    too_long = TemplateVariant(
        template=template, sms_body="x" * 1590 + "{{ adresse }}", email_subject="S", email_text="T"
    )
    with pytest.raises(ValidationError) as info:
        too_long.full_clean()
    assert "1600" in str(info.value) or "1\u202f600" in str(info.value)


def test_the_most_specific_template_wins(estate):
    org_level = Template.objects.create(organisation=estate.organisation, key="travaux", name="Org")
    agency_level = Template.objects.create(
        organisation=estate.organisation, agency=estate.north, key="travaux", name="Agence"
    )
    residence_level = Template.objects.create(
        organisation=estate.organisation,
        agency=estate.north,
        residence=estate.tilleuls,
        key="travaux",
        name="Résidence",
    )
    assert services.resolve_template("travaux", estate.tilleuls) == residence_level
    assert services.resolve_template("travaux", estate.moulin) == agency_level
    assert services.resolve_template("travaux", estate.source) == org_level
    assert services.resolve_template("absent", estate.source) is None


def test_a_recipient_gets_the_variant_of_their_language(estate, tenants, cast, messaging_settings):
    from tests.conftest import client_for

    template = Template.objects.create(
        organisation=estate.organisation, key="info", name="Info", channels="sms"
    )
    TemplateVariant.objects.create(
        template=template, language="fr", sms_body="Bonjour {{ prenom }}"
    )
    TemplateVariant.objects.create(template=template, language="en", sms_body="Hello {{ prenom }}")
    person = tenants[0]
    person.language = "en"
    person.save()
    response = client_for(cast.advisor).post(
        f"/api/messaging/templates/{template.pk}/preview",
        {"person_id": person.pk},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["sms"] == f"Hello {person.first_name}"
    # Outside the scope, the person does not exist.
    other = tenants[-1]  # La Source, another agency
    response = client_for(cast.advisor).post(
        f"/api/messaging/templates/{template.pk}/preview",
        {"person_id": other.pk},
        content_type="application/json",
    )
    assert response.status_code == 404


def test_values_filled_into_an_sms_never_make_it_expensive():
    from messaging.services import render_sms
    from messaging.sms import analyse

    body = render_sms(
        "Bonjour {{ prenom }}, {{ batiment }} : réparé.",
        {"prenom": "Françoise", "batiment": "Bâtiment Côté"},
    )
    assert body == "Bonjour Francoise, Batiment Coté : réparé."  # é is GSM, ô is not
    assert analyse(body).encoding == "GSM-7"
    # The author's own characters are kept (the editor warns about them).
    assert render_sms("L’entrée", {}) == "L’entrée"
