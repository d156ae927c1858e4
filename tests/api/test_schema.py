"""The OpenAPI contract under generated input (schemathesis), on SQLite and on PostgreSQL, with
every schemathesis check on (no server error, status codes, content types, headers and bodies
as documented, negative data rejected, schema-valid data accepted unless a named business rule
refuses it, authentication not ignored, ...):

- each operation on its own with generated valid and invalid input;
- stateful: sequences that follow the OpenAPI links of the app (a claim listed or submitted ->
  the claim; the review queue -> the operator's claim, its invoice, a decision, a payment result;
  an offer created or listed -> closing it), from seeded data (an offer, a claim under review).

Every run prints the requests sent, the 5xx answers (must be 0) and the check failures (must
be 0). `CASHBACK_SCHEMA_EXAMPLES` / `CASHBACK_STATEFUL_EXAMPLES` raise the counts.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Flaky
from schemathesis import APIOperation, Case
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.core.transport import Response
from sqlalchemy import select

from api.accounts import COUNTRIES, create_operator, issue_token
from bench.stack import free_port
from cashback.db.tables import User
from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import (
    claim_fields,
    claim_rows,
    invoice_pdf,
    new_agreement,
    submitted,
    terminate_all,
    wait_for_status,
)
from tests.api.harness import PASSWORD, Api, Reseller, auth

MAX_EXAMPLES = int(os.environ.get("CASHBACK_SCHEMA_EXAMPLES", "25"))
STATEFUL_EXAMPLES = int(os.environ.get("CASHBACK_STATEFUL_EXAMPLES", "40"))
STATEFUL_STEPS = 8
STATEFUL_RESTARTS = 5

# Schema-valid requests that a business rule refuses, which OpenAPI cannot state (a field
# compared with another, a value compared with the database, an invoice's bytes): the error
# codes the app answers them with. `positive_data_acceptance` accepts these, and only these.
RULE_REFUSALS = frozenset(
    {
        "invalid_request",  # only with one of RULE_MESSAGES
        "claim_incomplete",  # R5: a field of blanks only
        "terms_not_accepted",  # R6
        "terms_version_mismatch",  # R6
        "offer_not_open",  # R2, R4
        "invoice_type_unsupported",  # R5: not a PDF, PNG or JPEG by its bytes
        "invoice_missing",  # R5: an empty file
        "invoice_not_a_file",  # R5: a text part; OpenAPI cannot require a part's filename
        "invalid_text",  # NUL and other control characters
        "idempotency_key_reused",  # D2
        "invalid_cursor",
        "invalid_csv",
        "invalid_payloads",
        "unknown_payload_key",
        "invalid_decision",  # D3: a decision sent through the codec without its claim
        "company_email_required",  # R1
        "organisation_registered",  # R1: a VAT id or partner id registered already
        "identifier_missing",  # R1: approving an organisation without an identifier
        "link_invalid",  # R1: a confirmation token not on record
        "wrong_password",  # R1: changing the password needs the current one
        "weak_password",  # R1: a common, short or repetitive new password
        "same_password",  # R1
        "too_many_attempts",  # R1: sign-in guesses from one address slow it down
        "invalid_bank_details",  # R10: an IBAN's check digits, a blank holder name
        "holder_name_mismatch",  # R11: standing details for another name
        "individual_account",  # R12: standing details of an individual
        "invalid_day",  # a report's day compared with today: from 2000 to a year ahead
        "not_xml",  # R14: a bank file that is not XML (bytes OpenAPI cannot describe)
        "not_iso20022",  # R14: XML that is no ISO 20022 document
        "unknown_namespace",  # R14: neither pain.002 nor camt.054
        "missing_element",  # R14: a bank file without its group header
        "endpoint_refused",  # issue 17: a webhook URL that resolves to no public address
        "too_many_endpoints",  # issue 17: at most 10 webhook endpoints
    }
)
RULE_MESSAGES = (
    "is before",  # a date range in order (cross-field)
    "is not after",  # a period in order (cross-field)
    "is above",  # min <= max (cross-field)
    "needs at least one reason",  # a rejection's reason (cross-field)
    "special-use or reserved name",  # R1: a deliverable company address, not `x@y.local`
    "R1: ",  # a VAT id (check digits, its country) or partner id (cross-field)
    "the password ",  # R1: a weak password (api.security.password_problem says why)
)


@pytest.fixture
def settings_overrides(on_both_databases: dict[str, Any]) -> dict[str, Any]:
    """The app on SQLite, and on PostgreSQL (which refuses what SQLite stores, e.g. NUL)."""
    return on_both_databases


@asynccontextmanager
async def serving(api: Api) -> AsyncIterator[str]:
    """The app on a loopback port, in this event loop (where its Temporal client lives)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(api.app, host="127.0.0.1", port=port, log_level="error", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Tally:
    """What a schemathesis run sent and what its checks found."""

    requests: int = 0
    server_errors: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    by_operation: Counter[str] = field(default_factory=Counter)
    rule_refusals: Counter[str] = field(default_factory=Counter)
    restarts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def validate(self, case: Case[Any], response: Response) -> None:
        """Count the request and run every check on its answer."""
        label = case.operation.label
        with self.lock:
            self.requests += 1
            self.by_operation[label] += 1
            if response.status_code >= 500:
                self.server_errors.append(f"{label}: {response.status_code} {response.text[:200]}")
        try:
            case.validate_response(response)
        except FailureGroup as group:
            self._failed(case, response, list(group.exceptions))
        except Failure as failure:
            self._failed(case, response, [failure])

    def _failed(self, case: Case[Any], response: Response, failures: list[Failure]) -> None:
        for failure in failures:
            if self._rule_refusal(failure, response) or self._lenient_case(case, failure):
                continue
            with self.lock:
                self.failures.append(
                    f"{case.operation.label} -> {response.status_code}: {failure.title}: "
                    f"{failure.message[:200]} | {response.text[:200]}"
                )

    def _lenient_case(self, case: Case[Any], failure: Failure) -> bool:
        """R1: a lower-case country code is accepted (and upper-cased), though the contract
        declares the canonical upper case only (issue 17: enums once, in canonical case)."""
        if "schema-violating" not in failure.title or not isinstance(case.body, dict):
            return False
        country = case.body.get("country")
        if not (isinstance(country, str) and country.islower() and country.upper() in COUNTRIES):
            return False
        with self.lock:
            self.rule_refusals["lower_case_country"] += 1
        return True

    def _rule_refusal(self, failure: Failure, response: Response) -> bool:
        """A schema-valid request refused by a business rule (see RULE_REFUSALS)."""
        if "Schema-valid request rejected" not in failure.title:
            return False
        try:
            body = response.json()
        except ValueError:
            return False
        code = body.get("error") if isinstance(body, dict) else None
        if code not in RULE_REFUSALS:
            return False
        detail = str(body.get("detail", ""))
        if code == "invalid_request" and not any(rule in detail for rule in RULE_MESSAGES):
            return False
        with self.lock:
            self.rule_refusals[str(code)] += 1
        return True

    def report(self, what: str) -> str:
        return (
            f"{what}: {self.requests} requests over {len(self.by_operation)} operations, "
            f"{len(self.server_errors)} answered 5xx, {len(self.failures)} check failures, "
            f"{self.restarts} restarts after a Flaky replay; "
            f"schema-valid requests refused by a business rule: {dict(self.rule_refusals)}"
        )


@dataclass(frozen=True)
class Callers:
    """Whose credentials each operation is called with."""

    api: Api
    reseller: Reseller

    def headers(self, operation: APIOperation[Any, Any, Any, Any]) -> dict[str, str]:
        """An operator's on the operators' paths, the reseller's elsewhere; signing out gets a
        token of its own (else the reseller's token would be gone for what follows), and
        signing out everywhere and changing the password a token of an operator nobody else
        uses here."""
        if operation.path.startswith(("/operator", "/codec")):
            return self.api.operator
        route = (operation.method.upper(), operation.path)
        if route == ("DELETE", "/auth/token"):
            return auth(self._token_of(self.reseller.email))
        if route in (("DELETE", "/auth/tokens"), ("POST", "/auth/password")):
            return auth(self._token_of(self.bystander()))
        return self.reseller.headers

    def bystander(self) -> str:
        """The e-mail address of an operator account made for these calls (once per test)."""
        email = f"bystander-{self.reseller.reseller_id}@program.example"
        with self.api.services.database.reading() as session:
            exists = session.scalar(select(User.id).where(User.email == email))
        if exists is None:
            create_operator(self.api.services.database, email, PASSWORD)
        return email

    def _token_of(self, email: str) -> str:
        with self.api.services.database.reading() as session:
            user_id = session.scalars(select(User.id).where(User.email == email)).one()
        return issue_token(self.api.services.database, user_id).access_token


def fuzz_operation(
    operation: APIOperation[Any, Any, Any, Any], base_url: str, callers: Callers, tally: Tally
) -> None:
    """One operation with generated (valid and invalid) input, every answer checked."""

    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: Case[Any]) -> None:
        tally.validate(case, case.call(base_url=base_url, headers=callers.headers(operation)))

    check()


def fuzz(base_url: str, callers: Callers) -> Tally:
    """Every operation, as a reseller, or as an operator on the operators' paths."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    tally = Tally()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        fuzz_operation(operation, base_url, callers, tally)
    return tally


def run_stateful(base_url: str, callers: Callers) -> Tally:
    """Sequences of calls along the app's OpenAPI links (schemathesis' state machine). The
    organisations' review and the webhook endpoints (no links lead there from a claim; both are
    fuzzed by the generated-requests test) are left out, so the steps go to the claims'
    sequences."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json").exclude(
        path_regex="^/(operator/resellers|webhooks)"
    )
    tally = Tally()

    class Links(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return {"headers": callers.headers(case.operation)}

        def validate_response(self, response: Response, case: Case[Any], **kwargs: Any) -> None:
            tally.validate(case, response)

    # The server's state moves on (a decided claim leaves the review queue), so a sequence that
    # Hypothesis replays may draw differently: it then raises Flaky. No check failed (checks
    # only record, see `Tally`), so the run goes on as schemathesis' own runner does: anew.
    for _ in range(STATEFUL_RESTARTS + 1):
        try:
            Links.run(
                settings=hypothesis_settings(
                    max_examples=STATEFUL_EXAMPLES,
                    stateful_step_count=STATEFUL_STEPS,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    database=None,
                    phases=[Phase.generate],
                )
            )
            break
        except Flaky:
            tally.restarts += 1
    return tally


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_generated_requests_never_get_a_server_error(api: Api) -> None:
    """Every documented operation, called with generated (valid and invalid) input, as a
    reseller or as an operator: no 5xx."""
    await api.create_offer()
    reseller = await api.register()
    async with serving(api) as base_url:
        tally = await asyncio.to_thread(fuzz, base_url, Callers(api, reseller))
    print(tally.report("generated requests"))
    assert tally.server_errors == []
    assert tally.failures == []
    # Generated means sent: every documented operation got requests (a schema that lost its
    # operations, or a strategy that drew nothing, would otherwise pass).
    schema = schemathesis.openapi.from_dict(api.app.openapi())
    labels = {result.ok().label for result in schema.get_all_operations() if isinstance(result, Ok)}
    assert labels, "the schema documents no operation"
    assert {label for label in labels if tally.by_operation[label] == 0} == set()
    assert tally.requests >= len(labels)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_stateful_sequences_along_the_links_pass_every_check(api: Api) -> None:
    """Sequences that follow the OpenAPI links (a listed claim is read, a queued claim is read,
    its invoice fetched, decided, paid; a created offer is closed), every answer checked: no
    5xx, no check failure, and the links are followed (the claim endpoints are reached)."""
    offer = await api.create_offer()
    reseller = await api.register()
    for _ in range(4):
        claim_id = await submitted(api, reseller, offer["offer_id"], new_agreement())
        await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
    async with serving(api) as base_url:
        tally = await asyncio.to_thread(run_stateful, base_url, Callers(api, reseller))
    print(tally.report("stateful sequences"))
    print("requests per operation:", dict(sorted(tally.by_operation.items())))
    assert tally.server_errors == []
    assert tally.failures == []
    assert tally.restarts <= STATEFUL_RESTARTS
    assert tally.by_operation["GET /claims/{claim_id}"] > 0
    # The operators' claim endpoints, reached through the lists' links (which of them the
    # random walk takes varies from run to run).
    reached = [
        operation
        for operation, requests in tally.by_operation.items()
        if operation.split(" ")[1].startswith("/operator/claims/{claim_id}") and requests > 0
    ]
    assert reached, tally.by_operation
    await terminate_all(api)


async def test_nul_characters_in_text_are_refused_not_a_server_error(api: Api) -> None:
    """Text with a NUL character (which PostgreSQL refuses) gets a clear 4xx, and a claim with
    one is refused before anything is stored."""
    signed_in = await api.http.post("/auth/token", data={"username": "a\x00b", "password": "x"})
    assert signed_in.status_code in (401, 422)
    offer = await api.create_offer()
    reseller = await api.register()
    fields = claim_fields(offer["offer_id"], "OL-NUL", customer_name="Fabrikam\x00 AG")
    submitted = await api.http.post(
        "/claims",
        data=fields,
        files={"invoice": ("invoice.pdf", invoice_pdf(), "application/pdf")},
        headers=reseller.headers,
    )
    assert submitted.status_code == 422
    assert submitted.json()["error"] == "invalid_text"
    assert claim_rows(api) == []
