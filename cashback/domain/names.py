"""Names as the program takes and compares them. Taken: without control characters (line
breaks, tabs, NUL, bidirectional overrides), which would forge log lines, mail headers or what a
reader sees (`PlainText`, `control_characters`). Compared (R11): identical after normalising
case, whitespace and punctuation only. "ACME GmbH" equals "Acme  G.m.b.H."; "Acme AG" does
not."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError


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


# Bidirectional formatting characters that reorder what a reader sees (Trojan Source).
_BIDI_CONTROLS = frozenset({0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})


def control_characters(text: str) -> list[str]:
    """The control characters in `text`, each once, as `U+000A`: C0 and C1 controls (NUL, tab,
    CR, LF, DEL, ...) and the bidirectional overrides, embeddings, isolates and marks."""
    found: list[str] = []
    for char in text:
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F or code in _BIDI_CONTROLS:
            name = f"U+{code:04X}"
            if name not in found:
                found.append(name)
    return found


def refuse_control_characters(text: str) -> str:
    """`text` as it is, or a ValueError (of type `control_characters` for pydantic) naming its
    control characters."""
    found = control_characters(text)
    if found:
        raise PydanticCustomError(
            CONTROL_CHARACTERS,
            "must not contain control characters ({found}): line breaks, tabs and direction "
            "marks have no place in a name or an address; remove them",
            {"found": ", ".join(found)},
        )
    return text


CONTROL_CHARACTERS = "control_characters"  # the pydantic error type of the refusal
# What OpenAPI tells clients (ECMA-262): no C0/C1 controls and no bidirectional controls.
_NO_CONTROLS = "^[^\\x00-\\x1f\\x7f-\\x9f\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"

# A one-line text for people to read: a name or an address, without control characters.
PlainText = Annotated[
    str,
    AfterValidator(refuse_control_characters),
    Field(json_schema_extra={"pattern": _NO_CONTROLS}),
]
