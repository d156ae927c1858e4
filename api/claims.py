"""Claims: submission, listing and one claim with its timeline (R5, R6, D1, D2, D3)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
