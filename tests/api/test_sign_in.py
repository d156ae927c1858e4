"""R1: sign-in abuse. Guessing from one address slows that address down and cannot lock the
account out elsewhere; an unknown address is answered like a wrong password, after the same
password verification; users change their password (other sessions are signed out) and sign
out everywhere."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import httpx
import pytest
from argon2 import PasswordHasher

from api.accounts import create_operator
from api.cli import PASSWORD_VARIABLE, CommandError, operator_password
from api.deps import SESSION_COOKIE
from api.security import Passwords
from tests.api.harness import PASSWORD, Api, auth

ATTACKER = ("203.0.113.66", 40_000)
ELSEWHERE = ("198.51.100.7", 50_000)


@asynccontextmanager
async def client_at(api: Api, address: tuple[str, int]) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app whose requests come from `address` (the ASGI scope's client)."""
    transport = httpx.ASGITransport(app=api.app, client=address)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/auth/token", data={"username": email, "password": password})


class CountingHasher(PasswordHasher):
    """The production Argon2id parameters, counting the verifications."""

    def __init__(self) -> None:
        super().__init__(time_cost=2, memory_cost=19 * 1024, parallelism=1)
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verifications += 1
        return super().verify(hash, password)


async def test_r1_a_hundred_guesses_from_one_address_do_not_lock_the_operator_out(
    api: Api,
) -> None:
    """R1: 100 wrong passwords for the operator from one address: 401 five times, then 429
    with Retry-After (the right password too, from there). From another address the operator
    signs in at once, by token and by browser session."""
    email = "olga.operator@program.example"
    create_operator(api.services.database, email, PASSWORD)
    answers: Counter[int] = Counter()
    async with client_at(api, ATTACKER) as attacker:
        for n in range(100):
            guess = await sign_in(attacker, email, f"guess-{n}-not-the-password")
            answers[guess.status_code] += 1
            if guess.status_code == 429:
                assert int(guess.headers["Retry-After"]) > 0
        right_from_there = await sign_in(attacker, email, PASSWORD)
    assert answers == {401: 5, 429: 95}
    assert right_from_there.status_code == 429

    async with client_at(api, ELSEWHERE) as operator:
        signed_in = await sign_in(operator, email, PASSWORD)
        assert signed_in.status_code == 200, signed_in.text
        token = signed_in.json()["access_token"]
        me = await operator.get("/me", headers=auth(token))
        assert me.json()["role"] == "operator"
        session = await operator.post(
            "/auth/session", data={"username": email, "password": PASSWORD}
        )
        assert session.status_code == 204
    print(
        f"100 guesses from {ATTACKER[0]}: {dict(answers)}, the right password from there: "
        f"{right_from_there.status_code} (Retry-After {right_from_there.headers['Retry-After']}"
        f" s); from {ELSEWHERE[0]}: {signed_in.status_code}"
    )


@pytest.mark.parametrize(
    ("trusted_proxies", "throttled_by"), [(0, "the proxy's address"), (1, "the client's")]
)
async def test_r1_x_forwarded_for_counts_only_behind_a_trusted_proxy(
    api: Api, trusted_proxies: int, throttled_by: str
) -> None:
    """R1: without CASHBACK_TRUSTED_PROXIES a client cannot dodge the throttle by writing
    X-Forwarded-For itself (the peer's address counts); with one trusted proxy the address the
    proxy appended counts, so a throttled client behind it leaves the others alone."""
    api.services.settings.trusted_proxies = trusted_proxies
    reseller = await api.register()
    async with client_at(api, ("10.0.0.2", 443)) as proxy:
        for n in range(5):
            forged = {"X-Forwarded-For": f"192.0.2.{n}, 203.0.113.66"}
            wrong = await proxy.post(
                "/auth/token",
                data={"username": reseller.email, "password": "wrong-password-here"},
                headers=forged,
            )
            assert wrong.status_code == 401
        other_client = await proxy.post(
            "/auth/token",
            data={"username": reseller.email, "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
    assert other_client.status_code == (429 if trusted_proxies == 0 else 200), throttled_by


async def test_r1_an_unknown_address_is_answered_like_a_wrong_password_after_a_verification(
    api: Api,
) -> None:
    """R1 (no account enumeration): a known address with a wrong password and an unknown
    address get the same status, body and headers, and each costs one Argon2 verification
    (the unknown one against a dummy hash), so neither answer nor time tells them apart."""
    reseller = await api.register()
    hasher = CountingHasher()
    api.services.passwords = Passwords(hasher)
    _ = api.services.passwords.dummy_hash  # made once per process, before the first unknown

    known = await sign_in(api.http, reseller.email, "wrong-password-here")
    after_known = hasher.verifications
    unknown = await sign_in(api.http, "nobody-here@contoso.example", "wrong-password-here")
    after_unknown = hasher.verifications - after_known

    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known.json() == {
        "error": "unauthenticated",
        "detail": "wrong e-mail address or password",
    }
    assert known.status_code == 401
    assert dict(known.headers) == dict(unknown.headers)
    assert (after_known, after_unknown) == (1, 1)


async def test_r1_changing_the_password_signs_out_the_other_sessions(api: Api) -> None:
    """R1: POST /auth/password with the current password and a new one: a wrong current one
    is 403, a weak new one (or the same) 422 with a sentence saying why; then 204, the token
    used keeps working, the user's other tokens and browser session are signed out, the old
    password no longer signs in and the new one does."""
    reseller = await api.register()
    other = await api.sign_in(reseller.email)
    opened = await api.http.post(
        "/auth/session", data={"username": reseller.email, "password": PASSWORD}
    )
    cookie = {"Cookie": f"{SESSION_COOKIE}={opened.cookies[SESSION_COOKIE]}"}
    api.http.cookies.clear()
    new_password = "Quince-Meadow-Tundra-81"

    async def change(current: str, new: str) -> httpx.Response:
        return await api.http.post(
            "/auth/password",
            json={"current_password": current, "new_password": new},
            headers=reseller.headers,
        )

    wrong = await change("not-the-password-x", new_password)
    assert (wrong.status_code, wrong.json()["error"]) == (403, "wrong_password")
    weak = await change(PASSWORD, "Password2026!")
    assert (weak.status_code, weak.json()["error"]) == (422, "weak_password")
    assert "most common" in weak.json()["detail"]
    same = await change(PASSWORD, PASSWORD)
    assert (same.status_code, same.json()["error"]) == (422, "same_password")
    assert (await api.http.get("/me", headers=auth(other))).status_code == 200

    changed = await change(PASSWORD, new_password)
    assert changed.status_code == 204, changed.text
    assert (await api.http.get("/me", headers=reseller.headers)).status_code == 200
    assert (await api.http.get("/me", headers=auth(other))).status_code == 401
    assert (await api.http.get("/me", headers=cookie)).status_code == 401
    assert (await sign_in(api.http, reseller.email, PASSWORD)).status_code == 401
    assert (await sign_in(api.http, reseller.email, new_password)).status_code == 200


async def test_r1_signing_out_everywhere_revokes_every_token_and_session(api: Api) -> None:
    """R1: DELETE /auth/tokens signs out every token and browser session of the user, the
    one it came with included, and clears the cookie; other users stay signed in; signing in
    again works."""
    reseller = await api.register()
    bystander = await api.register("Woodgrove Software GmbH")
    second = await api.sign_in(reseller.email)
    opened = await api.http.post(
        "/auth/session", data={"username": reseller.email, "password": PASSWORD}
    )
    cookie = {"Cookie": f"{SESSION_COOKIE}={opened.cookies[SESSION_COOKIE]}"}
    api.http.cookies.clear()

    everywhere = await api.http.delete("/auth/tokens", headers=reseller.headers)
    assert everywhere.status_code == 204
    assert f'{SESSION_COOKIE}=""' in everywhere.headers["set-cookie"]
    for headers in (reseller.headers, auth(second), cookie):
        assert (await api.http.get("/me", headers=headers)).status_code == 401
    assert (await api.http.delete("/auth/tokens", headers=reseller.headers)).status_code == 401
    assert (await api.http.get("/me", headers=bystander.headers)).status_code == 200
    assert (await api.http.get("/me", headers=auth(await api.sign_in(reseller.email)))).is_success


async def test_r1_weak_passwords_are_refused_wherever_a_password_is_set(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R1: registration answers 422 naming the password and why; `create_operator` and the
    operator command refuse one too, before anything is written."""
    registered = await api.http.post(
        "/auth/register",
        json={
            "company_name": "Contoso",
            "country": "DE",
            "email": "jane.doe@contoso.example",
            "password": "Password2026!",
        },
    )
    assert registered.status_code == 422
    assert "password" in registered.json()["detail"]
    assert "most common" in registered.json()["detail"]
    with pytest.raises(ValueError, match="repeats"):
        create_operator(api.services.database, "olga@program.example", "aaaaaaaaaaaa")
    monkeypatch.setenv(PASSWORD_VARIABLE, "olga-secret-2026!")
    with pytest.raises(CommandError, match="contains your e-mail address"):
        operator_password(email="olga@program.example")
    assert (
        await api.http.post(
            "/auth/token", data={"username": "olga@program.example", "password": "aaaaaaaaaaaa"}
        )
    ).status_code == 401


async def test_r1_the_new_routes_are_documented_with_their_errors(api: Api) -> None:
    """R1: OpenAPI names the new routes and their error answers."""
    paths = (await api.http.get("/openapi.json")).json()["paths"]
    assert set(paths["/auth/password"]["post"]["responses"]) == {
        "204", "401", "403", "422", "429"
    }  # fmt: skip
    assert {"204", "401"} <= set(paths["/auth/tokens"]["delete"]["responses"])
