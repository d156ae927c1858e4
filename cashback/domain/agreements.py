"""Agreement numbers as the program compares them (D1, R8): normalised once, here, for the
duplicate check, the licensing-record lookup and the search attribute. Case, spaces and
separators (any dash, dot, slash, underscore) do not count: `OL-DEMO-4`, `ol-demo-4 `,
`OL DEMO 4` and `OL–DEMO–4` are one agreement."""

from __future__ import annotations

import re
import unicodedata

_SEPARATORS = re.compile(r"[^0-9A-Z]+")


def _folded(value: str) -> str:
    # NFKC: full-width digits and letters become ASCII ones; then upper case, ASCII only.
    text = unicodedata.normalize("NFKC", value).upper()
    return "".join(char if char.isascii() else "-" for char in text)


def agreement_number(value: str) -> str:
    """The agreement number as the program writes it: upper case, its parts joined by single
    hyphens (`ol–demo 4` -> `OL-DEMO-4`)."""
    return "-".join(part for part in _SEPARATORS.split(_folded(value)) if part)


def agreement_key(value: str) -> str:
    """D1: what two agreement numbers must share to be the same agreement (`OLDEMO4`)."""
    return "".join(_SEPARATORS.split(_folded(value)))
