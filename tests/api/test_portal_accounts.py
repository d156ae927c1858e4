"""The reseller portal's account pages (R1) and what keeps them safe: the session cookie
(HttpOnly, SameSite=Lax, Secure on https), CSRF tokens tied to the session, forms from other
sites refused, the Content-Security-Policy without inline script, and sign-in throttled as in
the API."""

from __future__ import annotations

import pytest

from api.portal.web import CONTENT_SECURITY_POLICY, CSRF_COOKIE, SESSION_COOKIE
from tests.api.harness import PASSWORD, Api
from tests.api.portal_helpers import Portal, hidden
from tests.identities import new_vat_id

pytestmark = [pytest.mark.workflow, pytest.mark.smtp]


async def test_r1_a_company_registers_in_the_portal_and_free_mail_is_refused_at_its_field(
    api: Api,
) -> None:
    """R1: a free-mail address is refused next to the e-mail field (nothing registered, the
    password not sent back); a company address gets the "check your inbox" page, in the chosen
    language, and the confirmation mail."""
    portal = Portal.of(api)
    fields = {
        "company_name": "Northwind Traders GmbH",
        "country": "DE",
        "language": "de",
        "email": "northwind@gmail.com",
        "password": PASSWORD,
        "vat_id": new_vat_id(),
    }
    refused = await portal.post("/portal/register?lang=de", fields)
    assert refused.status_code == 422
    assert 'id="email-error"' in refused.text
    assert "Freemail-Adressen sind ausgeschlossen (R1)" in refused.text
    assert PASSWORD not in refused.text
    assert 'aria-describedby="email-hint email-error" aria-invalid="true"' in refused.text

    english = await portal.post("/portal/register?lang=en", fields)
    assert "register with your company&#39;s e-mail address (R1)" in english.text

    registered = await portal.post(
        "/portal/register", {**fields, "email": "claims@northwind.example"}
    )
    assert registered.status_code == 200, registered.text
    assert "Bitte sehen Sie in Ihr Postfach" in registered.text
    assert api.link_token("claims@northwind.example")


async def test_r1_an_invalid_vat_id_and_a_weak_password_are_shown_at_their_fields(
    api: Api,
) -> None:
    """R1: the API's checks (VAT id check digits, password strength) answer at the fields."""
    portal = Portal.of(api)
    fields = {
        "company_name": "Northwind Traders GmbH",
        "country": "DE",
        "language": "en",
        "email": "claims@northwind.example",
        "password": "password1234",
        "vat_id": new_vat_id(),
    }
    weak = await portal.post("/portal/register", fields)
    assert weak.status_code == 422
    assert 'id="password-error"' in weak.text
    assert "the password is one of the most common ones" in weak.text
    wrong_digits = await portal.post(
        "/portal/register", {**fields, "password": PASSWORD, "vat_id": "DE123456789"}
    )
    assert wrong_digits.status_code == 422
    assert 'id="vat_id-error">R1: ' in wrong_digits.text
    assert not api.mailbox.deliveries


async def test_sign_in_sets_a_safe_session_and_sign_out_ends_it(api: Api) -> None:
    """The session cookie is HttpOnly and SameSite=Lax on the portal's path (not Secure on
    plain http); every page has the CSP without inline script; signing out ends the session's
    token at once."""
    reseller = await api.register()
    portal = Portal.of(api)
    page = await portal.http.get("/portal/sign-in")
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "<script>" not in page.text
    assert "style=" not in page.text

    signed_in = await portal.sign_in(reseller.email)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/portal/claims"
    cookie = next(
        value
        for name, value in signed_in.headers.multi_items()
        if name == "set-cookie" and value.startswith(SESSION_COOKIE + "=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/portal" in cookie
    assert "Secure" not in cookie  # plain http in development
    claims = await portal.http.get("/portal/claims")
    assert claims.status_code == 200
    assert "Meine Anträge" in claims.text  # D6: the organisation's language (German)

    signed_out = await portal.post("/portal/sign-out", {}, form_path="/portal/claims")
    assert signed_out.status_code == 303
    again = await portal.http.get("/portal/claims")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/portal/sign-in?next=")


async def test_the_session_cookie_is_secure_on_https(api: Api) -> None:
    """Secure: on a program served over https the session cookie is only sent over https."""
    reseller = await api.register()
    api.services.settings.public_base_url = "https://cashback.example"
    try:
        portal = Portal.of(api, "https://testserver")
        _, csrf = await portal.form("/portal/sign-in")
        signed_in = await portal.http.post(
            "/portal/sign-in",
            data={"email": reseller.email, "password": PASSWORD, "csrf": csrf},
            headers={"Origin": "https://cashback.example"},
        )
        assert signed_in.status_code == 303, signed_in.text
        cookies = [v for k, v in signed_in.headers.multi_items() if k == "set-cookie"]
        assert cookies
        assert all("Secure" in cookie for cookie in cookies)
    finally:
        api.services.settings.public_base_url = "http://testserver"


async def test_a_form_without_the_sessions_csrf_token_or_from_another_site_is_refused(
    api: Api,
) -> None:
    """CSRF: a POST without the token, with another session's token, or sent by a browser
    from another site (the sign-in form included: login CSRF) is refused (403) and changes
    nothing."""
    reseller = await api.register()
    portal = await Portal.of(api).signed_in(reseller)
    _, token = await portal.form("/portal/claims")

    missing = await portal.http.post("/portal/sign-out", data={})
    assert missing.status_code == 403
    assert 'data-problem="csrf"' in missing.text

    stranger = Portal.of(api)
    _, foreign_token = await stranger.form("/portal/sign-in")
    foreign = await portal.http.post("/portal/sign-out", data={"csrf": foreign_token})
    assert foreign.status_code == 403

    cross_site = await portal.http.post(
        "/portal/sign-out",
        data={"csrf": token},
        headers={"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    assert 'data-problem="cross_site"' in cross_site.text
    login_csrf = await stranger.http.post(
        "/portal/sign-in",
        data={"email": reseller.email, "password": PASSWORD, "csrf": foreign_token},
        headers={"Origin": "https://attacker.example"},
    )
    assert login_csrf.status_code == 403
    assert (await portal.http.get("/portal/claims")).status_code == 200  # still signed in

    # The token is tied to the session: the one of the signed-out form no longer works.
    _, before = await stranger.form("/portal/sign-in")
    await stranger.signed_in(reseller)
    stale = await stranger.http.post("/portal/sign-out", data={"csrf": before})
    assert stale.status_code == 403


async def test_r1_sign_in_is_throttled_as_in_the_api(api: Api) -> None:
    """R1: wrong passwords answer alike for unknown addresses, and after five failures the
    portal asks to wait (429), with the API's throttle."""
    reseller = await api.register()
    portal = Portal.of(api)
    unknown = await portal.sign_in("nobody@contoso.example", "wrong-password-1234")
    assert unknown.status_code == 401
    for _ in range(5):
        wrong = await portal.sign_in(reseller.email, "wrong-password-1234")
        assert wrong.status_code == 401
        assert 'data-error="unauthenticated"' in wrong.text
    throttled = await portal.sign_in(reseller.email)
    assert throttled.status_code == 429
    assert 'data-error="too_many_attempts"' in throttled.text


async def test_r1_a_pending_organisation_is_told_why_it_cannot_claim_yet(api: Api) -> None:
    """R1: a signed-in user of an organisation the program has not approved sees why, not the
    offers; the account page changes the password, but takes no bank details (R10)."""
    pending = await api.register(approve=False)
    portal = await Portal.of(api).signed_in(pending)
    offers = await portal.http.get("/portal/offers")
    assert offers.status_code == 403
    assert 'data-problem="organisation_pending"' in offers.text
    assert hidden(offers.text, "csrf")  # the sign-out form still works
    assert CSRF_COOKIE in portal.http.cookies
    account = await portal.http.get("/portal/account")
    assert account.status_code == 200  # the password is theirs to change meanwhile
    assert 'data-problem="organisation_pending"' in account.text
    assert 'id="bank-title"' not in account.text  # R10: bank details once it may claim
    changed = await portal.post(
        "/portal/account/password",
        {"current_password": PASSWORD, "new_password": "meadow-copper-lantern-77"},
        form_path="/portal/account",
    )
    assert changed.status_code == 303
    refused = await portal.post(
        "/portal/account/bank-details",
        {"holder_name": pending.company_name, "iban": "DE02120300000000202051"},
        form_path="/portal/account",
    )
    assert refused.status_code == 403
    assert api.services.standing.of(pending.reseller_id) is None


async def test_r1_an_unconfirmed_address_gets_a_new_link_from_the_portal(api: Api) -> None:
    """R1: a user who has not confirmed the address is told so, and asks for a new link on the
    page: the mail goes out, and the new link confirms the address."""
    portal = Portal.of(api)
    email = "claims@adatum.example"
    registered = await portal.post(
        "/portal/register",
        {
            "company_name": "Adatum Software GmbH",
            "country": "DE",
            "language": "en",
            "email": email,
            "password": PASSWORD,
            "vat_id": new_vat_id(),
        },
    )
    assert registered.status_code == 200
    first = api.link_token(email)
    assert (await portal.sign_in(email)).status_code == 303
    offers = await portal.http.get("/portal/offers")
    assert offers.status_code == 403
    assert 'data-problem="address_unconfirmed"' in offers.text
    sent = await portal.post("/portal/confirmation", {}, form_path="/portal/account")
    assert sent.status_code == 200
    assert 'data-problem="confirmation_sent"' in sent.text
    second = api.link_token(email)
    assert second != first
    confirmed = await api.http.post("/auth/confirm", json={"token": second})
    assert confirmed.status_code == 200
