"""The simulated bank at the far end of the bank channel (demos, tests): it picks up each
released `pain.001` file from the outbox and answers it as a bank does, with real files in the
inbox that operators import like any bank's (`POST /operator/bank-files/inbox`):

- a `pain.002` status report on every transfer: `ACSC`, or `RJCT` with the reason code that
  `behaviours` gives the creditor's IBAN (AC04, TECH...), AC01 for an IBAN that is not one;
- a `camt.054` notification booking the accepted transfers;
- for a transfer to an IBAN that `returns` names, a second `camt.054` the next time the channel
  answers (a bank day later), returning the booked transfer with that reason code (AC04: the
  account was closed meanwhile). It waits in `outbox/returns-due/` until then.

The picked-up file moves to `outbox/picked-up/`. Nothing of an IBAN is written beyond the files
themselves, which the bank channel carries anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from defusedxml import ElementTree as SafeElementTree

from cashback.bank.answers import RETURNED, TransferAnswer, debit_notification, status_report
from cashback.bank.pain001 import NAMESPACE
from cashback.bank.run_files import write_once
from cashback.bank.simulated import BANK_DETAIL_ERRORS, TRANSIENT_ERRORS, validity_code
from cashback.domain.sepa import minor_units

NS = {"p": NAMESPACE}


class SimulatedBankChannel:
    def __init__(
        self,
        outbox: Path,
        inbox: Path,
        behaviours: Mapping[str, str] | None = None,
        *,
        returns: Mapping[str, str] | None = None,
    ):
        unknown = set((behaviours or {}).values()) - set(BANK_DETAIL_ERRORS) - set(TRANSIENT_ERRORS)
        if unknown:
            raise ValueError(f"unknown bank reason codes in behaviours: {sorted(unknown)}")
        not_returns = set((returns or {}).values()) - set(BANK_DETAIL_ERRORS)
        if not_returns:
            raise ValueError(
                f"returns take a bank-detail reason code (AC04, AC01...), not {sorted(not_returns)}"
            )
        self._outbox = outbox
        self._inbox = inbox
        self._behaviours = {_compact(iban): code for iban, code in (behaviours or {}).items()}
        self._returns = {_compact(iban): code for iban, code in (returns or {}).items()}

    @property
    def returns_due(self) -> Path:
        """Where the returns of booked transfers wait for the channel's next answer."""
        return self._outbox / "returns-due"

    def answer_released_files(self) -> list[str]:
        """Send the returns due, then answer every file waiting in the outbox; the names of the
        answers written to the inbox (the returns first)."""
        written: list[str] = []
        if not self._outbox.is_dir():
            return written
        if self.returns_due.is_dir():
            for held in sorted(self.returns_due.glob("*.xml")):
                write_once(self._inbox / held.name, held.read_bytes())
                held.unlink()
                written.append(held.name)
        for path in sorted(self._outbox.glob("*.xml")):
            written.extend(self._answer(path))
            picked_up = self._outbox / "picked-up"
            picked_up.mkdir(exist_ok=True)
            path.replace(picked_up / path.name)
        return written

    def _answer(self, path: Path) -> list[str]:
        root = SafeElementTree.fromstring(path.read_bytes(), forbid_dtd=True)
        initiation = root.find("p:CstmrCdtTrfInitn", NS)
        if initiation is None:
            raise ValueError(f"{path.name} is not a pain.001.001.09 credit transfer initiation")
        message_id = initiation.findtext("p:GrpHdr/p:MsgId", namespaces=NS) or ""
        debtor_iban = initiation.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) or ""
        answers = []
        returned: list[TransferAnswer] = []
        for tx in initiation.iterfind("p:PmtInf/p:CdtTrfTxInf", NS):
            iban = _compact(tx.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) or "")
            code = self._behaviours.get(iban) or validity_code(iban)
            if not code and iban in self._returns:
                returned.append(
                    TransferAnswer(
                        end_to_end_id=tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS) or "",
                        amount_minor_units=minor_units(
                            tx.findtext("p:Amt/p:InstdAmt", namespaces=NS) or "", "EUR"
                        ),
                        status=RETURNED,
                        reason=self._returns[iban],
                    )
                )
            answers.append(
                TransferAnswer(
                    end_to_end_id=tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS) or "",
                    amount_minor_units=minor_units(
                        tx.findtext("p:Amt/p:InstdAmt", namespaces=NS) or "", "EUR"
                    ),
                    status="RJCT" if code else "ACSC",
                    reason=code,
                )
            )
        report = status_report(
            f"SIM-P2-{message_id}"[:35],
            message_id,
            len(answers),
            sum(a.amount_minor_units for a in answers),
            answers,
        )
        names = [f"{message_id}-1.pain.002.xml"]  # the report first, as the bank sends it
        write_once(self._inbox / names[0], report)
        booked = [
            TransferAnswer(a.end_to_end_id, a.amount_minor_units, "BOOK")
            for a in answers
            if a.status == "ACSC"
        ]
        if booked:
            names.append(f"{message_id}-2.camt.054.xml")
            notification = debit_notification(f"SIM-C54-{message_id}"[:35], debtor_iban, booked)
            write_once(self._inbox / names[1], notification)
        if returned:  # booked today, back tomorrow: sent with the channel's next answer
            self.returns_due.mkdir(exist_ok=True)
            notification = debit_notification(f"SIM-C54R-{message_id}"[:35], debtor_iban, returned)
            write_once(self.returns_due / f"{message_id}-3.camt.054.xml", notification)
        return names


def _compact(iban: str) -> str:
    return "".join(iban.split()).upper()
