"""R11: names are identical after normalising case, whitespace and punctuation only."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from cashback.domain.names import PlainText, control_characters, names_match, normalise_name

words = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüß0123456789", min_size=1, max_size=8),
    min_size=1,
    max_size=4,
)
separators = st.text(alphabet=" \t\n\u00a0", min_size=1, max_size=3)
punctuation = st.text(alphabet=".,;:!?'\"()&/", max_size=2)


def test_r11_seed_example_acme_gmbh() -> None:
    """R11: "ACME GmbH" equals "Acme  G.m.b.H."; "Acme AG" does not."""
    assert names_match("ACME GmbH", "Acme  G.m.b.H.")
    assert not names_match("ACME GmbH", "Acme AG")


def test_r11_normalise_name_examples() -> None:
    """R11: casefolded, punctuation dropped, whitespace collapsed and trimmed."""
    assert normalise_name("  Acme   G.m.b.H.  ") == "acme gmbh"
    assert normalise_name("Müller & Söhne KG") == "müller söhne kg"
    assert normalise_name("Acme\tSoft\nLtd.") == "acme soft ltd"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Acme GmbH", "ACME GMBH"),
        ("Acme GmbH", "Acme\u00a0GmbH"),
        ("Acme GmbH", " Acme GmbH "),
        ("Acme Ltd.", "Acme Ltd"),
        ("O'Brien Software", "OBrien Software"),
        ("Müller GmbH", "Mu\u0308ller GmbH"),  # composed and decomposed ü
    ],
)
def test_r11_names_equal_after_normalising(left: str, right: str) -> None:
    """R11: case, whitespace, punctuation and Unicode composition do not matter."""
    assert names_match(left, right)
    assert names_match(right, left)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Acme GmbH", "Acme AG"),
        ("Acme GmbH", "Acme Software GmbH"),
        ("Acme 1 GmbH", "Acme 2 GmbH"),
        ("Müller GmbH", "Muller GmbH"),
        ("Acme GmbH", "AcmeGmbH"),
    ],
)
def test_r11_names_differing_beyond_normalisation_do_not_match(left: str, right: str) -> None:
    """R11: letters, digits, diacritics and word boundaries matter."""
    assert not names_match(left, right)


@pytest.mark.parametrize("name", ["", "   ", "...", "-/-"])
def test_r11_empty_names_never_match(name: str) -> None:
    """R11: a name that normalises to nothing matches nothing, not even itself."""
    assert not names_match(name, name)
    assert not names_match(name, "")


@settings(max_examples=200, deadline=None)
@given(
    parts=words,
    seps=st.lists(separators, min_size=5, max_size=5),
    puncts=st.lists(punctuation, min_size=5, max_size=5),
    upper=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_r11_case_whitespace_and_punctuation_do_not_matter(
    parts: list[str], seps: list[str], puncts: list[str], upper: list[bool]
) -> None:
    """R11: the same words, re-cased, re-spaced and re-punctuated, are the same name."""
    canonical = " ".join(parts)
    noisy = seps[0] + "".join(
        (part.upper() if upper[i] else part) + puncts[i] + seps[i + 1]
        for i, part in enumerate(parts)
    )
    assert names_match(canonical, noisy)


@settings(max_examples=200, deadline=None)
@given(left=st.text(max_size=20), right=st.text(max_size=20))
def test_r11_matching_is_symmetric(left: str, right: str) -> None:
    """R11: a matches b exactly when b matches a."""
    assert names_match(left, right) == names_match(right, left)


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=30))
def test_r11_normalised_name_has_no_punctuation_and_single_spaces(name: str) -> None:
    """R11: the normal form is trimmed, single-spaced, and carries no punctuation or symbol."""
    normal = normalise_name(name)
    assert normal == normal.strip()
    assert "  " not in normal
    for char in normal:
        assert char == " " or unicodedata.category(char)[0] in "LNM"


@settings(max_examples=200, deadline=None)
@given(parts=words)
def test_r11_a_name_matches_its_normal_form(parts: list[str]) -> None:
    """R11: a name and its normal form are the same name."""
    name = " ".join(part.title() for part in parts) + "."
    assert names_match(name, normalise_name(name))


CONTROLS = ["\x00", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9f", "\u200e", "\u200f"]
CONTROLS += [chr(code) for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]


@pytest.mark.parametrize("control", CONTROLS)
def test_control_characters_are_found_and_refused_in_names(control: str) -> None:
    """CR, LF, NUL, the other C0 and C1 controls and the bidirectional overrides, isolates and
    marks are found (named as U+XXXX) and refused by `PlainText`."""
    name = f"Fabrikam{control} AG"
    assert control_characters(name) == [f"U+{ord(control):04X}"]
    with pytest.raises(ValidationError, match=f"U\\+{ord(control):04X}"):
        TypeAdapter(PlainText).validate_python(name)


def test_ordinary_names_pass_as_they_are() -> None:
    """Letters of any script, accents, punctuation and the no-break space are no controls."""
    for name in ("Müller & Söhne GmbH", "Ŝoftware Ltd.", "株式会社", "شركة", "A\u00a0B", "O'Neil"):
        assert control_characters(name) == []
        assert TypeAdapter(PlainText).validate_python(name) == name


@given(st.text())
@settings(max_examples=300)
def test_plain_text_refuses_exactly_the_texts_with_control_characters(text: str) -> None:
    found = control_characters(text)
    refused = False
    try:
        TypeAdapter(PlainText).validate_python(text)
    except ValidationError:
        refused = True
    assert refused == bool(found)
    assert all(chr(int(name[2:], 16)) in text for name in found)


@pytest.mark.parametrize(
    ("marked", "bare"),
    [
        ("Bx\u0301 GmbH", "Bx GmbH"),  # no precomposed x-acute: NFC leaves the mark
        ("Cafe\u0301 Software", "Cafe Software"),  # NFC composes it to é, still not e
        ("Ja\u0328\u0301 AG", "Ja AG"),  # two marks, only one composes
    ],
)
def test_r11_a_combining_mark_is_part_of_the_name(marked: str, bare: str) -> None:
    """R11: a mark NFC cannot compose is kept, not dropped like punctuation: the names differ."""
    assert not names_match(marked, bare)
    assert not names_match(bare, marked)
    assert names_match(marked, marked.upper())


def test_r11_an_uncomposable_mark_stays_in_the_normal_form() -> None:
    assert normalise_name("Bx\u0301 GmbH") == "bx\u0301 gmbh"
