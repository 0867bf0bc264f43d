"""Phone numbers: parsed with the residence's region, stored in E.164.

Overseas departments have their own country codes (+262 La Réunion and Mayotte, +590
Guadeloupe, +594 Guyane, +596 Martinique): "0692 12 34 56" is a mobile in La Réunion and
nothing in mainland France, so a number is always parsed with the region of the residence.
"""

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Ranges ARCEP reserves for fiction (films, books, demos): never assigned to anyone, so the
# demo data can never text a real person. phonenumbers reports them invalid; allow them here.
FICTION_PREFIXES = (
    "+3319900",
    "+3326191",
    "+3335301",
    "+3346571",
    "+3353649",
    "+3363998",
    "+3373998",
)
MOBILE_FICTION_PREFIXES = ("+3363998", "+3373998")

_OVERSEAS_POSTCODE_REGIONS = {
    "971": "GP",
    "972": "MQ",
    "973": "GF",
    "974": "RE",
    "975": "PM",
    "976": "YT",
}
_OVERSEAS_POSTCODE_EXCEPTIONS = {"97133": "BL", "97150": "MF"}


def region_for_postcode(postcode: str | None) -> str:
    """The phonenumbers region of a French postcode (overseas departments have their own)."""
    code = (postcode or "").strip()
    if code in _OVERSEAS_POSTCODE_EXCEPTIONS:
        return _OVERSEAS_POSTCODE_EXCEPTIONS[code]
    return _OVERSEAS_POSTCODE_REGIONS.get(code[:3], "FR")


def is_fiction(e164: str) -> bool:
    return len(e164) == 12 and e164.startswith(FICTION_PREFIXES)


def parse_mobile(raw: str, region: str = "FR") -> str:
    """A mobile number in E.164, or ValidationError with a French message."""
    value = (raw or "").strip()
    if not value:
        raise ValidationError(_("Enter a mobile phone number."), code="required")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("“%(value)s” is not a phone number.") % {"value": value}, code="invalid"
        ) from None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164.startswith(MOBILE_FICTION_PREFIXES) and is_fiction(e164):
        return e164
    if not phonenumbers.is_valid_number(number) and region != "FR":
        # ARCEP's fiction numbers are mainland ones: "06 39 98 …" typed for an overseas
        # residence is still the demo's (and the tests') fiction number.
        try:
            mainland = phonenumbers.format_number(
                phonenumbers.parse(value, "FR"), phonenumbers.PhoneNumberFormat.E164
            )
        except phonenumbers.NumberParseException:
            mainland = ""
        if mainland.startswith(MOBILE_FICTION_PREFIXES) and is_fiction(mainland):
            return mainland
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("“%(value)s” is not a valid phone number.") % {"value": value}, code="invalid"
        )
    kind = phonenumbers.number_type(number)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise ValidationError(
            _("“%(value)s” is not a mobile phone number: text messages cannot reach it.")
            % {"value": value},
            code="not_mobile",
        )
    return e164


def format_national(e164: str) -> str:
    """+33639981234 -> 06 39 98 12 34 (fiction numbers included)."""
    if not e164:
        return ""
    if e164.startswith("+33") and len(e164) == 12:
        digits = "0" + e164[3:]
        return " ".join(digits[i : i + 2] for i in range(0, 10, 2))
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def search_forms(e164: str) -> str:
    """The forms a person may type to find this number: +33639981234 and 0639981234."""
    if not e164:
        return ""
    forms = [e164.lstrip("+")]
    if e164.startswith("+33"):
        forms.append("0" + e164[3:])
    else:
        try:
            number = phonenumbers.parse(e164, None)
            forms.append("0" + str(number.national_number))
        except phonenumbers.NumberParseException:
            pass
    return " ".join(forms)
