"""R1: every endpoint that takes an id refuses another tenant. The routes with a path parameter
are read from the app itself (`app.routes`, the bank-details page included, which OpenAPI does
not show), and each must have an entry in ROUTES saying how reseller B calls it for reseller A's
object and what it must answer: 404 for a reseller's endpoint (the object is not B's, and that
reads the same as one that does not exist), 403 for an operator's endpoint (before the object
is looked up, so a made-up id answers the same: no oracle), 404 for a bank-details link made
from A's claim id (the link's token is the only credential). A new route with an id and no
entry here fails the test. A's objects are unchanged afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import new_agreement, submitted, terminate_all, wait_for_status
from tests.api.harness import Api, Reseller
from tests.api.portal_helpers import Portal

pytestmark = pytest.mark.security


@dataclass(frozen=True)
class Target:
    """Reseller A's objects, and a made-up id of each kind."""

    claim_id: str
    offer_id: str


Call = Callable[[Api, Reseller, str, str], Awaitable[httpx.Response]]


async def _get(api: Api, caller: Reseller, path: str, _: str) -> httpx.Response:
    return await api.http.get(path, headers=caller.headers)


async def _post_json(
    body: Mapping[str, object], api: Api, caller: Reseller, path: str
) -> httpx.Response:
    return await api.http.post(path, json=body, headers=caller.headers)


async def _close(api: Api, caller: Reseller, path: str, _: str) -> httpx.Response:
    return await api.http.post(path, headers=caller.headers)


async def _decide(api: Api, caller: Reseller, path: str, _: str) -> httpx.Response:
    body = {"kind": "reject", "reasons": ["R8: not eligible"]}
    return await _post_json(body, api, caller, path)


async def _decide_payee(api: Api, caller: Reseller, path: str, _: str) -> httpx.Response:
    return await _post_json({"kind": "pay_to_these_details"}, api, caller, path)


async def _refuse(api: Api, caller: Reseller, path: str, _: str) -> httpx.Response:
    return await _post_json({"note": "R1: not who it says"}, api, caller, path)


async def _payment_result(api: Api, caller: Reseller, path: str, _: str) -> httpx.Response:
    return await _post_json({"return_code": "ACSC"}, api, caller, path)


async def _set_budget(api: Api, caller: Reseller, path: str, _: str) -> httpx.Response:
    return await api.http.put(path, json={"budget_minor_units": 1}, headers=caller.headers)


async def _top_up(api: Api, caller: Reseller, path: str, _: str) -> httpx.Response:
    return await _post_json({"amount_minor_units": 1}, api, caller, path)


async def _set_policy(api: Api, caller: Reseller, path: str, _: str) -> httpx.Response:
    body = {"decision_policy": "at_once_when_conclusive"}
    return await api.http.put(path, json=body, headers=caller.headers)


async def _delete(api: Api, caller: Reseller, path: str, _: str) -> httpx.Response:
    return await api.http.delete(path, headers=caller.headers)


async def _bank_details(api: Api, caller: Reseller, path: str, _: str) -> httpx.Response:
    form = {"holder_name": caller.company_name, "iban": "DE02120300000000202051"}
    return await api.http.post(path, data=form, headers=caller.headers)


_PORTALS: dict[str, Portal] = {}


async def _portal_get(api: Api, caller: Reseller, path: str, _: str) -> httpx.Response:
    """The portal's page, in the caller's one browser session (its pages carry the session's
    CSRF token: one session, so two answers compare word for word)."""
    if caller.email not in _PORTALS:
        _PORTALS[caller.email] = await Portal.of(api).signed_in(caller)
    return await _PORTALS[caller.email].http.get(path)


@dataclass(frozen=True)
class Entry:
    """How reseller B calls the route for A's object (`{id}` filled from `kind`), and the status
    it must get."""

    kind: str  # "claim", "offer", "reseller" or "endpoint": which of A's ids fills the path
    call: Call
    expected: int


ROUTES: dict[tuple[str, str], Entry] = {
    ("GET", "/claims/{claim_id}"): Entry("claim", _get, 404),
    ("POST", "/operator/offers/{offer_id}/close"): Entry("offer", _close, 403),
    ("PUT", "/operator/offers/{offer_id}/budget"): Entry("offer", _set_budget, 403),
    ("POST", "/operator/offers/{offer_id}/budget/top-up"): Entry("offer", _top_up, 403),
    ("PUT", "/operator/offers/{offer_id}/decision-policy"): Entry("offer", _set_policy, 403),
    ("GET", "/operator/claims/{claim_id}"): Entry("claim", _get, 403),
    ("GET", "/operator/claims/{claim_id}/invoice"): Entry("claim", _get, 403),
    ("POST", "/operator/claims/{claim_id}/decision"): Entry("claim", _decide, 403),
    ("POST", "/operator/claims/{claim_id}/payment-result"): Entry("claim", _payment_result, 403),
    # Issue 14, VoP: the payee decision after NOAP is the operators'.
    ("POST", "/operator/claims/{claim_id}/payee-decision"): Entry("claim", _decide_payee, 403),
    ("POST", "/operator/resellers/{reseller_id}/approve"): Entry("reseller", _close, 403),
    ("POST", "/operator/resellers/{reseller_id}/refuse"): Entry("reseller", _refuse, 403),
    ("GET", "/bank-details/{token}"): Entry("claim", _get, 404),
    # R5: the signed link is the credential: a path without its signature opens nothing.
    ("GET", "/invoices/{object_key:path}"): Entry("claim", _get, 403),
    ("GET", "/codec/claims/{claim_id}/invoice"): Entry("claim", _get, 403),
    ("POST", "/bank-details/{token}"): Entry("claim", _bank_details, 404),
    # Issue 13: reports are the operators'; the dashboard's pages take only its own cookie
    # (a bearer token is not a sign-in there: its sign-in page answers 401).
    ("GET", "/operator/reports/{name}"): Entry("claim", _get, 403),
    ("GET", "/operator/reports/{name}.csv"): Entry("claim", _get, 403),
    ("GET", "/operator/dashboard/claims/{claim_id}"): Entry("claim", _get, 401),
    ("GET", "/operator/dashboard/reports/{name}.csv"): Entry("claim", _get, 401),
    # The reseller portal: another's claim page reads like one that does not exist.
    ("GET", "/portal/claims/{claim_id}"): Entry("claim", _portal_get, 404),
    ("GET", "/portal/static/{name}"): Entry("claim", _portal_get, 404),
    # Issue 17: a reseller's webhook endpoints (the redelivery's two ids both A's, or made up).
    ("GET", "/webhooks/endpoints/{endpoint_id}"): Entry("endpoint", _get, 404),
    ("DELETE", "/webhooks/endpoints/{endpoint_id}"): Entry("endpoint", _delete, 404),
    ("GET", "/webhooks/endpoints/{endpoint_id}/deliveries"): Entry("endpoint", _get, 404),
    ("POST", "/webhooks/endpoints/{endpoint_id}/enable"): Entry("endpoint", _close, 404),
    ("POST", "/webhooks/endpoints/{endpoint_id}/secret"): Entry("endpoint", _close, 404),
    (
        "POST",
        "/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    ): Entry("endpoint", _close, 404),
    # Issue 14: payment runs are the operators' (refused before the run is looked up).
    ("GET", "/operator/payment-runs/{run_id}"): Entry("claim", _get, 403),
    ("GET", "/operator/payment-runs/{run_id}/file"): Entry("claim", _get, 403),
    ("GET", "/operator/payment-runs/{run_id}/claims"): Entry("claim", _get, 403),
    ("GET", "/operator/payment-runs/{run_id}/reconciliation"): Entry("claim", _get, 403),
    ("GET", "/operator/payment-runs/{run_id}/reconciliation.csv"): Entry("claim", _get, 403),
    ("POST", "/operator/payment-runs/{run_id}/release"): Entry("claim", _close, 403),
    ("POST", "/operator/payment-runs/{run_id}/discard"): Entry("claim", _close, 403),
}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """A's webhook endpoint listens on loopback (development's setting; no event is sent)."""
    return {"webhook_allow_loopback": True}


def routes_with_ids(api: Api) -> set[tuple[str, str]]:
    """(method, path) of every route of the app that has a path parameter."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(api.app.routes):
        path = route.path
        if path is None or "{" not in path:
            continue
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, path))
    return found


def filled(path: str, value: str) -> str:
    """`path` with each of its parameters `value`."""
    return re.sub(r"\{[^}]*\}", value, path)


async def test_r1_every_route_with_an_id_refuses_another_resellers_object(api: Api) -> None:
    """R1: for each route with an id (read from the app), reseller B calling it for reseller
    A's object gets 404 (a reseller's route, or a bank-details link) or 403 (an operator's
    route), word for word the answer to a made-up id; A's claim and offer are unchanged; A
    itself reads its claim (200)."""
    routes = routes_with_ids(api)
    assert routes == set(ROUTES), (
        f"routes with an id not covered: {sorted(routes - set(ROUTES))}; "
        f"covered but gone: {sorted(set(ROUTES) - routes)}"
    )
    offer = await api.create_offer()
    owner = await api.register()
    other = await api.register("Woodgrove Software GmbH")
    claim_id = await submitted(api, owner, offer["offer_id"], new_agreement())
    await wait_for_status(api, owner, claim_id, ClaimStatus.UNDER_REVIEW)
    endpoint = await api.http.post(
        "/webhooks/endpoints",
        json={"url": "http://127.0.0.1:9/hooks", "event_types": ["claim.paid"]},
        headers=owner.headers,
    )
    assert endpoint.status_code == 201, endpoint.text
    ids = {
        "claim": claim_id,
        "offer": offer["offer_id"],
        "reseller": owner.reseller_id,
        "endpoint": endpoint.json()["endpoint_id"],
    }
    made_up = {
        "claim": "c_0000000000000000",
        "offer": "o_000000_00000000",
        "reseller": "r_0000000000000000",
        "endpoint": "we_0000000000000000",
    }

    for (method, path), entry in sorted(ROUTES.items()):
        theirs = await entry.call(api, other, filled(path, ids[entry.kind]), method)
        none = await entry.call(api, other, filled(path, made_up[entry.kind]), method)
        print(
            f"{method} {path} as reseller B: A's {entry.kind}: {theirs.status_code}, "
            f"a made-up id: {none.status_code}"
        )
        assert theirs.status_code == entry.expected, (method, path, theirs.text)
        assert none.status_code == entry.expected, (method, path, none.text)
        # The same answer, word for word, as for an id that does not exist: no oracle.
        assert theirs.text.replace(ids[entry.kind], "{id}") == none.text.replace(
            made_up[entry.kind], "{id}"
        ), (method, path)

    mine = await api.http.get(f"/claims/{claim_id}", headers=owner.headers)
    assert mine.status_code == 200
    assert mine.json()["status"] == ClaimStatus.UNDER_REVIEW
    offers = (await api.http.get("/offers", headers=owner.headers)).json()["offers"]
    assert [o["offer_id"] for o in offers] == [offer["offer_id"]]
    assert offers[0]["closed_at"] is None
    print(f"{len(ROUTES)} routes with an id, each refused another reseller")
    await terminate_all(api)
