"""Credentials under attack (R1, R13): a brute-forced sign-in is throttled (429 with
Retry-After, whatever the casing or whitespace of the e-mail address, and then even the right
password is refused); bearer tokens that were tampered with, expired, signed out or belong to
another reseller are refused; bank-details links that were tampered with, expired, used
already, or that name another claim, are refused, and a link only ever reaches its own claim.
Each test prints the answers it got."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from api.accounts import TOKEN_LIFETIME
from api.deps import SESSION_COOKIE
from api.security import token_digest
from cashback.db.tables import ApiToken, BankDetailsInvitation, User
from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import new_agreement, submitted, terminate_all
from tests.api.harness import PASSWORD, Api, auth
from tests.api.test_bank_details_page import (
    bank_accounts_stored,
    claim_awaiting_bank_details,
    company_form,
    outcome_of,
    state_of,
)

pytestmark = pytest.mark.security

ALPHABET = string.ascii_letters + string.digits + "-_"


def flipped(token: str, position: int) -> str:
    """`token` with the character at `position` replaced by another of its alphabet."""
    other = ALPHABET[(ALPHABET.index(token[position]) + 1) % len(ALPHABET)]
    return token[:position] + other + token[position + 1 :]


def tokens_of(api: Api, email: str) -> int:
    with api.services.database.reading() as session:
        user_id = session.scalars(select(User.id).where(User.email == email)).one()
        count = session.scalar(
            select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user_id)
        )
    return count or 0


async def test_r1_brute_force_sign_in_is_throttled_across_casing_and_whitespace(api: Api) -> None:
    """R1: five wrong passwords for one account, its address written five ways (case,
    surrounding whitespace), then the sixth try gets 429 with Retry-After; while throttled the
    right password is refused too (no token is issued), on /auth/token and /auth/session.
    Another account signs in as usual."""
    victim = await api.register()
    bystander = await api.register("Woodgrove Software GmbH")
    issued_before = tokens_of(api, victim.email)
    local, domain = victim.email.split("@")
    spellings = [
        victim.email.upper(),
        f"  {victim.email}  ",
        f"{local.capitalize()}@{domain.upper()}",
        f"\t{victim.email.title()}",
        f"{victim.email}\n",
    ]
    answers: list[int] = []
    for spelling in spellings:
        response = await api.http.post(
            "/auth/token", data={"username": spelling, "password": "wrong password!"}
        )
        answers.append(response.status_code)
    assert answers == [401] * 5

    throttled = await api.http.post(
        "/auth/token", data={"username": victim.email, "password": "still the wrong one"}
    )
    right_password = await api.http.post(
        "/auth/token", data={"username": f" {victim.email.upper()} ", "password": PASSWORD}
    )
    session = await api.http.post(
        "/auth/session", data={"username": victim.email, "password": PASSWORD}
    )
    for response in (throttled, right_password, session):
        assert response.status_code == 429, response.text
        assert response.json()["error"] == "too_many_attempts"
        assert int(response.headers["Retry-After"]) > 0
    assert tokens_of(api, victim.email) == issued_before
    other = await api.http.post(
        "/auth/token", data={"username": bystander.email, "password": PASSWORD}
    )
    assert other.status_code == 200
    print(
        f"5 failures written 5 ways: {answers}; 6th try: {throttled.status_code}, right "
        f"password while throttled: {right_password.status_code} (Retry-After "
        f"{right_password.headers['Retry-After']} s), /auth/session: {session.status_code}; "
        f"tokens issued while throttled: {tokens_of(api, victim.email) - issued_before}; "
        f"another account: {other.status_code}"
    )


async def test_r1_tampered_expired_signed_out_and_foreign_tokens_are_refused(api: Api) -> None:
    """R1: a bearer token with one character changed (first, middle, last), an expired one
    (tokens live 8 hours), a signed-out one (DELETE /auth/token) gets 401, and so does a session
    cookie (it opens the codec only) and one signed out (DELETE /codec/session); another
    reseller's valid token gets 404 for this reseller's claim. The reseller's other tokens keep
    working."""
    offer = await api.create_offer()
    owner = await api.register()
    stranger = await api.register("Woodgrove Software GmbH")
    claim_id = await submitted(api, owner, offer["offer_id"], new_agreement())
    paths = ("/me", f"/claims/{claim_id}")
    results: dict[str, list[int]] = {}

    async def statuses(name: str, headers: dict[str, str]) -> list[int]:
        found = [(await api.http.get(path, headers=headers)).status_code for path in paths]
        results[name] = found
        return found

    assert await statuses("valid", owner.headers) == [200, 200]
    token = owner.token
    for position in (0, len(token) // 2, len(token) - 1):
        assert await statuses(f"char {position} flipped", auth(flipped(token, position))) == [
            401,
            401,
        ]
    assert await statuses("no token", {}) == [401, 401]
    assert await statuses("wrong scheme", {"Authorization": f"Basic {token}"}) == [401, 401]

    signed_in = await api.http.post(
        "/auth/token", data={"username": owner.email, "password": PASSWORD}
    )
    lifetime = datetime.fromisoformat(signed_in.json()["expires_at"]) - datetime.now(UTC)
    assert TOKEN_LIFETIME - timedelta(minutes=1) < lifetime <= TOKEN_LIFETIME
    expiring = signed_in.json()["access_token"]
    with api.services.database.transaction() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.token_sha256 == token_digest(expiring))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await statuses("expired", auth(expiring)) == [401, 401]

    assert await statuses("another reseller's", stranger.headers) == [200, 404]

    leaving = await api.sign_in(owner.email)
    assert await statuses("before signing out", auth(leaving)) == [200, 200]
    signed_out = await api.http.delete("/auth/token", headers=auth(leaving))
    assert signed_out.status_code == 204
    assert await statuses("signed out", auth(leaving)) == [401, 401]
    again = await api.http.delete("/auth/token", headers=auth(leaving))
    assert again.status_code == 401

    opened = await api.http.post(
        "/auth/session", data={"username": owner.email, "password": PASSWORD}
    )
    cookie = opened.cookies[SESSION_COOKIE]
    api.http.cookies.clear()
    cookies = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    assert await statuses("session cookie (opens the codec only)", cookies) == [401, 401]
    codec: dict[str, list[object]] = {"payloads": []}
    assert (await api.http.post("/codec/decode", json=codec, headers=cookies)).status_code == 403
    closed = await api.http.delete("/codec/session", headers=cookies)
    assert closed.status_code == 204
    assert f'{SESSION_COOKIE}=""' in closed.headers["set-cookie"]
    assert "Max-Age=0" in closed.headers["set-cookie"]
    assert (await api.http.post("/codec/decode", json=codec, headers=cookies)).status_code == 401
    assert await statuses("the first token, still", owner.headers) == [200, 200]

    print(f"token lifetime: {lifetime}; answers to GET {paths}:")
    for name, found in results.items():
        print(f"  {name}: {found}")
    await terminate_all(api)


@pytest.mark.workflow
@pytest.mark.smtp
async def test_r13_bank_links_tampered_expired_reused_or_of_another_claim_are_refused(
    api: Api,
) -> None:
    """R13: two claims (two resellers) wait for bank details. A's link with one character
    changed: 404; a claim id in place of a token: 404; A's link reaches only claim A (B still
    waits, B's link unspent); A's link used once: 410 after; B's link after its expiry: 410, and
    B's workflow heard nothing."""
    first = await claim_awaiting_bank_details(api)
    second = await claim_awaiting_bank_details(api, company_name="Woodgrove Software GmbH")
    invitations = api.services.invitations
    results: dict[str, int] = {}

    async def answer(name: str, path: str, post: bool = False) -> int:
        if post:
            response = await api.http.post(path, data=company_form())
        else:
            response = await api.http.get(path)
        results[name] = response.status_code
        return response.status_code

    token = first.token
    for position in (0, len(token) // 2, len(token) - 1):
        tampered = f"/bank-details/{flipped(token, position)}"
        assert await answer(f"A's link, char {position} flipped", tampered) == 404
        assert await answer(f"A's link, char {position} flipped (POST)", tampered, True) == 404
    for name, claim in (("A", first), ("B", second)):
        assert await answer(f"{name}'s claim id as token", f"/bank-details/{claim.claim_id}") == 404
    outstanding_second = invitations.outstanding(second.claim_id)

    assert await answer("A's link", first.link) == 200
    assert await answer("A's link (POST)", first.link, True) == 200
    assert bank_accounts_stored(api) == 1  # A's details, and only those
    second_state = await state_of(second)
    assert second_state.status is ClaimStatus.AWAITING_BANK_DETAILS
    assert second_state.bank_details_reference is None
    assert invitations.outstanding(second.claim_id) == outstanding_second
    assert await answer("B's link after A's was used", second.link) == 200

    assert await answer("A's link again", first.link) == 410
    assert await answer("A's link again (POST)", first.link, True) == 410

    with api.services.database.transaction() as session:
        session.execute(
            update(BankDetailsInvitation)
            .where(BankDetailsInvitation.token_sha256 == token_digest(second.token))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await answer("B's link, expired", second.link) == 410
    assert await answer("B's link, expired (POST)", second.link, True) == 410
    assert (await state_of(second)).bank_details_reference is None
    assert bank_accounts_stored(api) == 1

    for name, status in results.items():
        print(f"{name}: {status}")
    assert (await outcome_of(first)).status is ClaimStatus.PAID  # A went on, and ended
    await terminate_all(api)
