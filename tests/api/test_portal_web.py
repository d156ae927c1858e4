"""The portal's pure helpers: where sign-in may lead (never off the portal), which language a
page speaks (D6), and the CSRF token (tied to the session)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from activities.records import TimelineEvent
from api.portal.web import _PAGES, PORTAL, csrf_token_of, page_language, safe_next
from cashback.domain.reseller import Language


@given(st.text(max_size=80))
def test_sign_in_leads_back_to_a_portal_page_only(target: str) -> None:
    """Whatever `next` says, the redirect stays on the portal's own pages (no open redirect)."""
    chosen = safe_next(target)
    assert chosen.startswith(PORTAL + "/")
    assert "//" not in chosen
    assert "\\" not in chosen


def test_sign_in_leads_back_to_the_page_asked_for() -> None:
    assert safe_next("/portal/offers") == "/portal/offers"
    assert safe_next("/portal/claims/new?offer=o_1") == "/portal/claims/new?offer=o_1"
    for elsewhere in (
        "//attacker.example/",
        "https://attacker.example/portal/",
        "/portal//x",
        "/portal/\\attacker",
        "/docs",
        "",
        None,
    ):
        assert safe_next(elsewhere) == "/portal/claims"


def test_d6_the_page_speaks_the_chosen_then_remembered_then_organisations_language() -> None:
    """D6: `?lang=` (then remembered) over the remembered choice over the organisation's
    language over the browser's; an unknown value counts for nothing."""
    german, english = Language.GERMAN, Language.ENGLISH
    assert page_language("en", "de", german, "de-DE") == (english, True)
    assert page_language(None, "en", german, "de-DE") == (english, False)
    assert page_language("fr", None, german, "en-GB") == (german, False)
    assert page_language(None, "xx", None, "de-AT,de;q=0.9") == (german, False)
    assert page_language(None, None, None, "fr-FR,de;q=0.5") == (english, False)
    assert page_language(None, None, None, "") == (english, False)


@given(st.text(min_size=32, max_size=64), st.text(max_size=64), st.text(max_size=64))
def test_the_csrf_token_is_tied_to_the_seed_and_the_session(
    seed: str, session: str, other: str
) -> None:
    """A form's token changes with the session (signing in or out) and with the seed."""
    token = csrf_token_of(seed, session)
    assert token == csrf_token_of(seed, session)
    assert len(token) == 64
    if other != session:
        assert csrf_token_of(seed, other) != token
    assert csrf_token_of(seed + "x", session) != token


def test_d3_d6_every_timeline_event_a_reseller_sees_has_its_words() -> None:
    """D3, D6 (and VoP's events): the claim page names every timeline event a reseller sees,
    in both languages; a missing one would fail the page (the templates are strict)."""
    seen = {event.value for event in TimelineEvent if not event.for_operators}
    for language in Language:
        words = _PAGES.get_template(f"{language.value}/_words.html").module
        assert set(words.EVENTS) >= seen, language  # type: ignore[attr-defined]
