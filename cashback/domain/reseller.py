"""The reseller as a claim sees it (R1, D6)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr

from cashback.domain.offers import CountryCode


class Language(StrEnum):
    """D6: the languages e-mails and pages are rendered in."""

    GERMAN = "de"
    ENGLISH = "en"


class ResellerSnapshot(BaseModel):
    """The reseller at submission time; a later change of its profile leaves claims in flight as
    they were."""

    model_config = ConfigDict(frozen=True)

    reseller_id: str
    company_name: str
    country: CountryCode
    language: Language
    email: EmailStr
