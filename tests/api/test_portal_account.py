"""The portal's account page: the password changed with the API's service (the current one
again, throttled alike, a strong new one), and the bank details for all later claims (R10):
checked like the secure page's, judged like a claim's (R11, R12), shown masked only and never
sent back in a page, every change mailed to the company (R13)."""

from __future__ import annotations

import pytest

from tests.api.harness import PASSWORD, Api
from tests.api.portal_helpers import Portal
from tests.api.test_bank_details_page import (
    COMPANY,
    IBAN,
    IBAN_WITH_TYPO,
    MASKED,
    assert_masked_only,
    changes_mailed,
)

pytestmark = [pytest.mark.workflow, pytest.mark.smtp]

NEW_PASSWORD = "meadow-copper-lantern-77"


async def test_the_password_is_changed_with_the_current_one_and_other_sessions_end(
    api: Api,
) -> None:
    """A wrong current password and a weak new one are refused at their fields; the change
    signs out the user's other sessions, keeps this one, and the new password signs in."""
    reseller = await api.register(language="en")
    portal = await Portal.of(api).signed_in(reseller)
    elsewhere = await Portal.of(api).signed_in(reseller)

    wrong = await portal.post(
        "/portal/account/password",
        {"current_password": "not-my-password-1", "new_password": NEW_PASSWORD},
        form_path="/portal/account",
    )
    assert wrong.status_code == 403
    assert 'id="current_password-error">the current password is not right' in wrong.text
    weak = await portal.post(
        "/portal/account/password",
        {"current_password": PASSWORD, "new_password": "password1234"},
        form_path="/portal/account",
    )
    assert weak.status_code == 422
    assert 'id="new_password-error">the password is one of the most common ones' in weak.text

    changed = await portal.post(
        "/portal/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        form_path="/portal/account",
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == "/portal/account?done=password"
    assert (await portal.http.get("/portal/account")).status_code == 200
    assert (await elsewhere.http.get("/portal/account")).status_code == 303  # signed out
    assert (await Portal.of(api).sign_in(reseller.email, NEW_PASSWORD)).status_code == 303


async def test_r10_r11_r13_bank_details_for_later_claims_are_checked_masked_and_mailed(
    api: Api,
) -> None:
    """R10: a typo in the IBAN is shown at its field (in German, the secure page's words) and
    the IBAN is not sent back; R11: another holder's name is refused at the name; valid
    details are confirmed, shown masked only, and mailed (R13); withdrawn again, mailed."""
    reseller = await api.register(COMPANY)
    portal = await Portal.of(api).signed_in(reseller)
    form = "/portal/account"
    typo = await portal.post(
        "/portal/account/bank-details",
        {"holder_name": COMPANY, "holder_type": "company", "iban": IBAN_WITH_TYPO},
        form_path=form,
    )
    assert typo.status_code == 422
    assert 'id="iban-error">Die Prüfziffern dieser IBAN stimmen nicht' in typo.text
    assert IBAN_WITH_TYPO not in typo.text
    other_name = await portal.post(
        "/portal/account/bank-details",
        {"holder_name": "Someone Else GmbH", "holder_type": "company", "iban": IBAN},
        form_path=form,
    )
    assert other_name.status_code == 422
    assert (
        'id="holder_name-error">Der Kontoinhaber muss genau wie Ihr Unternehmen' in other_name.text
    )
    assert api.services.standing.of(reseller.reseller_id) is None
    assert not changes_mailed(api, reseller.reseller_id)

    confirmed = await portal.post(
        "/portal/account/bank-details",
        {"holder_name": COMPANY, "holder_type": "company", "iban": IBAN},
        form_path=form,
    )
    assert confirmed.status_code == 303
    page = await portal.http.get(confirmed.headers["location"])
    assert MASKED in page.text
    assert IBAN not in page.text
    assert 'data-done="bank_details"' in page.text
    [mail] = changes_mailed(api, reseller.reseller_id)
    assert_masked_only(api, mail)

    withdrawn = await portal.post("/portal/account/bank-details/withdraw", {}, form_path=form)
    assert withdrawn.status_code == 303
    assert 'id="no-standing"' in (await portal.http.get("/portal/account")).text
    assert api.services.standing.of(reseller.reseller_id) is None
    assert len(changes_mailed(api, reseller.reseller_id)) == 2
