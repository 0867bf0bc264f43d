"""Text helpers shared by every app: search normalisation, spreadsheet exports."""

import csv
import io
import re
import unicodedata

_SPACES = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[^\w+@.]+")


def normalise(value: str | None) -> str:
    """Lower case, accents stripped, punctuation folded to spaces.

    SQLite's LIKE and lower() only fold ASCII ("Hélène" != "helene"), so every searchable model
    keeps a column written through this function, and queries go through it too: the same
    result on SQLite and PostgreSQL.
    """
    if not value:
        return ""
    decomposed = unicodedata.normalize("NFKD", str(value))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("ß", "ss")
    return _SPACES.sub(" ", _NOT_WORD.sub(" ", stripped.lower())).strip()


def search_terms(query: str | None, limit: int = 6) -> list[str]:
    """The words of a search box, normalised; at most `limit` of them."""
    return normalise(query).split()[:limit]


def join_for_search(*parts: str | None) -> str:
    return normalise(" ".join(p for p in parts if p))


def french_csv(header: list, rows) -> str:
    """CSV as a French spreadsheet opens it: ";" between cells, a byte-order mark for the
    accents."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(header)
    writer.writerows(rows)
    return "\ufeff" + out.getvalue()
