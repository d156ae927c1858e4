"""R13: the operators' guide's command lines (docs/operators.md) against the running product:
`python -m api.cli temporal ...` runs the bundled temporal CLI signed in, so a claim's state
shows decrypted, and a refused `decide` update says why."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import (
    OPERATOR,
    PASSWORD,
    Stack,
    create_operator,
    open_offer,
    register,
    sign_in,
    submit_claim,
)
from tests.e2e.test_run_command import ROOT

pytestmark = pytest.mark.e2e

GUIDE = ROOT / "docs" / "operators.md"


def guide_lines() -> list[str]:
    """The `python -m api.cli temporal` lines of the guide's "Temporal's CLI" block."""
    text = GUIDE.read_text()
    block = text[text.index("<!-- cli-lines -->") :]
    block = block[block.index("```sh") + 5 : block.index("```", block.index("```sh") + 5)]
    joined = block.replace("\\\n", " ")
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip()]


def run_line(stack: Stack, line: str, claim_id: str) -> subprocess.CompletedProcess[str]:
    """A guide line as a shell would run it, with the claim's id filled in."""
    command = line.replace("<claim id>", claim_id).replace("you@program.example", OPERATOR)
    command = command.replace("python ", f"{sys.executable} ", 1)
    environment = stack.env | {
        "CASHBACK_OPERATOR_PASSWORD": PASSWORD,
        "CASHBACK_TEMPORAL_ADDRESS": f"127.0.0.1:{stack.temporal_port}",
    }
    return subprocess.run(
        command, shell=True, cwd=ROOT, env=environment, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


async def test_r13_the_guides_cli_lines_work_signed_in(stack: Stack, tmp_path: Path) -> None:
    """R13: listing finds the claim by its search attribute, the `state` query prints its
    status in plain text, and a rejection without reasons is refused with the validator's
    reason (not "Encoded failure"); each line signs the operator out again."""
    create_operator(stack)
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
        operator = await sign_in(http, OPERATOR)
        company, vat_id = "Contoso Software GmbH", "DE136695976"
        offer_id = await open_offer(http, operator, "OL-CLI-1", company, vat_id)
        reseller = await register(http, stack, company, "claims@contoso.example", vat_id)
        claim_id = await submit_claim(http, reseller, offer_id, "OL-CLI-1", company)

    lines = guide_lines()
    assert len(lines) == 3, lines
    tokens_before = signed_in_tokens(stack)
    listed, queried, refused = (run_line(stack, line, claim_id) for line in lines)
    for line, result in zip(lines, (listed, queried, refused), strict=True):
        print(f"$ {line}\n{result.stdout}{result.stderr}")
    assert listed.returncode == 0, listed.stderr
    assert f"claim-{claim_id}" in listed.stdout
    assert queried.returncode == 0, queried.stderr
    assert re.search(r'"status":\s*"UNDER_REVIEW"', queried.stdout), queried.stdout
    assert refused.returncode == 1
    assert "a rejection needs at least one reason for the reseller" in refused.stderr
    assert "Encoded failure" not in refused.stderr
    assert signed_in_tokens(stack) == tokens_before  # each line signed out again


def signed_in_tokens(stack: Stack) -> int:
    with sqlite3.connect(stack.data_dir / "cashback.sqlite3") as database:
        count: int = database.execute("SELECT count(*) FROM api_tokens").fetchone()[0]
    return count
