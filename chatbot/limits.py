"""Bounds that more than one layer enforces (typing a message, importing one)."""

from __future__ import annotations

MAX_MESSAGE_CHARS = 100_000  # ~25k tokens: beyond any free-tier TPM limit; keeps the DB small
