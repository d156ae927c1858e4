"""Administration from the command line: `python -m api.cli create-operator --email ...`.

Operators are not registered over HTTP (R1 is for resellers); whoever runs the program creates
their accounts here, on the database the settings (`CASHBACK_*`) name. The password is read from
`CASHBACK_OPERATOR_PASSWORD`, or asked for twice on the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable, Sequence

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from temporalio.client import Client

from api import temporal_cli
from api.accounts import create_operator
from api.security import password_problem
from cashback.config import Settings
from cashback.db import Database
from cashback.db.tables import ResellerStatus
from cashback.domain.identity import InvalidIdentifier, partner_id, vat_id
from cashback.mail.errors import MailServerUnavailable
from cashback.organisations import (
    OrganisationAlreadyRegistered,
    OrganisationNotFound,
    Organisations,
)
from cashback.projections import project_running_claims
from cashback.wiring import account_mailer, data_converter, open_database

PASSWORD_VARIABLE = "CASHBACK_OPERATOR_PASSWORD"


class CommandError(Exception):
    """Something a person must fix; printed without a traceback, exit status 1."""


def operator_password(prompt: Callable[[str], str] = getpass.getpass, email: str = "") -> str:
    """The new operator's password: from the environment, else typed twice (not echoed); one
    that `password_problem` refuses is refused with its reason."""
    password = os.environ.get(PASSWORD_VARIABLE)
    if password is None:
        password = prompt("Password for the new operator: ")
        if prompt("The same password again: ") != password:
            raise CommandError("the two passwords differ; nothing was created")
    problem = password_problem(password, email)
    if problem:
        raise CommandError(f"{problem}; nothing was created")
    return password


def operator_email(email: str) -> str:
    """The address as it is stored (lower case), if it is one."""
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise CommandError(f"{email!r} is not an e-mail address: {error}") from error


def create_operator_command(address: str, password: str, settings: Settings) -> int:
    """Create the operator account; its user id."""
    database = open_database(settings)
    try:
        return create_operator(database, address, password)
    except IntegrityError as error:
        raise CommandError(
            f"an account with the e-mail address {address} exists already; nothing was created"
        ) from error
    except SQLAlchemyError as error:
        cause = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise CommandError(
            f"cannot write to the database ({cause}); is it reachable and migrated "
            "(python -m cashback.db.migrate)?"
        ) from error
    finally:
        database.dispose()


def _organisations(settings: Settings) -> tuple[Organisations, Database]:
    database = open_database(settings)
    return Organisations(database, account_mailer(settings), settings.public_base_url), database


def resellers_command(options: argparse.Namespace, settings: Settings) -> str:
    """R1: list, approve or refuse organisations, or record an identifier of one registered
    before identities were verified. What to print."""
    organisations, database = _organisations(settings)
    try:
        if options.command == "list-resellers":
            status = ResellerStatus(options.status) if options.status else None
            rows = [
                f"{o.reseller_id}\t{o.status.value}\t{o.legal_name}\t{o.country}\t"
                f"vat={o.vat_id or '-'}\tpartner={o.partner_id or '-'}\t"
                f"domains={','.join(o.email_domains) or '-'}\t"
                f"confirmed={'yes' if o.addresses_confirmed else 'no'}"
                for o in organisations.listed(status)
            ]
            return "\n".join(rows) or "no organisations"
        if options.command == "set-reseller-identifier":
            country = options.country.upper()
            organisations.set_identifiers(
                options.reseller_id,
                vat_id=vat_id(options.vat_id, country) if options.vat_id else None,
                partner_id=partner_id(options.partner_id) if options.partner_id else None,
            )
            return f"organisation {options.reseller_id}: identifier recorded"
        try:
            if options.command == "approve-reseller":
                organisations.approve(options.reseller_id, options.operator)
                return f"organisation {options.reseller_id} approved; it was told by e-mail"
            organisations.refuse(options.reseller_id, options.operator, options.note)
            return f"organisation {options.reseller_id} refused; it was told by e-mail"
        except MailServerUnavailable:
            return f"organisation {options.reseller_id}: done, but the e-mail could not be sent"
    except (OrganisationNotFound, KeyError):
        raise CommandError(f"no organisation {options.reseller_id}") from None
    except OrganisationAlreadyRegistered as known:
        raise CommandError(f"another organisation has this {known.identifier}") from None
    except (ValueError, InvalidIdentifier) as error:
        raise CommandError(str(error)) from None
    finally:
        database.dispose()


async def _project_claims(settings: Settings) -> int:
    database = open_database(settings)
    try:
        temporal = await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=data_converter(settings),
        )
        done = await project_running_claims(database, temporal)
    finally:
        database.dispose()
    print(f"project-claims: {len(done.projected)} claims projected")
    if done.unanswered:
        print(f"project-claims: no answer for {', '.join(done.unanswered)}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.cli", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser(
        "create-operator",
        help="create an operator account",
        description=f"Create an operator account; the password comes from {PASSWORD_VARIABLE} "
        "or is asked for.",
    )
    create.add_argument("--email", required=True, help="the operator's e-mail address (sign-in)")
    listing = commands.add_parser("list-resellers", help="R1: the registered organisations")
    listing.add_argument("--status", choices=[status.value for status in ResellerStatus])
    for name, what in (("approve-reseller", "approve"), ("refuse-reseller", "refuse")):
        review = commands.add_parser(name, help=f"R1: {what} an organisation")
        review.add_argument("reseller_id")
        review.add_argument("--operator", required=True, help="your operator e-mail address")
        if what == "refuse":
            review.add_argument("--note", required=True, help="why, for the organisation")
    identifier = commands.add_parser(
        "set-reseller-identifier",
        help="R1: record the VAT id or partner id of an organisation registered before "
        "identities were verified",
    )
    identifier.add_argument("reseller_id")
    identifier.add_argument("--country", required=True, help="the organisation's country")
    identifier.add_argument("--vat-id")
    identifier.add_argument("--partner-id")
    commands.add_parser(
        "project-claims",
        help="the read model of claims that were running before it existed: ask each such "
        "claim's workflow once and project its state onto the claim's row",
    )
    temporal = commands.add_parser(
        "temporal",
        help="R13: the bundled temporal CLI, signed in: payloads decrypted by the codec",
        description="Run the bundled temporal CLI with the API's codec endpoint and your "
        f"token; the password from {PASSWORD_VARIABLE} or asked for (or a bearer token in "
        f"{temporal_cli.TOKEN_VARIABLE}).",
    )
    temporal.add_argument("--operator", help="your operator e-mail address (sign-in)")
    temporal.add_argument("args", nargs=argparse.REMAINDER, help="the temporal CLI's arguments")
    options = parser.parse_args(argv)
    if options.command == "project-claims":
        return asyncio.run(_project_claims(Settings()))
    if options.command == "temporal":
        try:
            return temporal_cli.run(options.args, options.operator, Settings(), getpass.getpass)
        except temporal_cli.CliError as error:
            print(f"temporal: {error}", file=sys.stderr)
            return 1
    if options.command != "create-operator":
        try:
            print(resellers_command(options, Settings()))
        except CommandError as error:
            print(f"{options.command}: {error}", file=sys.stderr)
            return 1
        return 0
    try:
        address = operator_email(options.email)
        user_id = create_operator_command(address, operator_password(email=address), Settings())
    except CommandError as error:
        print(f"create-operator: {error}", file=sys.stderr)
        return 1
    print(f"operator {address} created (user {user_id}); they sign in at POST /auth/token")
    return 0


if __name__ == "__main__":
    sys.exit(main())
