"""SMS segments exactly as GSM 03.38 and UCS-2 count them."""

from decimal import Decimal

import pytest

from messaging.sms import analyse, count_segments, replace_forcing


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("Bonjour", "GSM-7", 7, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€", "GSM-7", 2, 1),
        ("a" * 159 + "€", "GSM-7", 161, 2),  # the euro sign takes two septets
        ("^{}\\[~]|€", "GSM-7", 18, 1),
        # An escape pair is never split: 152 + [€ does not fit] -> the third part appears.
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
        ("é è ù à Ç É Ñ ü", "GSM-7", 15, 1),
        ("ê" * 70, "UCS-2", 70, 1),
        ("ê" * 71, "UCS-2", 71, 2),
        ("ê" * 134, "UCS-2", 134, 2),
        ("ê" * 135, "UCS-2", 135, 3),
        ("ê" * 67 + "😀", "UCS-2", 69, 1),  # an emoji takes two UTF-16 units
        ("ê" * 66 + "😀" + "ê" * 3, "UCS-2", 71, 2),  # and is never split
    ],
)
def test_encoding_units_and_segments(text, encoding, units, segments):
    result = analyse(text, Decimal("0.07"))
    assert (result.encoding, result.units, result.segments) == (encoding, units, segments)
    assert count_segments(text) == segments


def test_the_remaining_units_count_down_in_the_current_part():
    assert analyse("a" * 150, Decimal(0)).remaining == 10
    assert analyse("a" * 161, Decimal(0)).remaining == 153 - 8
    assert analyse("ê" * 71, Decimal(0)).remaining == 67 - 4


def test_characters_forcing_ucs2_are_listed_with_their_replacement():
    text = "L’ascenseur de l’entrée\u00a0A est réparé «\u00a0enfin\u00a0» : à bientôt !"
    result = analyse(text, Decimal("0.075"))
    assert result.encoding == "UCS-2"
    forcing = {f.char: (f.count, f.replacement) for f in result.forcing}
    assert forcing == {
        "’": (2, "'"),
        "\u00a0": (3, " "),
        "«": (1, '"'),
        "»": (1, '"'),
        "ô": (1, "o"),
    }
    assert result.gsm_if_replaced and result.segments_if_replaced == 1
    assert replace_forcing(text) == "L'ascenseur de l'entrée A est réparé \" enfin \" : à bientot !"


def test_characters_without_equivalent_are_listed_without_replacement():
    result = analyse("Merci 🙏", Decimal(0))
    assert result.forcing[0].replacement is None and not result.gsm_if_replaced


def test_cost_and_length_limit(settings):
    settings.SMS_PRICE_PER_SEGMENT = Decimal("0.0750")
    assert analyse("a" * 161).cost == Decimal("0.1500")
    assert analyse("a" * 1601).too_long and not analyse("a" * 1600).too_long


def test_invisible_characters_are_cleaned_visible_ones_kept():
    from messaging.sms import clean

    assert clean("Rendez-vous\u00a0: mardi\u202f!\u200b") == "Rendez-vous : mardi !"
    assert clean("L’entrée") == "L’entrée"
