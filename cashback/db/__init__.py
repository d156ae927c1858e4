"""The database layer: tables, migrations, the unit of work and the repositories.

Repositories (`XRepository(session)`) never commit; the `Sql*` classes and `BankAccounts`
implement the activity contracts with one transaction per call.
"""

from cashback.db.bank_accounts import BankAccounts, BankDetails, UnknownBankAccount, mask_iban
from cashback.db.claims import ClaimRepository, DuplicateClaim
from cashback.db.engine import make_engine
from cashback.db.licensing import LicensingRepository, SqlLicensingRecords
from cashback.db.migrate import upgrade_to_head
from cashback.db.notices import NoticeRepository, SqlNoticeLog
from cashback.db.payments import PaymentRepository
from cashback.db.session import Database
from cashback.db.timeline import SqlTimeline, TimelineRepository

__all__ = [
    "BankAccounts",
    "BankDetails",
    "ClaimRepository",
    "Database",
    "DuplicateClaim",
    "LicensingRepository",
    "NoticeRepository",
    "PaymentRepository",
    "SqlLicensingRecords",
    "SqlNoticeLog",
    "SqlTimeline",
    "TimelineRepository",
    "UnknownBankAccount",
    "make_engine",
    "mask_iban",
    "upgrade_to_head",
]
