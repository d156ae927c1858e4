"""A claim worker that stops every payment between the bank's answer and the activity's
completion, for the test of D5 (tests/faults/test_worker_killed_mid_payment.py).

    FAULT_BARRIER_DIR=<folder> python -m tests.faults.barrier_worker

It runs the real activities, built as `worker.main` builds them (`cashback.wiring`), except that
the simulated bank is wrapped: when the real bank's `pay()` has returned (the transfer is in the
bank's ledger), the wrapper leaves a marker file `<FAULT_BARRIER_DIR>/<claim_id>` (a line per
attempt: the time and the attempt number) and blocks forever. The payments table still says
PENDING, the activity never completes: the test SIGKILLs this process there.
`FAULT_BARRIER_THREADS` sizes the activity thread pool so that a whole round of payments can
wait at the barrier.

With `FAULT_BARRIER_NOTICE=<notice kind>` (e.g. `bank_details_request`) the bank is left alone and
the outbox is wrapped instead, for tests/faults/test_worker_killed_mid_notice.py: when the real
outbox has sent a notice of that kind (the mail server took it, the notice log holds it), the
wrapper leaves the marker and blocks the mail activity (a local activity since issue 16) until
the process dies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import threading
import time
from pathlib import Path

from temporalio import activity

from activities.mail import MailActivities, NoticeReceipt, NoticeRequest, Outbox
from activities.payments import PaymentActivities, PaymentGateway, PaymentOrder, PaymentResult
from cashback.bank.recorded import RecordedGateway
from cashback.config import Settings
from cashback.db import Database
from cashback.domain.status import NoticeKind
from cashback.wiring import (
    bank_accounts,
    build_activities,
    data_converter,
    open_database,
    outbox,
    payment_gateway,
)
from worker import ClaimActivities, claim_worker, connect


class BarrierGateway:
    """A payment gateway that answers nothing: it calls the real one, marks the claim, and
    blocks the activity's thread until the process dies."""

    def __init__(self, gateway: PaymentGateway, folder: Path) -> None:
        self._gateway = gateway
        self._folder = folder
        self._never = threading.Event()

    def pay(self, order: PaymentOrder) -> PaymentResult | None:
        result = self._gateway.pay(order)
        with (self._folder / order.claim_id).open("a") as marker:
            marker.write(f"{time.time()} attempt {activity.info().attempt}\n")
        self._never.wait()
        return result  # never reached: the process is killed first


class BarrierOutbox:
    """An outbox that sends a notice of one kind, marks its claim and never answers."""

    def __init__(self, outbox: Outbox, kind: NoticeKind, folder: Path) -> None:
        self._outbox = outbox
        self._kind = kind
        self._folder = folder
        self._never = threading.Event()

    def send(self, notice: NoticeRequest) -> NoticeReceipt:
        receipt = self._outbox.send(notice)
        if notice.kind is self._kind:
            with (self._folder / notice.claim_id).open("a") as marker:
                marker.write(f"{time.time()} attempt {activity.info().attempt}\n")
            self._never.wait()
        return receipt  # reached for the other kinds only: the process is killed first


def notice_barrier_activities(
    settings: Settings, database: Database, folder: Path, kind: NoticeKind
) -> ClaimActivities:
    """The real activities (`build_activities`), the outbox wrapped by the barrier."""
    activities = build_activities(settings, database)
    mail = MailActivities(BarrierOutbox(outbox(settings, database), kind, folder))
    return dataclasses.replace(activities, mail=mail)


def barrier_activities(settings: Settings, database: Database, folder: Path) -> ClaimActivities:
    """The real activities (`build_activities`), the bank wrapped by the barrier inside the
    payments record, as `build_activities` wraps the real bank."""
    activities = build_activities(settings, database)
    bank = BarrierGateway(payment_gateway(settings, bank_accounts(settings, database)), folder)
    payments = RecordedGateway(bank, database)
    return dataclasses.replace(activities, payments=PaymentActivities(payments, pending=payments))


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    folder = Path(os.environ["FAULT_BARRIER_DIR"])
    threads = int(os.environ.get("FAULT_BARRIER_THREADS", "16"))
    settings = Settings()
    client = await connect(
        settings.temporal_address, settings.temporal_namespace, data_converter(settings)
    )
    notice = os.environ.get("FAULT_BARRIER_NOTICE")
    if notice:
        activities = notice_barrier_activities(
            settings, open_database(settings), folder, NoticeKind(notice)
        )
    else:
        activities = barrier_activities(settings, open_database(settings), folder)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    worker = claim_worker(
        client,
        activities,
        decision_key=settings.decision_key_bytes,
        task_queue=settings.task_queue,
        max_activity_threads=threads,
        max_cached_workflows=settings.worker_max_cached_workflows,
    )
    async with worker:
        logging.getLogger(__name__).info("barrier worker ready, markers in %s", folder)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
