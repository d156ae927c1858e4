"""Who decided (D3): an operator's decision carries a proof, made by the program for the
signed-in operator, that binds it to one claim and one moment. The claim workflow's `decide`
validator accepts only decisions with a valid proof, so the operator recorded on the timeline
is an account that signed in, never a name typed into an update's JSON.

Two places sign: the API's decision endpoint and the codec endpoint the Temporal Web UI (or the
`temporal` CLI with `--codec-endpoint`) sends updates through. The worker verifies with the
same key (`CASHBACK_DECISION_KEY`), registered for its task queue when it starts: validators do
not run on replay, so the key never has to be in a workflow's history.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload

from cashback.claims import Decision, DecisionKind, PayeeDecision, PayeeDecisionKind

# A claim decision (R8, R9) or a payee decision after VoP NOAP (issue 14): signed alike.
Signed = TypeVar("Signed", Decision, PayeeDecision)

# A signed decision is taken within this time of its signing, by the workflow's clock.
LIFETIME = timedelta(minutes=10)
# Clocks of the API's host and the Temporal server may differ a little.
CLOCK_SKEW = timedelta(minutes=1)
HOW_TO_DECIDE = (
    "decide through the API (POST /operator/claims/{claim_id}/decision, or .../payee-decision "
    "on a payee the bank could not verify), or in the Temporal "
    "Web UI or with the temporal CLI (--codec-endpoint, --codec-auth) through the program's "
    "codec, signed in as an operator: the program then signs the decision for you"
)


def _how(claim_id: str) -> str:
    return HOW_TO_DECIDE.format(claim_id=claim_id)


_PURPOSE = b"cashback-decision-v1\n"  # a proof of this kind is never valid for anything else
_PAYEE_PURPOSE = b"cashback-payee-decision-v1\n"  # nor one of this kind
_JSON = b"json/plain"


class DecisionRefused(ValueError):
    """A decision without a valid proof; the message says why and how to decide instead."""


def _canonical(decision: Decision | PayeeDecision) -> bytes:
    """The signed content: every field that changes what the decision does or who made it."""
    assert decision.issued_at is not None
    if isinstance(decision, PayeeDecision):
        payee = {
            "claim_id": decision.claim_id,
            "operator": decision.operator,
            "kind": decision.kind.value,
            "reason": decision.reason,
            "issued_at": decision.issued_at.astimezone(UTC).isoformat(timespec="microseconds"),
        }
        text = json.dumps(payee, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return _PAYEE_PURPOSE + text.encode()
    fields = {
        "claim_id": decision.claim_id,
        "operator": decision.operator,
        "kind": decision.kind.value,
        "reasons": list(decision.reasons),
        "licences": decision.licences,
        "sale_date": decision.sale_date.isoformat() if decision.sale_date else None,
        "issued_at": decision.issued_at.astimezone(UTC).isoformat(timespec="microseconds"),
    }
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _PURPOSE + encoded.encode()


class DecisionKey:
    """Signs decisions for operators and verifies them (HMAC-SHA256 with the decision key)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a decision key has at least 32 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "DecisionKey(<secret>)"

    def _proof(self, decision: Decision | PayeeDecision) -> str:
        return hmac.new(self._key, _canonical(decision), hashlib.sha256).hexdigest()

    def sign(
        self, decision: Signed, *, claim_id: str, operator: str, issued_at: datetime
    ) -> Signed:
        """The decision as `operator` (a signed-in operator's address) makes it on `claim_id`
        at `issued_at`, with its proof; whatever operator or proof it named is replaced."""
        stamped = decision.model_copy(
            update={
                "claim_id": claim_id,
                "operator": operator,
                "issued_at": issued_at.astimezone(UTC),
                "proof": None,
            }
        )
        return stamped.model_copy(update={"proof": self._proof(stamped)})

    def verify(self, decision: Decision | PayeeDecision, *, claim_id: str, now: datetime) -> None:
        """Raise `DecisionRefused` unless the program signed this very decision for `claim_id`
        within `LIFETIME` before `now`."""
        if decision.proof is None or decision.issued_at is None or decision.claim_id is None:
            raise DecisionRefused(
                "the decision is not signed by the program, so it cannot say which operator "
                f"made it (an update typed without the codec, for instance): {_how(claim_id)}"
            )
        if not hmac.compare_digest(decision.proof, self._proof(decision)):
            raise DecisionRefused(
                "the decision's proof does not match it: it was changed after it was signed "
                "(operator, kind, reasons, licences, sale date, claim or time), or not signed "
                f"by this program: {_how(claim_id)}"
            )
        if decision.claim_id != claim_id:
            raise DecisionRefused(
                f"the decision was signed for claim {decision.claim_id}, not for this claim "
                f"({claim_id}): {_how(claim_id)}"
            )
        if decision.issued_at < now - LIFETIME:
            raise DecisionRefused(
                f"the decision was signed at {decision.issued_at.isoformat(timespec='seconds')}"
                f", more than {LIFETIME.seconds // 60} minutes ago: send it again, to be signed "
                f"anew; {_how(claim_id)}"
            )
        if decision.issued_at > now + CLOCK_SKEW:
            raise DecisionRefused(
                f"the decision is dated {decision.issued_at.isoformat(timespec='seconds')}, "
                f"later than now ({now.isoformat(timespec='seconds')}): check the clocks of "
                "the API's host and the Temporal server"
            )

    def sign_payloads(
        self, payloads: Sequence[Payload], *, operator: str, now: datetime
    ) -> list[Payload]:
        """The codec's part: each payload that is a decision (JSON with `kind` approve or
        reject, or a payee decision's kind) is signed for the signed-in `operator`; other
        payloads pass unchanged."""
        return [self._sign_payload(payload, operator, now) for payload in payloads]

    def _sign_payload(self, payload: Payload, operator: str, now: datetime) -> Payload:
        if payload.metadata.get("encoding") != _JSON:
            return payload
        try:
            content = json.loads(payload.data)
        except ValueError:
            return payload
        kinds = {kind.value for kind in DecisionKind}
        payee_kinds = {kind.value for kind in PayeeDecisionKind}
        if not isinstance(content, dict) or content.get("kind") not in kinds | payee_kinds:
            return payload
        claim_id = content.get("claim_id")
        if not isinstance(claim_id, str) or not claim_id:
            raise DecisionRefused(
                'a decision sent through the codec names its claim: add "claim_id" (the '
                'claim id, the workflow id without "claim-")'
            )
        content = {**content, "operator": operator}
        try:
            if content.get("kind") in payee_kinds:
                payee = PayeeDecision.model_validate(content)
                signed: Decision | PayeeDecision = self.sign(
                    payee, claim_id=claim_id, operator=operator, issued_at=now
                )
            else:
                decision = Decision.model_validate(content)
                signed = self.sign(decision, claim_id=claim_id, operator=operator, issued_at=now)
        except ValidationError as error:
            raise DecisionRefused(f"not a decision: {error}") from error
        return Payload(metadata=dict(payload.metadata), data=signed.model_dump_json().encode())


_WORKER_KEYS: dict[str, DecisionKey] = {}


def trust_on(task_queue: str, key: DecisionKey) -> None:
    """A worker on `task_queue` verifies decisions with `key` (called when it starts)."""
    _WORKER_KEYS[task_queue] = key


def verify_on(
    task_queue: str, decision: Decision | PayeeDecision, *, claim_id: str, now: datetime
) -> None:
    """The `decide` and `decide_payee` validators' check, with the key of the worker running
    it."""
    key = _WORKER_KEYS.get(task_queue)
    if key is None:
        raise DecisionRefused(
            f"this worker has no decision key for the task queue {task_queue}, so it cannot "
            "verify who decided; start it with claim_worker(..., decision_key=...)"
        )
    key.verify(decision, claim_id=claim_id, now=now)
