"""Administration from the command line: `python -m api.cli create-operator --email ...`.

Operators are not registered over HTTP (R1 is for resellers); whoever runs the program creates
their accounts here, on the database the settings (`CASHBACK_*`) name. The password is read from
`CASHBACK_OPERATOR_PASSWORD`, or asked for twice on the terminal.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from api.accounts import create_operator
from api.security import password_problem
from cashback.config import Settings
from cashback.wiring import open_database

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
    options = parser.parse_args(argv)
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
