from django import forms
from django.utils.translation import gettext_lazy as _

from backend.accounts.scoping import scoped
from backend.estate.models import Building, Entrance, Residence
from messaging.models import Campaign, Group, Purpose, Template


def audience_choices(user):
    """One select for the place: residences, their buildings and entrances, and saved groups."""
    residences = scoped(user, Residence).order_by("name")
    buildings = {}
    for building in scoped(user, Building).order_by("name"):
        buildings.setdefault(building.residence_id, []).append(building)
    entrances = {}
    for entrance in (
        scoped(user, Entrance).select_related("building").order_by("building__name", "name")
    ):
        entrances.setdefault(entrance.building_id, []).append(entrance)
    choices = [("", _("Choose…"))]
    for residence in residences:
        options = [
            (f"residence:{residence.pk}", _("Whole residence %(name)s") % {"name": residence.name})
        ]
        for building in buildings.get(residence.pk, []):
            options.append((f"building:{building.pk}", f"{building.name}"))
            for entrance in entrances.get(building.pk, []):
                options.append((f"entrance:{entrance.pk}", f"{building.name} — {entrance.name}"))
        choices.append((residence.name, options))
    groups = list(scoped(user, Group).order_by("name"))
    if groups:
        choices.append((_("Saved groups"), [(f"group:{g.pk}", g.name) for g in groups]))
    return choices


class ComposeForm(forms.Form):
    title = forms.CharField(label=_("Title (for the follow-up)"), max_length=200)
    target = forms.ChoiceField(label=_("Recipients"))
    template = forms.ModelChoiceField(
        queryset=Template.objects.none(), required=False, widget=forms.HiddenInput
    )
    purpose = forms.ChoiceField(
        label=_("Purpose"),
        choices=Purpose.choices,
        initial=Purpose.OPERATIONAL,
        widget=forms.RadioSelect,
    )
    delivery = forms.ChoiceField(
        label=_("Channels"),
        choices=Campaign.Delivery.choices,
        initial=Campaign.Delivery.PREFERRED,
        widget=forms.RadioSelect,
    )
    urgent = forms.BooleanField(
        label=_("Send at once, even at night or on a Sunday (safety notice, appointment change)"),
        required=False,
    )
    sms_body = forms.CharField(
        label=_("Text message"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Variables such as {{ prenom }} are filled in for each recipient."),
    )
    email_subject = forms.CharField(label=_("E-mail subject"), required=False, max_length=200)
    email_text = forms.CharField(
        label=_("E-mail"), required=False, widget=forms.Textarea(attrs={"rows": 8})
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = audience_choices(user)
        self.fields["template"].queryset = (
            scoped(user, Template).filter(is_active=True).order_by("name")
        )

    def audience(self) -> dict:
        kind, _sep, pk = self.cleaned_data["target"].partition(":")
        return {"kind": kind, "ids": [int(pk)]}
