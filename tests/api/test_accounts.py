"""R1: resellers register with a company address and sign in; passwords are Argon2id hashes;
sign-in is throttled."""

from __future__ import annotations

from sqlalchemy import select

from cashback.db.tables import User
from tests.api.harness import PASSWORD, Api
from tests.identities import new_vat_id


async def test_r1_a_reseller_registers_signs_in_and_is_known(api: Api) -> None:
    """R1: registration, then sign-in with the password, then /me names the reseller."""
    reseller = await api.register()
    me = await api.http.get("/me", headers=reseller.headers)
    assert me.status_code == 200
    assert me.json() == {
        "email": reseller.email,
        "role": "reseller",
        "reseller_id": reseller.reseller_id,
        "email_confirmed": True,
        "organisation_status": "approved",
    }
    with api.services.database.reading() as session:
        stored = session.scalar(select(User.password_hash).where(User.email == reseller.email))
    assert stored is not None
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored


async def test_r1_free_mail_addresses_are_refused(api: Api) -> None:
    """R1: a free-mail address is refused with a message saying what to use (an address that
    is registered already is answered like a new one: tests/api/test_identity.py)."""
    body = {
        "company_name": "Contoso",
        "country": "DE",
        "email": "contoso@gmail.com",
        "password": PASSWORD,
        "vat_id": new_vat_id(),
    }
    free = await api.http.post("/auth/register", json=body)
    assert free.status_code == 422
    assert free.json() == {
        "error": "company_email_required",
        "detail": "register with your company's e-mail address (R1)",
    }


async def test_r1_bad_registration_input_gets_readable_errors(api: Api) -> None:
    """R1: a country without a business-day calendar and a short password are named."""
    response = await api.http.post(
        "/auth/register",
        json={
            "company_name": "Contoso",
            "country": "XX",
            "email": "a@contoso.example",
            "password": "short",
        },
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "country" in detail
    assert "password" in detail


async def test_r1_sign_in_is_throttled_after_five_failures(api: Api) -> None:
    """R1: wrong passwords get 401; the sixth attempt from the same address within 30 s gets
    429 with Retry-After, even with the right password."""
    reseller = await api.register()
    for _ in range(5):
        wrong = await api.http.post(
            "/auth/token", data={"username": reseller.email, "password": "not the password"}
        )
        assert wrong.status_code == 401
    throttled = await api.http.post(
        "/auth/token", data={"username": reseller.email, "password": PASSWORD}
    )
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0


async def test_r1_anonymous_and_tampered_tokens_get_401(api: Api) -> None:
    """R1: no token or a tampered one: 401 with the way to sign in."""
    reseller = await api.register()
    assert (await api.http.get("/offers")).status_code == 401
    tampered = await api.http.get("/me", headers={"Authorization": f"Bearer {reseller.token}x"})
    assert tampered.status_code == 401
    assert "POST /auth/token" in tampered.json()["detail"]
