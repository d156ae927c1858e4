"""A demo's shown dates (issue 12, item 9): under `make demo`'s time scale (a day lasts ten
seconds) every instant a person reads of a claim is program time, counted from the claim's
arrival: the timeline's instants and the respond-by on the reseller's claim page, in the
operators' view and their answer to a decision, on the secure page and in the bank-details
request e-mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cashback.claims import claim_workflow_id
from cashback.db import NoticeRepository, TimelineRepository
from cashback.db.tables import Claim
from cashback.demo import TIME_SCALE
from cashback.domain.policy import ProgramPolicy
from cashback.domain.program_time import ProgramClock
from cashback.domain.reseller import Language
from cashback.domain.status import ClaimStatus
from cashback.mail.render import format_moment
from tests.api.claims_helpers import new_agreement, submitted, wait_for_status
from tests.api.harness import Api
from tests.api.portal_helpers import Portal
from tests.api.test_bank_details_page import link_in
from tests.api.test_read_model import bank_details_page, matches_the_workflow
from tests.integration.program import notices_of

pytestmark = [pytest.mark.workflow, pytest.mark.smtp]

SIX_PROGRAM_DAYS = timedelta(days=6) * TIME_SCALE  # a minute of the wall clock


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"policy": ProgramPolicy(time_scale=TIME_SCALE, return_window_days=0)}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_d3_r10_a_demos_timeline_and_respond_by_are_shown_in_program_time(
    api: Api,
) -> None:
    """D3, R10, R14: a claim approved six program days (a wall minute) after it arrived shows
    its approval six days after its arrival in the timeline, on the day its 45 days run from
    (payout due - 45), and a respond-by five program days after that, the same instant on the
    claim page, in the operators' view, on the secure page and in the e-mail; never the wall
    clock's instant, which is a minute after the arrival."""
    reseller = await api.register(language="en")
    offer = await api.create_offer()
    agreement = new_agreement()
    api.add_licensing_record(agreement, seller_id=reseller.vat_id)
    claim_id = await submitted(api, reseller, offer["offer_id"], agreement)
    await matches_the_workflow(api, claim_id, ClaimStatus.UNDER_REVIEW)
    handle = api.services.temporal.get_workflow_handle(claim_workflow_id(claim_id))
    await api.env.fast_forward(handle, SIX_PROGRAM_DAYS)
    decided = await api.http.post(
        f"/operator/claims/{claim_id}/decision", json={"kind": "approve"}, headers=api.operator
    )
    assert decided.status_code == 200, decided.text
    confirmation = next(
        notice for notice in decided.json()["notices"] if notice["kind"] == "final_confirmation"
    )
    await matches_the_workflow(api, claim_id, ClaimStatus.AWAITING_BANK_DETAILS, asked=True)
    page = await wait_for_status(
        api, reseller, claim_id, ClaimStatus.AWAITING_BANK_DETAILS, lambda claim: True
    )

    arrived = instant(page["submitted_at"])
    approval = next(
        entry
        for entry in page["timeline"]
        if entry["to_status"] == ClaimStatus.AWAITING_BANK_DETAILS
    )
    approved_at = instant(approval["at"])
    assert approved_at - arrived >= timedelta(days=6)
    assert approved_at - arrived < timedelta(days=7)
    # The operator's answer to the decision: the final confirmation went out on that day too.
    assert timedelta(0) <= approved_at - instant(confirmation["sent_at"]) < timedelta(days=1)
    due = datetime.fromisoformat(page["deadlines"]["payout_due"]).date()
    assert due == approved_at.date() + timedelta(days=45)  # R14: from the program's day
    respond_by = instant(page["deadlines"]["respond_by"])
    assert timedelta(days=5) <= respond_by - approved_at < timedelta(days=6)
    assert instant(page["next_step"]["respond_by"]) == respond_by
    assert f"{respond_by.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in page["next_step"]["detail"]
    assert [notice["respond_by"] for notice in page["notices"]][-1] == page["deadlines"][
        "respond_by"
    ]
    shown = [instant(entry["at"]) for entry in page["timeline"]]
    assert shown == sorted(shown)

    # Converted from what the database keeps (the wall clock), on the claim's program clock.
    with api.services.database.reading() as session:
        row = session.get_one(Claim, claim_id)
        clock = ProgramClock(origin=row.created_at, time_scale=TIME_SCALE)
        kept = [entry.at for entry in TimelineRepository(session).of(claim_id)]
        wall_respond_by = NoticeRepository(session).of(claim_id)[-1].respond_by
        assert row.respond_by == wall_respond_by
    assert wall_respond_by is not None
    assert wall_respond_by - row.created_at < timedelta(minutes=5)
    assert shown == [clock.shown(at) for at in kept]
    assert respond_by == clock.shown(wall_respond_by)

    operators = await api.http.get(f"/operator/claims/{claim_id}", headers=api.operator)
    assert operators.status_code == 200, operators.text
    view = operators.json()
    assert [instant(entry["at"]) for entry in view["timeline"]] == shown
    assert instant(view["respond_by"]) == respond_by
    listed = await api.http.get(
        "/operator/claims", params={"status": "AWAITING_BANK_DETAILS"}, headers=api.operator
    )
    mine = [claim for claim in listed.json()["claims"] if claim["claim_id"] == claim_id]
    assert instant(mine[0]["respond_by"]) == respond_by

    await bank_details_page(api, claim_id, "bank_details_request/1")
    request = dict(notices_of(api.mailbox, claim_id))["bank_details_request/1"]
    in_program_time = format_moment(respond_by, Language.ENGLISH)
    on_the_wall = format_moment(wall_respond_by, Language.ENGLISH)
    assert in_program_time != on_the_wall
    for part in ("plain", "html"):
        assert in_program_time in request.part(part)
        assert on_the_wall not in request.part(part)

    secure_page = await api.http.get(link_in(api, claim_id, "bank_details_request/1"))
    assert secure_page.status_code == 200, secure_page.text
    assert in_program_time in secure_page.text
    assert on_the_wall not in secure_page.text

    portal = await Portal.of(api).signed_in(reseller)
    portal_page = await portal.http.get(f"/portal/claims/{claim_id}?lang=en")
    assert portal_page.status_code == 200, portal_page.text
    # The portal's respond-by (its timeline also shows the arrival, in the wall's same minute).
    assert f'<dd id="respond-by">{in_program_time}</dd>' in portal_page.text
    await handle.terminate("test done")
