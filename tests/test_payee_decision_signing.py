"""VoP, D3: a payee decision (after NOAP) is signed like a review decision, for the signed-in
operator, and the codec signs one typed into the Web UI or the CLI; its proof is of its own
kind, so it never passes for a review decision's, nor the other way round."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest
from temporalio.api.common.v1 import Payload

from cashback.claims import Decision, DecisionKind, PayeeDecision, PayeeDecisionKind
from cashback.decisions import DecisionKey, DecisionRefused

KEY = DecisionKey(os.urandom(32))
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_vop_d3_the_codec_signs_a_payee_decision_for_the_signed_in_operator() -> None:
    typed = {"kind": "ask_for_other_details", "claim_id": "c-42", "operator": "mallory@x.example"}
    payload = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(typed).encode())
    [signed_payload] = KEY.sign_payloads([payload], operator="ops@program.example", now=NOW)

    decision = PayeeDecision.model_validate_json(signed_payload.data)
    assert decision.kind is PayeeDecisionKind.ASK_FOR_OTHER_DETAILS
    assert decision.operator == "ops@program.example"
    KEY.verify(decision, claim_id="c-42", now=NOW)  # raises unless signed
    with pytest.raises(DecisionRefused, match="changed after it was signed"):
        KEY.verify(
            decision.model_copy(update={"kind": PayeeDecisionKind.PAY_TO_THESE_DETAILS}),
            claim_id="c-42",
            now=NOW,
        )


def test_vop_d3_a_payee_proof_is_not_a_review_decisions_proof() -> None:
    """The same operator, claim and moment: a payee decision's proof differs from a review
    decision's (each signs its own purpose), so neither can be replayed as the other."""
    payee = KEY.sign(
        PayeeDecision(kind=PayeeDecisionKind.PAY_TO_THESE_DETAILS, operator="ops@program.example"),
        claim_id="c-42",
        operator="ops@program.example",
        issued_at=NOW,
    )
    review = KEY.sign(
        Decision(kind=DecisionKind.APPROVE, operator="ops@program.example"),
        claim_id="c-42",
        operator="ops@program.example",
        issued_at=NOW,
    )
    assert payee.proof != review.proof
    moved = PayeeDecision(
        kind=PayeeDecisionKind.PAY_TO_THESE_DETAILS,
        operator="ops@program.example",
        claim_id="c-42",
        issued_at=NOW,
        proof=review.proof,
    )
    with pytest.raises(DecisionRefused, match="does not match"):
        KEY.verify(moved, claim_id="c-42", now=NOW)
