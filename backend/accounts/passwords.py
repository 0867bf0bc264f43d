"""The tenants' password policy: CNIL deliberation 2022-100 and OWASP ASVS level 2 together
(docs/tenants.md).

- at least 12 characters (ASVS 2.1.1), at most 128 (2.1.2); any character, spaces included,
  no forced character classes (2.1.9): passphrases welcome;
- strength at least 50 bits, CNIL's case 2 (a password with access restrictions: the login
  throttle). Measured with zxcvbn, which knows dictionaries, names, keyboard patterns, dates and
  l33t: accepted when zxcvbn estimates at least 2^50 guesses, or when it finds no pattern at all
  (pure brute force) and the characters used give at least 50 bits (zxcvbn caps brute force at
  10 guesses per character, which would refuse a random 12-character password);
- refused when common or found in breach corpora (Django's list of 20,000 passwords taken from
  breaches, ASVS 2.1.7), or when it starts with or contains the e-mail, its local part, or a
  part of the tenant's names of 3 letters or more (accents and case ignored).

check() returns every rule with its state, for the live checklist beside the field and for the
server's refusal, in the same words.
"""

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from django.contrib.auth.password_validation import CommonPasswordValidator
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from zxcvbn import zxcvbn

from backend.core.text import normalise

MIN_LENGTH = 12
MAX_LENGTH = 128
MIN_BITS = 50
MIN_GUESSES_LOG10 = MIN_BITS * math.log10(2)  # 15.05


@dataclass(frozen=True)
class Rule:
    key: str
    ok: bool
    message: str


@lru_cache(maxsize=1)
def _common() -> frozenset:
    return frozenset(CommonPasswordValidator().passwords)


def _charset_bits(password: str) -> float:
    size = 0
    if re.search(r"[a-z]", password):
        size += 26
    if re.search(r"[A-Z]", password):
        size += 26
    if re.search(r"[0-9]", password):
        size += 10
    if re.search(r"[^a-zA-Z0-9]", password):
        size += 33
    return len(password) * math.log2(size) if size else 0.0


def strength_bits(password: str, user_inputs: list[str]) -> float:
    """Estimated bits of the password (log2 of the guesses an attacker needs)."""
    if not password:
        return 0.0
    result = zxcvbn(password[:MAX_LENGTH], user_inputs=user_inputs[:20])
    bits = result["guesses_log10"] / math.log10(2)
    if all(match["pattern"] == "bruteforce" for match in result["sequence"]):
        bits = max(bits, _charset_bits(password))
    return bits


def _personal_parts(email: str, names: list[str]) -> list[str]:
    parts = []
    if email:
        email = normalise(email.replace("@", " @ ").replace(".", " "))
        local = email.split(" @ ")[0].replace(" ", "")
        parts.append(local)
        parts += [w for w in email.replace("@", " ").split() if len(w) >= 3]
    for name in names:
        parts += [w for w in normalise(name).split() if len(w) >= 3]
    return sorted({p for p in parts if len(p) >= 3}, key=len, reverse=True)


def check(password: str, *, email: str = "", names: list[str] | None = None) -> list[Rule]:
    names = [n for n in (names or []) if n]
    folded = normalise(password).replace(" ", "")
    personal = _personal_parts(email, names)
    found = next((p for p in personal if p in folded), None)
    long_enough = MIN_LENGTH <= len(password) <= MAX_LENGTH
    common = password.lower().strip() in _common()
    bits = strength_bits(password, personal) if long_enough else 0.0
    return [
        Rule(
            "length",
            long_enough,
            _("At least %(min)d characters (a sentence is welcome)") % {"min": MIN_LENGTH}
            if len(password) <= MAX_LENGTH
            else _("At most %(max)d characters") % {"max": MAX_LENGTH},
        ),
        Rule(
            "personal",
            bool(password) and found is None,
            _("Neither your e-mail nor your name inside"),
        ),
        Rule("common", bool(password) and not common, _("Not a common or leaked password")),
        Rule(
            "strength",
            bits >= MIN_BITS and not common,
            _("Hard enough to guess (at least %(bits)d bits)") % {"bits": MIN_BITS},
        ),
    ]


def validate(password: str, *, email: str = "", names: list[str] | None = None) -> None:
    """ValidationError (on "password") listing every rule the password breaks."""
    failed = [rule.message for rule in check(password, email=email, names=names) if not rule.ok]
    if failed:
        raise ValidationError({"password": [_("The password does not meet these rules:"), *failed]})
