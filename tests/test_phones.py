import pytest
from django.core.exceptions import ValidationError

from backend.estate import phones


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("06 39 98 12 34", "FR", "+33639981234"),  # ARCEP fiction range, allowed explicitly
        ("+33 6 39 98 12 34", "FR", "+33639981234"),
        ("07 39 98 00 01", "FR", "+33739980001"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("0692 12 34 56", "RE", "+262692123456"),  # La Réunion
        ("0690 12 34 56", "GP", "+590690123456"),  # Guadeloupe
        ("0694 20 12 34", "GF", "+594694201234"),  # Guyane
        ("0696 12 34 56", "MQ", "+596696123456"),  # Martinique
        ("+262 692 12 34 56", "FR", "+262692123456"),  # international form wins over region
    ],
)
def test_mobiles_are_parsed_with_the_region_and_stored_in_e164(raw, region, expected):
    assert phones.parse_mobile(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "code"),
    [
        ("0692 12 34 56", "FR", "invalid"),  # a Réunion mobile read as mainland: no such number
        ("01 99 00 12 34", "FR", "not_mobile"),  # fiction, but a landline
        ("02 47 12 34 56", "FR", "not_mobile"),
        ("12", "FR", "invalid"),
        ("bonjour", "FR", "invalid"),
        ("", "FR", "required"),
    ],
)
def test_bad_numbers_are_refused_with_a_reason(raw, region, code):
    with pytest.raises(ValidationError) as info:
        phones.parse_mobile(raw, region)
    assert info.value.code == code


@pytest.mark.parametrize(
    ("postcode", "region"),
    [
        ("37000", "FR"),
        ("97400", "RE"),
        ("97110", "GP"),
        ("97300", "GF"),
        ("97200", "MQ"),
        ("97600", "YT"),
        ("97133", "BL"),
        ("20000", "FR"),
        ("", "FR"),
    ],
)
def test_the_region_comes_from_the_postcode(postcode, region):
    assert phones.region_for_postcode(postcode) == region


def test_national_display_and_search_forms():
    assert phones.format_national("+33639981234") == "06 39 98 12 34"
    assert phones.search_forms("+33639981234") == "33639981234 0639981234"
    assert "0692123456" in phones.search_forms("+262692123456")


def test_fiction_numbers_work_for_overseas_residences_too():
    assert phones.parse_mobile("06 39 98 12 34", "RE") == "+33639981234"
    assert phones.parse_mobile("06 39 98 12 34", "GP") == "+33639981234"
