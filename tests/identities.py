"""Valid, unique organisation identifiers for tests (R1)."""

from __future__ import annotations

import secrets

from stdnum.iso7064 import mod_11_10

from cashback.domain.identity import Claimant


def new_vat_id() -> str:
    """A German VAT id with a correct check digit, different on every call."""
    digits = str(secrets.randbelow(9 * 10**7) + 10**7)
    return f"DE{digits}{mod_11_10.calc_check_digit(digits)}"


def new_partner_id() -> str:
    """A program partner id (8 digits), different on (almost) every call."""
    return str(secrets.randbelow(9 * 10**7) + 10**7)


# R1: the verified identity of the reseller the database and race tests seed ("Acme").
ACME_VAT_ID = "DE114103379"
ACME = Claimant(
    reseller_id="reseller-1", legal_name="Acme Software GmbH", identifiers=(ACME_VAT_ID,)
)
