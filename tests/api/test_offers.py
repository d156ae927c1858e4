"""Offers (R2, R4): a reseller sees the offers open to its country now; operators create and
close them; resellers cannot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.harness import Api, offer_body


async def test_r2_r4_resellers_see_offers_open_to_their_country(api: Api) -> None:
    """R2: an offer for DE/AT is listed to a German reseller, not to a French one; R4: an offer
    whose claim period has not begun or that an operator closed is not listed."""
    now = datetime.now(UTC)
    open_offer = await api.create_offer()
    await api.create_offer(
        name="Later",
        claim_period={
            "opens_at": (now + timedelta(days=5)).isoformat(),
            "closes_at": (now + timedelta(days=50)).isoformat(),
        },
    )
    closed = await api.create_offer(name="Closed soon")
    response = await api.http.post(
        f"/operator/offers/{closed['offer_id']}/close", headers=api.operator
    )
    assert response.status_code == 200
    assert response.json()["closed_at"] is not None

    german = await api.register()
    listed = (await api.http.get("/offers", headers=german.headers)).json()["offers"]
    assert [offer["offer_id"] for offer in listed] == [open_offer["offer_id"]]
    assert listed[0]["rate_per_licence"] == {"minor_units": 1250, "currency": "EUR"}
    assert listed[0]["terms_version"] == "2026-01"

    french = await api.register("Contoso France SAS", country="FR", language="en")
    assert (await api.http.get("/offers", headers=french.headers)).json()["offers"] == []


async def test_operator_endpoints_refuse_resellers_and_check_offers(api: Api) -> None:
    """A reseller calling an operator endpoint gets 403; a bad offer gets a readable 422; an
    unknown offer 404."""
    reseller = await api.register()
    forbidden = await api.http.post("/operator/offers", json=offer_body(), headers=reseller.headers)
    assert forbidden.status_code == 403
    bad = offer_body(limits={"min_per_customer": 10, "max_per_customer": 5})
    invalid = await api.http.post("/operator/offers", json=bad, headers=api.operator)
    assert invalid.status_code == 422
    assert "min_per_customer is above max_per_customer" in invalid.json()["detail"]
    missing = await api.http.post("/operator/offers/o_nope/close", headers=api.operator)
    assert missing.status_code == 404


async def test_health_and_readiness(api: Api) -> None:
    """/healthz answers; /readyz checks the database and Temporal."""
    assert (await api.http.get("/healthz")).json() == {
        "status": "ok",
        "database": "ok",
        "temporal": "ok",
    }
    ready = await api.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"
