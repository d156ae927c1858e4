"""Issue 16: less CPU per request. The dependencies of `POST /claims` that do no I/O run on the
event loop (a plain `def` dependency costs a hop to the thread pool per request), the invoice
is hashed once per submission, and the run command serves with uvloop and httptools."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import Iterator, Sequence

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api import claims, operators
from cashback.invoices import InvoiceStorage, StoredInvoice, sha256_hex
from cashback.run import fast_event_loop, fast_http
from cashback.submissions import Submission, Upload, submit
from tests.api.claims_helpers import invoice_pdf, new_agreement, terminate_all
from tests.api.harness import Api


def is_coroutine_callable(call: object) -> bool:
    """Whether FastAPI awaits `call` on the event loop (else: on the thread pool)."""
    if inspect.isclass(call):
        return False
    if inspect.isroutine(call):
        return inspect.iscoroutinefunction(call)
    return inspect.iscoroutinefunction(type(call).__call__)  # an instance, e.g. OAuth2 bearer


def _calls(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield from _calls(sub)
        yield sub


def _on_the_thread_pool(routes: Sequence[BaseRoute], method: str, path: str) -> list[str]:
    route = next(
        r
        for r in routes
        if isinstance(r, APIRoute) and r.path_format == path and method in (r.methods or ())
    )
    return sorted(
        {
            getattr(sub.call, "__name__", repr(sub.call))
            for sub in _calls(route.dependant)
            if sub.call is not None and not is_coroutine_callable(sub.call)
        }
    )


def test_only_the_dependencies_that_read_the_database_hop_to_the_thread_pool() -> None:
    """The services, the reseller's and the operator's checks run on the event loop; only
    the bearer token's lookup (a database read) goes to the thread pool."""
    assert _on_the_thread_pool(claims.router.routes, "POST", "/claims") == ["_signed_in"]
    assert _on_the_thread_pool(claims.router.routes, "GET", "/claims/{claim_id}") == ["_signed_in"]
    assert _on_the_thread_pool(operators.router.routes, "GET", "/operator/review-queue") == [
        "_signed_in"
    ]


@dataclasses.dataclass
class _Recording:
    """The invoice store, noting the hash each `put` was handed."""

    store: InvoiceStorage
    handed: list[str | None] = dataclasses.field(default_factory=list)

    def put(
        self, object_key: str, data: bytes, content_type: str, *, sha256: str | None = None
    ) -> StoredInvoice:
        self.handed.append(sha256)
        return self.store.put(object_key, data, content_type, sha256=sha256)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


async def test_r5_the_invoice_is_hashed_once_and_stored_under_that_hash(api: Api) -> None:
    """R5: the submission hashes the invoice once and hands the hash to the store, which
    records it as computed (the workflow's check compares the stored invoice with it)."""
    reseller = await api.register()
    offer = await api.create_offer()
    recording = _Recording(api.services.invoices)
    services = dataclasses.replace(api.services.submissions, invoices=recording)  # type: ignore[arg-type]
    data = invoice_pdf()
    submitted = await submit(
        services,
        reseller.reseller_id,
        Submission(offer["offer_id"], new_agreement(), "Fabrikam AG", "Contoso", "2026-01"),
        Upload(data, "application/pdf", "invoice.pdf"),
        None,
    )
    assert recording.handed == [sha256_hex(data)]
    assert submitted.claim.invoice_sha256 == sha256_hex(data)
    assert api.services.invoices.stored_sha256(submitted.claim.invoice_object_key) == sha256_hex(
        data
    )
    await terminate_all(api)


def test_the_run_command_serves_with_uvloop_and_httptools() -> None:
    """Installed with the program (pyproject), so `make run` uses them; without them it falls
    back to asyncio's loop and h11."""
    assert fast_http() == "httptools"
    factory = fast_event_loop()
    assert factory is not None
    loop = factory()
    try:
        assert type(loop).__module__.startswith("uvloop")
        assert isinstance(loop, asyncio.AbstractEventLoop)
    finally:
        loop.close()
