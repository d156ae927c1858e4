"""The offers open to a reseller (R1, R2, R4): the API's `GET /offers` and the portal's offers
page read them here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from cashback.db import Database
from cashback.db.tables import Offer, Reseller


def open_offers(database: Database, reseller_id: str, at: datetime) -> list[Offer]:
    """R2, R4: the offers that cover the reseller's country, whose claim period runs at `at`
    and that no operator closed; the soonest closing first."""
    with database.reading() as session:
        reseller = session.get_one(Reseller, reseller_id)
        offers = [o for o in session.scalars(select(Offer)) if o.is_open_to(reseller.country, at)]
    return sorted(offers, key=lambda offer: (offer.claim_closes_at, offer.id))


def open_offer(database: Database, reseller_id: str, offer_id: str, at: datetime) -> Offer | None:
    """Offer `offer_id` if it is open to the reseller at `at` (R2, R4); else None."""
    with database.reading() as session:
        reseller = session.get_one(Reseller, reseller_id)
        offer = session.get(Offer, offer_id)
    return offer if offer is not None and offer.is_open_to(reseller.country, at) else None
