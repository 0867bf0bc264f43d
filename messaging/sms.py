"""SMS text analysis: encoding, segments and cost, as GSM 03.38 and UCS-2 define them.

A message whose every character is in the GSM 03.38 default alphabet (or its extension table)
is sent in 7-bit septets: 160 per single message, 153 per part of a concatenated one (the user
data header takes 7). The extension characters € ^ { } [ ] ~ \\ | (and form feed) take two
septets, an escape and the character, and an escape pair is never split between two parts.
One character outside the alphabet switches the whole message to UCS-2: 70 UTF-16 units for a
single message, 67 per part; a character outside the Basic Multilingual Plane (an emoji) takes
two units and is never split either.

French text often forces UCS-2 for nothing: a typographic apostrophe ’, « », a no-break space,
â ê î ô û ç... Each has a GSM equivalent that doubles how much fits in a message, pointed out
with its replacement (REPLACEMENTS).
"""

from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\f^{}\\[~]|€"
_BASIC = frozenset(GSM_BASIC) - {"\x1b"}
_EXTENSION = frozenset(GSM_EXTENSION)

SINGLE_GSM, PART_GSM = 160, 153
SINGLE_UCS2, PART_UCS2 = 70, 67
MAX_BODY = 1600  # Twilio refuses longer bodies

# Characters that force UCS-2 although a GSM character says the same thing.
REPLACEMENTS = {
    "\u2019": "'",
    "\u2018": "'",
    "\u201a": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2033": '"',
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\u2007": " ",
    "\u200a": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\t": " ",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u2022": "-",
    "\u2026": "...",
    "â": "a",
    "á": "a",
    "ã": "a",
    "ê": "e",
    "ë": "e",
    "î": "i",
    "ï": "i",
    "í": "i",
    "ô": "o",
    "ó": "o",
    "õ": "o",
    "û": "u",
    "ú": "u",
    "ÿ": "y",
    "ç": "c",
    "À": "A",
    "Â": "A",
    "Á": "A",
    "È": "E",
    "Ê": "E",
    "Ë": "E",
    "Î": "I",
    "Ï": "I",
    "Ô": "O",
    "Ù": "U",
    "Û": "U",
    "Ÿ": "Y",
    "œ": "oe",
    "Œ": "OE",
    "æ": "ae",
    "\u00b0": "o",
}


def is_gsm(char: str) -> bool:
    return char in _BASIC or char in _EXTENSION


@dataclass
class ForcingCharacter:
    char: str
    name: str
    count: int
    replacement: str | None


@dataclass
class Analysis:
    encoding: str  # "GSM-7" or "UCS-2"
    characters: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int
    remaining: int  # units left in the last segment
    too_long: bool
    forcing: list[ForcingCharacter] = field(default_factory=list)
    gsm_if_replaced: bool = False
    segments_if_replaced: int = 0
    cost: Decimal = Decimal("0")

    def as_dict(self) -> dict:
        data = asdict(self)
        data["cost"] = str(self.cost)
        return data


def _pack(costs: list[int], single: int, part: int) -> tuple[int, int, int]:
    """(segments, units, remaining) for characters of the given unit costs; a character is
    never split between two parts."""
    units = sum(costs)
    if units == 0:
        return 0, 0, single
    if units <= single:
        return 1, units, single - units
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments += 1
            used = 0
        used += cost
    return segments, units, part - used


def _costs(text: str) -> tuple[str, list[int]]:
    if all(is_gsm(c) for c in text):
        return "GSM-7", [2 if c in _EXTENSION else 1 for c in text]
    return "UCS-2", [2 if ord(c) > 0xFFFF else 1 for c in text]


def count_segments(text: str) -> int:
    encoding, costs = _costs(text)
    single, part = (SINGLE_GSM, PART_GSM) if encoding == "GSM-7" else (SINGLE_UCS2, PART_UCS2)
    return _pack(costs, single, part)[0]


# The spaces of REPLACEMENTS that nobody sees (not the tab), and zero-width characters.
INVISIBLE = {
    **{c: r for c, r in REPLACEMENTS.items() if r == " " and c != "\t"},
    "\u200b": "",
    "\ufeff": "",
}


def clean(text: str) -> str:
    """Replace the invisible characters that would switch a whole message to UCS-2 (a stray
    no-break space from a word processor doubles the cost and nobody sees why). Visible ones
    (’ « ») are the author's choice: the editor points them out instead."""
    return "".join(INVISIBLE.get(c, c) for c in text)


def replace_forcing(text: str) -> str:
    """The text with every replaceable UCS-2 character turned into its GSM equivalent."""
    return "".join(REPLACEMENTS.get(c, c) if not is_gsm(c) else c for c in text)


def analyse(text: str, price_per_segment: Decimal | None = None) -> Analysis:
    import unicodedata

    from django.conf import settings

    price = price_per_segment if price_per_segment is not None else settings.SMS_PRICE_PER_SEGMENT
    encoding, costs = _costs(text)
    single, part = (SINGLE_GSM, PART_GSM) if encoding == "GSM-7" else (SINGLE_UCS2, PART_UCS2)
    segments, units, remaining = _pack(costs, single, part)
    forcing: dict[str, ForcingCharacter] = {}
    for c in text:
        if not is_gsm(c):
            if c not in forcing:
                forcing[c] = ForcingCharacter(
                    char=c,
                    name=unicodedata.name(c, f"U+{ord(c):04X}"),
                    count=0,
                    replacement=REPLACEMENTS.get(c),
                )
            forcing[c].count += 1
    replaced = replace_forcing(text)
    gsm_if_replaced = all(is_gsm(c) for c in replaced)
    return Analysis(
        encoding=encoding,
        characters=len(text),
        units=units,
        segments=segments,
        per_segment=single if segments <= 1 else part,
        remaining=remaining,
        too_long=len(text) > MAX_BODY,
        forcing=list(forcing.values()),
        gsm_if_replaced=gsm_if_replaced,
        segments_if_replaced=count_segments(replaced),
        cost=(Decimal(price) * segments).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP),
    )
