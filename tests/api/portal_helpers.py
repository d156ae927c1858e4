"""The reseller portal through HTTP, for tests: a browser-like client that keeps the portal's
cookies, reads each form's CSRF token and idempotency key from the page, and posts forms."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from tests.api.harness import PASSWORD, Api, Reseller

_HIDDEN = re.compile(r'<input type="hidden" name="(csrf|idempotency_key)" value="([^"]*)">')


def hidden(page: str, name: str) -> str:
    """The value of the first hidden field `name` of `page`."""
    for found in _HIDDEN.finditer(page):
        if found.group(1) == name:
            return found.group(2)
    raise AssertionError(f"no hidden field {name} in the page")


@dataclass
class Portal:
    """One browser's way through the portal (its own cookie jar)."""

    http: httpx.AsyncClient

    @classmethod
    def of(cls, api: Api, base_url: str = "http://testserver") -> Portal:
        transport = httpx.ASGITransport(app=api.app)
        return cls(httpx.AsyncClient(transport=transport, base_url=base_url))

    async def form(self, path: str) -> tuple[str, str]:
        """GET a page with a form: (its HTML, its CSRF token)."""
        page = await self.http.get(path)
        assert page.status_code == 200, page.text
        return page.text, hidden(page.text, "csrf")

    async def post(
        self, path: str, data: dict[str, str], *, form_path: str | None = None, **kwargs: object
    ) -> httpx.Response:
        """POST `data` with the CSRF token of the form at `form_path` (default: `path`)."""
        _, csrf = await self.form(form_path or path)
        return await self.http.post(path, data={**data, "csrf": csrf}, **kwargs)  # type: ignore[arg-type]

    async def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        return await self.post("/portal/sign-in", {"email": email, "password": password})

    async def signed_in(self, reseller: Reseller) -> Portal:
        answer = await self.sign_in(reseller.email)
        assert answer.status_code == 303, answer.text
        return self

    async def aclose(self) -> None:
        await self.http.aclose()
