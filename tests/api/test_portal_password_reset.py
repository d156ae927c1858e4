"""A forgotten password, reset in the portal with a one-time link that expires: the same answer
for every address, one link per address every few minutes, only the token's hash stored, the
API's password rules, every session signed out, a used or expired link refused (410)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from api.accounts import create_operator
from cashback.db.tables import PasswordReset
from tests.api.harness import Api
from tests.api.portal_helpers import Portal

pytestmark = [pytest.mark.workflow, pytest.mark.smtp]

NEW_PASSWORD = "harbour-violet-compass-58"
_LINK = re.compile(r"https?://\S+?(/portal/password-reset\?token=[\w-]+&lang=(?:de|en))")


def reset_links(api: Api, email: str) -> list[str]:
    """The paths of the reset links mailed to `email`, oldest first."""
    return [
        found.group(1)
        for delivery in api.mailbox.deliveries
        if email in delivery.rcpt_tos
        for found in [_LINK.search(delivery.part("plain"))]
        if found is not None
    ]


async def test_a_forgotten_password_is_reset_once_with_the_mailed_link(api: Api) -> None:
    """The request answers alike for an unknown address or an operator's (no mail) and a
    reseller's (a link, in the organisation's language; a second request within minutes sends
    none); the link's page takes a new password by the API's rules, signs out every session,
    and works only once."""
    reseller = await api.register()
    signed_in = await Portal.of(api).signed_in(reseller)
    portal = Portal.of(api)
    create_operator(api.services.database, "olga@program.example", NEW_PASSWORD)
    operator = await portal.post("/portal/password-reset", {"email": "olga@program.example"})
    assert 'id="reset-sent"' in operator.text
    unknown = await portal.post("/portal/password-reset", {"email": "nobody@contoso.example"})
    known = await portal.post("/portal/password-reset", {"email": reseller.email})
    assert unknown.status_code == known.status_code == 200
    assert 'id="reset-sent"' in unknown.text
    assert 'id="reset-sent"' in known.text
    await portal.post("/portal/password-reset", {"email": reseller.email})
    [link] = reset_links(api, reseller.email)
    assert link.endswith("&lang=de")
    for nobody in ("nobody@contoso.example", "olga@program.example"):  # no reseller's user
        assert not any(nobody in d.rcpt_tos for d in api.mailbox.deliveries)
    token = link.split("token=")[1].split("&")[0]
    with api.services.database.reading() as session:
        stored = session.scalars(select(PasswordReset.token_sha256)).all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]

    page, _ = await portal.form(link)
    assert "Neues Passwort wählen" in page
    weak = await portal.post(link, {"password": "password1234"})
    assert weak.status_code == 422
    assert 'id="password-error"' in weak.text
    done = await portal.post(link, {"password": NEW_PASSWORD}, form_path=link)
    assert done.status_code == 200
    assert 'id="password-set"' in done.text
    assert (await signed_in.http.get("/portal/claims")).status_code == 303  # signed out
    again = await portal.http.get(link)
    assert again.status_code == 410
    assert 'data-problem="reset_link_invalid"' in again.text
    assert (await Portal.of(api).sign_in(reseller.email, NEW_PASSWORD)).status_code == 303


async def test_an_expired_reset_link_changes_nothing(api: Api) -> None:
    """A link older than its hour is refused (410), on the page and when posted."""
    reseller = await api.register(language="en")
    api.services.password_resets.request(
        reseller.email, now=datetime.now(UTC) - timedelta(hours=1, seconds=1)
    )
    [link] = reset_links(api, reseller.email)
    portal = Portal.of(api)
    expired = await portal.http.get(link)
    assert expired.status_code == 410
    assert "This link no longer works" in expired.text
    _, csrf = await portal.form("/portal/password-reset")
    posted = await portal.http.post(link, data={"password": NEW_PASSWORD, "csrf": csrf})
    assert posted.status_code == 410
    assert (await Portal.of(api).sign_in(reseller.email, NEW_PASSWORD)).status_code == 401
