"""The bank's answers to a payment run (R14, R16): ISO 20022 payment status reports
(`pain.002`) and debit notifications (`camt.054`), read safely and written (by the simulated
bank, and by tests, as a real bank would).

Reading is defensive: a size cap before parsing, `defusedxml` refusing any DTD (so no entity,
external or expanding, is ever resolved, and nothing is fetched), only the ISO 20022 namespaces
named here, amounts as plain decimals, the file's own control figures checked. A file that fails
any of it raises `InvalidBankFile` with a stable code and a sentence for a person.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

from cashback.domain.sepa import decimal_amount, minor_units
from cashback.refusals import Refused

PAIN_002 = "pain.002"
CAMT_054 = "camt.054"
PAIN_002_NAMESPACES = {
    f"urn:iso:std:iso:20022:tech:xsd:pain.002.001.{v}" for v in ("03", "10", "12")
}
CAMT_054_NAMESPACES = {
    f"urn:iso:std:iso:20022:tech:xsd:camt.054.001.{v}" for v in ("02", "08", "10")
}
PAIN_002_WRITTEN = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"
CAMT_054_WRITTEN = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
RETURNED = "RTRN"  # a camt.054 entry with return information: the money came back


class InvalidBankFile(Refused, ValueError):
    """The file is refused as a whole; nothing of it is applied."""

    def __init__(self, code: str, detail: str, *, too_large: bool = False) -> None:
        super().__init__(code, detail)
        self.too_large = too_large


@dataclass(frozen=True)
class AnswerEntry:
    """The bank's word on one transfer, found by its EndToEndId."""

    end_to_end_id: str
    status: str  # pain.002 TxSts, camt.054 BOOK/PDNG, or RTRN for a return
    reason: str | None = None
    amount_minor_units: int | None = None
    bank_reference: str | None = None


@dataclass(frozen=True)
class BankAnswerFile:
    kind: str
    message_id: str
    original_message_id: str | None = None  # pain.002: the run's MsgId
    original_count: int | None = None
    original_control_sum: int | None = None  # minor units
    group_status: str | None = None  # pain.002: a status for the whole run
    group_reason: str | None = None
    entries: tuple[AnswerEntry, ...] = ()


def parse(content: bytes, max_bytes: int, currency: str = "EUR") -> BankAnswerFile:
    """The answer file, or `InvalidBankFile`."""
    if len(content) > max_bytes:
        raise InvalidBankFile(
            "file_too_large",
            f"the file has {len(content)} bytes; at most {max_bytes} are imported",
            too_large=True,
        )
    try:
        root = SafeElementTree.fromstring(
            content, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException:
        raise InvalidBankFile(
            "forbidden_xml",
            "the file declares a DTD or entities; bank files never do, and none is read",
        ) from None
    except ET.ParseError as error:
        raise InvalidBankFile("not_xml", f"the file is not well-formed XML ({error})") from None
    namespace = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    if root.tag != f"{{{namespace}}}Document":
        raise InvalidBankFile("not_iso20022", "the root element is not an ISO 20022 Document")
    reader = _Reader(namespace, currency)
    if namespace in PAIN_002_NAMESPACES:
        return reader.status_report(root)
    if namespace in CAMT_054_NAMESPACES:
        return reader.debit_notification(root)
    raise InvalidBankFile(
        "unknown_namespace",
        f"namespace {namespace or '(none)'!r} is neither a pain.002 status report nor a "
        "camt.054 notification (pain.002.001.03/10/12, camt.054.001.02/08/10)",
    )


_CODE = re.compile(r"^[A-Z0-9]{4}$")  # ISO 20022 status and reason codes (Max4Text)


def _code(value: str | None, what: str) -> str | None:
    if value is not None and not _CODE.match(value):
        raise InvalidBankFile("invalid_code", f"{value[:40]!r} is not an ISO 20022 {what}")
    return value


def _end_to_end(value: str) -> str:
    if len(value) > 35:
        raise InvalidBankFile("invalid_end_to_end_id", f"{value[:40]!r}… is over 35 characters")
    return value


class _Reader:
    def __init__(self, namespace: str, currency: str) -> None:
        self._ns = {"d": namespace}
        self._currency = currency

    def _text(self, element: Element, path: str) -> str | None:
        found = element.findtext(path, namespaces=self._ns)
        return found.strip() if found is not None else None

    def _required(self, element: Element, path: str, what: str) -> str:
        found = self._text(element, path)
        if not found:
            raise InvalidBankFile("missing_element", f"the file has no {what} ({path})")
        return found

    def _amount(self, element: Element, path: str) -> int | None:
        found = element.find(path, namespaces=self._ns)
        if found is None:
            return None
        currency = found.get("Ccy", self._currency)
        if currency != self._currency:
            raise InvalidBankFile(
                "wrong_currency", f"an amount is in {currency}; the runs pay {self._currency}"
            )
        return self._minor(found.text or "")

    def _minor(self, text: str) -> int:
        try:
            return minor_units(text, self._currency)
        except ValueError as error:
            raise InvalidBankFile("invalid_amount", str(error)) from None

    def _count(self, text: str | None) -> int | None:
        if text is None:
            return None
        if not (text.isascii() and text.isdigit()) or len(text) > 15:
            raise InvalidBankFile("invalid_count", f"{text!r} is not a number of transactions")
        return int(text)

    def status_report(self, root: Element) -> BankAnswerFile:
        report = root.find("d:CstmrPmtStsRpt", self._ns)
        if report is None:
            raise InvalidBankFile("missing_element", "the file has no CstmrPmtStsRpt")
        group = report.find("d:OrgnlGrpInfAndSts", self._ns)
        if group is None:
            raise InvalidBankFile("missing_element", "the file has no OrgnlGrpInfAndSts")
        control_sum = self._text(group, "d:OrgnlCtrlSum")
        entries = []
        for tx in report.iterfind("d:OrgnlPmtInfAndSts/d:TxInfAndSts", self._ns):
            entries.append(
                AnswerEntry(
                    end_to_end_id=_end_to_end(
                        self._required(tx, "d:OrgnlEndToEndId", "OrgnlEndToEndId")
                    ),
                    status=_code(self._required(tx, "d:TxSts", "TxSts"), "status") or "",
                    reason=_code(self._text(tx, "d:StsRsnInf/d:Rsn/d:Cd"), "reason code"),
                    amount_minor_units=self._amount(tx, "d:OrgnlTxRef/d:Amt/d:InstdAmt"),
                    bank_reference=self._text(tx, "d:AcctSvcrRef"),
                )
            )
        return BankAnswerFile(
            kind=PAIN_002,
            message_id=self._required(report, "d:GrpHdr/d:MsgId", "MsgId"),
            original_message_id=self._required(group, "d:OrgnlMsgId", "OrgnlMsgId"),
            original_count=self._count(self._text(group, "d:OrgnlNbOfTxs")),
            original_control_sum=self._minor(control_sum) if control_sum is not None else None,
            group_status=_code(self._text(group, "d:GrpSts"), "status"),
            group_reason=_code(self._text(group, "d:StsRsnInf/d:Rsn/d:Cd"), "reason code"),
            entries=tuple(entries),
        )

    def debit_notification(self, root: Element) -> BankAnswerFile:
        notification = root.find("d:BkToCstmrDbtCdtNtfctn", self._ns)
        if notification is None:
            raise InvalidBankFile("missing_element", "the file has no BkToCstmrDbtCdtNtfctn")
        entries: list[AnswerEntry] = []
        for note in notification.iterfind("d:Ntfctn", self._ns):
            count = 0
            total = 0
            for entry in note.iterfind("d:Ntry", self._ns):
                count += 1
                entry_amount = self._amount(entry, "d:Amt")
                if entry_amount is None:
                    raise InvalidBankFile("missing_element", "an entry has no Amt")
                total += entry_amount
                status = self._text(entry, "d:Sts/d:Cd") or self._text(entry, "d:Sts") or ""
                _code(status, "entry status")
                reference = self._text(entry, "d:AcctSvcrRef")
                details = entry.findall("d:NtryDtls/d:TxDtls", self._ns)
                if not details:
                    raise InvalidBankFile("missing_element", "an entry has no TxDtls")
                for tx in details:
                    reason = _code(self._text(tx, "d:RtrInf/d:Rsn/d:Cd"), "return reason")
                    returned = tx.find("d:RtrInf", self._ns) is not None
                    amount = self._amount(tx, "d:Amt")
                    entries.append(
                        AnswerEntry(
                            end_to_end_id=_end_to_end(
                                self._required(tx, "d:Refs/d:EndToEndId", "EndToEndId")
                            ),
                            status=RETURNED if returned else status,
                            reason=reason,
                            amount_minor_units=amount if amount is not None else entry_amount,
                            bank_reference=reference,
                        )
                    )
            stated_count = self._count(self._text(note, "d:TxsSummry/d:TtlNtries/d:NbOfNtries"))
            stated_sum = self._text(note, "d:TxsSummry/d:TtlNtries/d:Sum")
            if stated_count is not None and stated_count != count:
                raise InvalidBankFile(
                    "wrong_control_sum",
                    f"the notification states {stated_count} entries and holds {count}",
                )
            if stated_sum is not None and self._minor(stated_sum) != total:
                raise InvalidBankFile(
                    "wrong_control_sum",
                    f"the notification states a sum of {stated_sum} and its entries add up to "
                    f"{decimal_amount(total, self._currency)}",
                )
        return BankAnswerFile(
            kind=CAMT_054,
            message_id=self._required(notification, "d:GrpHdr/d:MsgId", "MsgId"),
            entries=tuple(entries),
        )


# ---- writing answers, as a bank does ------------------------------------------------------------


@dataclass(frozen=True)
class TransferAnswer:
    """What a bank says about one transfer of a run."""

    end_to_end_id: str
    amount_minor_units: int
    status: str  # ACSC, RJCT... (pain.002) or BOOK / RTRN (camt.054)
    reason: str | None = None


def _sub(parent: Element, tag: str, text: str | None = None, **attributes: str) -> Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _document(namespace: str) -> Element:
    return ET.Element("Document", {"xmlns": namespace})


def status_report(
    message_id: str,
    run_message_id: str,
    run_count: int,
    run_control_sum: int,
    answers: Sequence[TransferAnswer],
    currency: str = "EUR",
    *,
    created: datetime | None = None,
) -> bytes:
    """A `pain.002.001.10` status report on a run's transfers."""
    document = _document(PAIN_002_WRITTEN)
    report = _sub(document, "CstmrPmtStsRpt")
    header = _sub(report, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S"))
    group = _sub(report, "OrgnlGrpInfAndSts")
    _sub(group, "OrgnlMsgId", run_message_id)
    _sub(group, "OrgnlMsgNmId", "pain.001.001.09")
    _sub(group, "OrgnlNbOfTxs", str(run_count))
    _sub(group, "OrgnlCtrlSum", decimal_amount(run_control_sum, currency))
    payments = _sub(report, "OrgnlPmtInfAndSts")
    _sub(payments, "OrgnlPmtInfId", run_message_id)
    for answer in answers:
        tx = _sub(payments, "TxInfAndSts")
        _sub(tx, "OrgnlEndToEndId", answer.end_to_end_id)
        _sub(tx, "TxSts", answer.status)
        if answer.reason:
            _sub(_sub(_sub(tx, "StsRsnInf"), "Rsn"), "Cd", answer.reason)
        amount = _sub(_sub(tx, "OrgnlTxRef"), "Amt")
        _sub(amount, "InstdAmt", decimal_amount(answer.amount_minor_units, currency), Ccy=currency)
    return bytes(ET.tostring(document, encoding="utf-8", xml_declaration=True))


def debit_notification(
    message_id: str,
    account_iban: str,
    answers: Sequence[TransferAnswer],
    currency: str = "EUR",
    *,
    booked_on: date | None = None,
) -> bytes:
    """A `camt.054.001.08` notification of the run's debits as booked, and of returns (an
    entry with return information and its reason code)."""
    document = _document(CAMT_054_WRITTEN)
    notification = _sub(document, "BkToCstmrDbtCdtNtfctn")
    header = _sub(notification, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    note = _sub(notification, "Ntfctn")
    _sub(note, "Id", message_id)
    _sub(_sub(_sub(note, "Acct"), "Id"), "IBAN", account_iban)
    totals = _sub(_sub(note, "TxsSummry"), "TtlNtries")
    _sub(totals, "NbOfNtries", str(len(answers)))
    _sub(totals, "Sum", decimal_amount(sum(a.amount_minor_units for a in answers), currency))
    for n, answer in enumerate(answers, start=1):
        entry = _sub(note, "Ntry")
        amount = decimal_amount(answer.amount_minor_units, currency)
        _sub(entry, "Amt", amount, Ccy=currency)
        returned = answer.status == RETURNED
        _sub(entry, "CdtDbtInd", "CRDT" if returned else "DBIT")
        _sub(_sub(entry, "Sts"), "Cd", "BOOK")
        _sub(_sub(entry, "BookgDt"), "Dt", (booked_on or datetime.now(UTC).date()).isoformat())
        _sub(entry, "AcctSvcrRef", f"{message_id}-{n}")
        tx = _sub(_sub(entry, "NtryDtls"), "TxDtls")
        _sub(_sub(tx, "Refs"), "EndToEndId", answer.end_to_end_id)
        _sub(tx, "Amt", amount, Ccy=currency)
        if returned:
            _sub(_sub(_sub(tx, "RtrInf"), "Rsn"), "Cd", answer.reason or "NARR")
    return bytes(ET.tostring(document, encoding="utf-8", xml_declaration=True))
