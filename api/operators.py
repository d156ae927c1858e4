"""Operators: the review queue, decisions, invoice links, licensing-record import."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
