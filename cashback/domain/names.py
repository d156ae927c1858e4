"""Comparing names as the program does (R11): identical after normalising case, whitespace and
punctuation only. "ACME GmbH" equals "Acme  G.m.b.H."; "Acme AG" does not."""

from __future__ import annotations

import unicodedata


def normalise_name(name: str) -> str:
    """Casefolded letters and digits separated by single spaces; punctuation dropped."""
    kept: list[str] = []
    for char in unicodedata.normalize("NFC", name).casefold():
        category = unicodedata.category(char)
        if category.startswith(("L", "N", "M")):
            kept.append(char)
        elif category.startswith("Z") or char.isspace():
            kept.append(" ")
        # punctuation and symbols are dropped: "G.m.b.H." -> "gmbh"
    return " ".join("".join(kept).split())


def names_match(left: str, right: str) -> bool:
    """R11: the two names are identical after normalising case, whitespace and punctuation."""
    return normalise_name(left) == normalise_name(right) != ""
