"""R11: names are identical after normalising case, whitespace and punctuation only."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashback.domain.names import names_match, normalise_name

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
