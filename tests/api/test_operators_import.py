"""R8: operators import the licensing records the eligibility check compares claims against,
from CSV, with a per-row error report; bad agreements and agreements on record stay out."""

from __future__ import annotations

from datetime import date

from api.operators import MAX_CSV_BYTES
from cashback.db import LicensingRepository
from cashback.domain.eligibility import LicenceLine
from cashback.licensing_import import CSV_COLUMNS
from tests.api.harness import Api

IMPORT = "/operator/licensing-records/import"
HEADER = ",".join(CSV_COLUMNS)
FABRIKAM = "Fabrikam AG,commercial,de,Contoso Software GmbH,2026-01-15"


def _csv(*rows: str) -> bytes:
    return "\n".join((HEADER, *rows)).encode() + b"\n"


async def test_r8_csv_import_reports_bad_rows_and_imports_the_good_agreements(api: Api) -> None:
    """R8: rows are grouped by agreement; every bad row is reported (row number, field,
    message); an agreement with a bad row is not imported; one on record is reported and left
    as it was; the good agreements are in the licensing records."""
    api.add_licensing_record("OL-ON-RECORD", quantity=20)
    upload = _csv(
        f"OL-100,{FABRIKAM},Office Professional,new,10",  # row 2
        f"OL-100,{FABRIKAM},Visio Professional,upgrade,5",  # row 3
        f"OL-200,{FABRIKAM},Office Professional,new,0",  # row 4: quantity
        f"OL-200,{FABRIKAM},Visio Professional,new,3",  # row 5: good, but OL-200 is not
        "OL-300,Fabrikam AG,commercial,DEU,Contoso,15.01.2026,Office,new,2",  # row 6
        "",  # a blank line: skipped, still counted as a row of the file
        f",{FABRIKAM},Office Professional,new,1",  # row 8: no agreement number
        f"OL-ON-RECORD,{FABRIKAM},Office Professional,new,99",  # row 9: on record
        f"OL-400,{FABRIKAM},Office Professional,new,7",  # row 10
        "OL-400,Northwind AG,commercial,DE,Contoso Software GmbH,2026-01-15,Visio,new,1",
        f"OL-500,{FABRIKAM},Office Professional,new,1.5",  # row 12: quantity
        f"OL-600,{FABRIKAM},Office Professional,new,{'9' * 5000}",  # row 13: quantity
    )

    response = await api.http.post(
        IMPORT, files={"file": ("records.csv", upload, "text/csv")}, headers=api.operator
    )

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rows"] == 11
    assert report["imported"] == ["OL-100"]
    assert report["already_recorded"] == ["OL-ON-RECORD"]
    assert report["not_imported"] == ["OL-200", "OL-300", "OL-400", "OL-500", "OL-600"]
    assert [(error["row"], error["field"]) for error in report["errors"]] == [
        (4, "quantity"),
        (6, "sale_date"),
        (6, "customer_country"),
        (8, "agreement_number"),
        (9, "agreement_number"),
        (11, "customer_name"),
        (12, "quantity"),
        (13, "quantity"),
    ]
    messages = {(error["row"], error["field"]): error["message"] for error in report["errors"]}
    assert messages[4, "quantity"] == "'0' is not a whole number from 1 to 1000000"
    assert messages[6, "sale_date"] == "'15.01.2026' is not a date as YYYY-MM-DD"
    assert messages[6, "customer_country"] == "'DEU' is not a 2-letter ISO 3166 country code"
    assert messages[8, "agreement_number"] == "agreement_number is missing"
    assert "already in the licensing records" in messages[9, "agreement_number"]
    assert "differs from row 10 of agreement OL-400" in messages[11, "customer_name"]

    with api.services.database.reading() as session:
        records = LicensingRepository(session)
        imported = records.find_agreement("OL-100")
        assert imported is not None
        assert imported.customer_country == "DE"
        assert imported.sale_date == date(2026, 1, 15)
        assert imported.lines == (
            LicenceLine(product="Office Professional", licence_type="new", quantity=10),
            LicenceLine(product="Visio Professional", licence_type="upgrade", quantity=5),
        )
        for number in ("OL-200", "OL-300", "OL-400", "OL-500", "OL-600"):
            assert records.find_agreement(number) is None
        on_record = records.find_agreement("OL-ON-RECORD")
        assert on_record is not None
        assert [line.quantity for line in on_record.lines] == [20]

    again = await api.http.post(
        IMPORT, files={"file": ("records.csv", upload, "text/csv")}, headers=api.operator
    )
    assert again.json()["imported"] == []
    assert again.json()["already_recorded"] == ["OL-100", "OL-ON-RECORD"]


async def test_csv_import_refuses_files_it_cannot_read(api: Api) -> None:
    """A file over 5 MB gets 413; a header without the expected columns, or bytes that are not
    UTF-8, get 422 and import nothing."""
    too_large = _csv(f"OL-1,{FABRIKAM},Office Professional,new,1") + b" " * MAX_CSV_BYTES
    response = await api.http.post(
        IMPORT, files={"file": ("big.csv", too_large, "text/csv")}, headers=api.operator
    )
    assert response.status_code == 413
    assert response.json()["error"] == "file_too_large"

    no_quantity = ",".join(CSV_COLUMNS[:-1]).encode() + b"\nOL-1,x\n"
    response = await api.http.post(
        IMPORT, files={"file": ("r.csv", no_quantity, "text/csv")}, headers=api.operator
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("the header row lacks quantity")

    latin1 = _csv("OL-1,Müller GmbH,commercial,DE,Contoso,2026-01-15,Office,new,1")
    response = await api.http.post(
        IMPORT,
        files={"file": ("r.csv", latin1.decode().encode("latin-1"), "text/csv")},
        headers=api.operator,
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "the file is not UTF-8 text"
    with api.services.database.reading() as session:
        assert LicensingRepository(session).find_agreement("OL-1") is None
