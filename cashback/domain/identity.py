"""Who a reseller is (R1): a VAT identification number and/or the program's partner id,
verified when the organisation registers, and the same identifier on the licensing records of
the agreements it sold (R8). Typed names are never identity.

Identifiers are kept in one canonical form (upper case, no spaces or punctuation, a VAT id with
its country prefix), so a record that writes `DE 136 695 976` names the reseller registered as
`de136695976`.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict
from stdnum import get_cc_module
from stdnum.exceptions import ValidationError

# The VAT prefix of a country where it is not its ISO 3166 code (Greece: EL).
_VAT_PREFIX = {"GR": "EL"}
_COUNTRY_OF_PREFIX = {prefix: country for country, prefix in _VAT_PREFIX.items()}
_PARTNER_ID = re.compile(r"^[0-9]{5,10}$")


class InvalidIdentifier(ValueError):
    """An identifier a person typed that is not a valid VAT id or partner id; the message says
    why in words the person can act on."""


def identifier_key(value: str) -> str:
    """The canonical form of an identifier: upper-case letters and digits only."""
    return "".join(char for char in value.upper() if char.isascii() and char.isalnum())


def vat_id(value: str, country: str) -> str:
    """R1: the canonical VAT identification number of an organisation in `country`, checked for
    format and check digits (python-stdnum). Raises `InvalidIdentifier`."""
    country = country.upper()
    module = get_cc_module(country.lower(), "vat")
    if module is None:
        raise InvalidIdentifier(
            f"VAT ids of {country} cannot be checked here: register with your partner id"
        )
    prefix = _VAT_PREFIX.get(country, country)
    key = identifier_key(value)
    if len(key) < 4:
        raise InvalidIdentifier(f"{value.strip()!r} is too short for a VAT id of {country}")
    if key[:2].isalpha() and key[:2] not in (prefix, country):
        raise InvalidIdentifier(
            f"the VAT id starts with {key[:2]}, but the organisation is registered in {country}"
        )
    try:
        number = module.validate(key if key[:2].isalpha() else prefix + key)
    except ValidationError as error:
        why = str(error).lower().rstrip(".")
        raise InvalidIdentifier(
            f"{value.strip()} is not a valid VAT id of {country} ({why}): "
            "check the number on your VAT registration"
        ) from None
    digits = identifier_key(str(number))
    # stdnum answers without the prefix (DE, EL) or with it (CHE…): one canonical form.
    return digits if digits.startswith(prefix) else prefix + digits


def partner_id(value: str) -> str:
    """R1: the canonical program partner id (5 to 10 digits). Raises `InvalidIdentifier`."""
    key = identifier_key(value)
    if not _PARTNER_ID.match(key):
        raise InvalidIdentifier(
            f"{value.strip()} is not a partner id: a partner id has 5 to 10 digits"
        )
    return key


def seller_identifier(value: str) -> str:
    """R8: the canonical form of the seller identifier on a licensing record, a VAT id (with
    its country prefix) or a partner id. Raises `InvalidIdentifier`."""
    key = identifier_key(value)
    if len(key) >= 2 and key[:2].isalpha():
        prefix = key[:2]
        return vat_id(key, _COUNTRY_OF_PREFIX.get(prefix, prefix))
    return partner_id(key)


class Claimant(BaseModel):
    """The organisation that submits a claim, as the program verified it (R1): its id, its
    registered legal name (the name R11 compares) and its identifiers."""

    model_config = ConfigDict(frozen=True)

    reseller_id: str
    legal_name: str
    identifiers: tuple[str, ...] = ()

    def sold(self, seller_id: str) -> bool:
        """R8: whether the seller identifier of a licensing record is this organisation's."""
        key = identifier_key(seller_id)
        return key != "" and key in {identifier_key(own) for own in self.identifiers}
