"""What every refusal of an application service carries: a stable code (the API's `error`)
and a sentence a person can act on (its `detail`). Each service's refusal adds what it needs
(the kind of refusal, a status) and the routes translate it to HTTP."""

from __future__ import annotations


class Refused(Exception):
    """An action not taken: `code` says which refusal, `detail` says why, for a person."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
