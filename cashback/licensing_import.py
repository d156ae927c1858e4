"""Importing licensing records from CSV (R8): the application service behind the operators'
import. Rows of one agreement are grouped; an agreement with a bad row is not imported, one
already on record is reported, not replaced; the report names every bad row."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from cashback.db import Database, LicensingRepository
from cashback.domain.agreements import agreement_number as canonical_agreement_number
from cashback.domain.eligibility import LicenceLine, LicensingRecord
from cashback.domain.identity import InvalidIdentifier, seller_identifier
from cashback.domain.names import control_characters

MAX_QUANTITY = 1_000_000  # licences on one line; keeps amounts within the columns


class InvalidCsv(ValueError):
    """The file as a whole cannot be read (not CSV, or its header lacks a column)."""


CSV_COLUMNS = (
    "agreement_number",
    "customer_name",
    "customer_segment",
    "customer_country",
    "reseller_name",
    "sale_date",
    "product",
    "licence_type",
    "quantity",
)
# R8: the selling reseller's VAT id or partner id. A record without it is imported, and its
# claims go to an operator (the program cannot tell who sold the agreement).
OPTIONAL_COLUMNS = ("seller_id",)
# The agreement's own fields: every row of one agreement must repeat the same values.
AGREEMENT_FIELDS = (
    "customer_name",
    "customer_segment",
    "customer_country",
    "reseller_name",
    "seller_id",
    "sale_date",
)
MAX_LENGTHS = {
    "agreement_number": 64,
    "customer_name": 255,
    "customer_segment": 64,
    "reseller_name": 255,
    "product": 128,
    "licence_type": 64,
}
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_DIGITS = re.compile(r"[0-9]+")


class RowError(BaseModel):
    row: int = Field(description="the row in the file, the header being row 1")
    field: str | None = Field(description="the column at fault, if one is")
    message: str


class ImportReport(BaseModel):
    rows: int = Field(description="data rows read")
    imported: list[str] = Field(description="agreements added to the licensing records")
    already_recorded: list[str] = Field(description="agreements on record before: not imported")
    not_imported: list[str] = Field(description="agreements with a bad row: not imported")
    errors: list[RowError]


@dataclass
class _AgreementRows:
    """The rows of one agreement in the file, as far as they are good."""

    first_row: int
    head: dict[str, str] = field(default_factory=dict)
    lines: list[LicenceLine] = field(default_factory=list)
    bad: bool = False


@dataclass
class _ParsedFile:
    rows: int = 0
    agreements: dict[str, _AgreementRows] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    def records(self) -> list[LicensingRecord]:
        return [
            LicensingRecord(
                agreement_number=number,
                customer_name=rows.head["customer_name"],
                customer_segment=rows.head["customer_segment"],
                customer_country=rows.head["customer_country"],
                reseller_name=rows.head["reseller_name"],
                seller_id=rows.head["seller_id"] or None,
                sale_date=date.fromisoformat(rows.head["sale_date"]),
                lines=tuple(rows.lines),
            )
            for number, rows in self.agreements.items()
            if not rows.bad
        ]


def _shown(value: str) -> str:
    """A value for an error message, cut short."""
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _row_errors(row: int, values: dict[str, str]) -> list[RowError]:
    """What is wrong with one row on its own: missing or too long fields, a date that is not
    ISO 8601, a quantity that is not a positive integer, a country that is not 2 letters."""
    errors: list[RowError] = []
    for name in CSV_COLUMNS:
        value = values[name]
        if not value:
            errors.append(RowError(row=row, field=name, message=f"{name} is missing"))
        elif controls := control_characters(value):
            errors.append(
                RowError(
                    row=row,
                    field=name,
                    message=f"{name} contains control characters ({', '.join(controls)}): "
                    "line breaks, tabs and direction marks are not allowed",
                )
            )
        elif len(value) > MAX_LENGTHS.get(name, len(value)):
            errors.append(
                RowError(row=row, field=name, message=f"{name} is longer than {MAX_LENGTHS[name]}")
            )
    if values["sale_date"]:
        try:
            date.fromisoformat(values["sale_date"])
        except ValueError:
            errors.append(
                RowError(
                    row=row,
                    field="sale_date",
                    message=f"{_shown(values['sale_date'])} is not a date as YYYY-MM-DD",
                )
            )
    quantity = values["quantity"]
    if quantity and not (
        _DIGITS.fullmatch(quantity) and len(quantity) <= 12 and 1 <= int(quantity) <= MAX_QUANTITY
    ):
        errors.append(
            RowError(
                row=row,
                field="quantity",
                message=f"{_shown(quantity)} is not a whole number from 1 to {MAX_QUANTITY}",
            )
        )
    if values["seller_id"]:
        try:
            values["seller_id"] = seller_identifier(values["seller_id"])
        except InvalidIdentifier as error:
            errors.append(RowError(row=row, field="seller_id", message=f"R8: {error}"))
    country = values["customer_country"]
    if country and not _COUNTRY.fullmatch(country):
        errors.append(
            RowError(
                row=row,
                field="customer_country",
                message=f"{_shown(country)} is not a 2-letter ISO 3166 country code",
            )
        )
    return errors


def _add_row(parsed: _ParsedFile, row: int, values: dict[str, str]) -> None:
    errors = _row_errors(row, values)
    number = canonical_agreement_number(values["agreement_number"])  # D1: one way to write it
    if not number or len(number) > MAX_LENGTHS["agreement_number"]:
        parsed.errors.extend(errors)
        return
    agreement = parsed.agreements.setdefault(number, _AgreementRows(first_row=row))
    head = {name: values[name] for name in AGREEMENT_FIELDS}
    head["customer_country"] = head["customer_country"].upper()
    if not errors and agreement.head:
        errors = [
            RowError(
                row=row,
                field=name,
                message=f"{name} {_shown(head[name])} differs from row {agreement.first_row} of "
                f"agreement {number} ({_shown(agreement.head[name])})",
            )
            for name in AGREEMENT_FIELDS
            if head[name] != agreement.head[name]
        ]
    if errors:
        parsed.errors.extend(errors)
        agreement.bad = True
        return
    if not agreement.head:
        agreement.head = head
        agreement.first_row = row
    agreement.lines.append(
        LicenceLine(
            product=values["product"],
            licence_type=values["licence_type"],
            quantity=int(values["quantity"]),
        )
    )


def parse_licensing_csv(text: str) -> _ParsedFile:
    """The rows of a licensing-records CSV, grouped by agreement, with every bad row's errors.
    A file whose header lacks a column, or that is not CSV, is refused as a whole (422)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    parsed = _ParsedFile()
    row = 1
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in CSV_COLUMNS if name not in header]
        if missing:
            raise InvalidCsv(
                f"the header row lacks {', '.join(missing)}; expected the columns "
                f"{', '.join(CSV_COLUMNS)}",
            )
        position = {
            name: header.index(name) for name in (*CSV_COLUMNS, *OPTIONAL_COLUMNS) if name in header
        }
        for row, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            parsed.rows += 1
            values = {name: "" for name in OPTIONAL_COLUMNS} | {
                name: cells[index].strip() if index < len(cells) else ""
                for name, index in position.items()
            }
            _add_row(parsed, row, values)
    except csv.Error as error:
        raise InvalidCsv(f"row {row} is not valid CSV: {error}") from error
    return parsed


@dataclass
class _ImportResult:
    imported: list[str] = field(default_factory=list)
    already_recorded: list[str] = field(default_factory=list)


def _import_agreements(database: Database, records: list[LicensingRecord]) -> _ImportResult:
    """Add the agreements that are not on record yet; one already there is left as it is."""
    result = _ImportResult()
    now = datetime.now(UTC)
    with database.transaction() as session:
        repository = LicensingRepository(session)
        for record in records:
            if repository.find_agreement(record.agreement_number) is not None:
                result.already_recorded.append(record.agreement_number)
                continue
            try:
                with session.begin_nested():
                    repository.add_agreement(record, imported_at=now)
            except IntegrityError:  # imported by a concurrent request a moment ago
                result.already_recorded.append(record.agreement_number)
                continue
            result.imported.append(record.agreement_number)
    return result


def import_licensing_csv(database: Database, text: str) -> ImportReport:
    """R8: import the agreements of a licensing-records CSV that are not on record yet; the
    report of what was imported, what was on record, and every bad row. Raises `InvalidCsv`."""
    parsed = parse_licensing_csv(text)
    result = _import_agreements(database, parsed.records())
    errors = list(parsed.errors)
    for number in result.already_recorded:
        errors.append(
            RowError(
                row=parsed.agreements[number].first_row,
                field="agreement_number",
                message=f"agreement {number} is already in the licensing records; "
                "not imported again",
            )
        )
    return ImportReport(
        rows=parsed.rows,
        imported=result.imported,
        already_recorded=result.already_recorded,
        not_imported=[number for number, rows in parsed.agreements.items() if rows.bad],
        errors=sorted(errors, key=lambda error: error.row),
    )
