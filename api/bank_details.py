"""The secure bank-details page (R10-R13), server-rendered in German and English."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
