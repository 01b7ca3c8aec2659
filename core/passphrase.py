"""A passphrase strength hint (shown while the user types) and the minimum we accept."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from core.errors import WeakPassphrase

MIN_LENGTH = 8
_COMMON = {
    "password",
    "passw0rd",
    "123456",
    "12345678",
    "123456789",
    "qwerty",
    "azerty",
    "letmein",
    "iloveyou",
    "admin",
    "welcome",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "abc123",
    "mnemo",
    "secret",
    "changeme",
    "trustno1",
    "sunshine",
    "princess",
    "master",
}


@dataclass(frozen=True, slots=True)
class Strength:
    score: int  # 0 (very weak) .. 4 (strong)
    label: str
    hint: str
    bits: float


def estimate(passphrase: str) -> Strength:
    """Rough entropy from length and character classes, penalising repeats and common words.
    Good enough to steer people towards long passphrases; not a guarantee."""
    if not passphrase:
        return Strength(0, "empty", f"Use at least {MIN_LENGTH} characters.", 0.0)
    pool = 0
    if re.search(r"[a-z]", passphrase):
        pool += 26
    if re.search(r"[A-Z]", passphrase):
        pool += 26
    if re.search(r"\d", passphrase):
        pool += 10
    if re.search(r"[^A-Za-z0-9]", passphrase):
        pool += 33
    distinct = len(set(passphrase))
    effective_len = min(len(passphrase), distinct * 2)
    bits = effective_len * math.log2(max(pool, 2))
    lowered = passphrase.lower()
    if any(w in lowered for w in _COMMON):
        bits = min(bits, 20.0)
    if len(passphrase) < MIN_LENGTH:
        return Strength(0, "too short", f"Use at least {MIN_LENGTH} characters.", bits)
    if bits < 40:
        return Strength(
            1, "weak", "Add more words; a few unrelated words are easy to remember.", bits
        )
    if bits < 60:
        return Strength(2, "fair", "Longer is stronger: add another word.", bits)
    if bits < 80:
        return Strength(3, "good", "Make sure you will remember it.", bits)
    return Strength(4, "strong", "Make sure you will remember it.", bits)


def strength_text(passphrase: str) -> str:
    """The line under a new passphrase field: 'Strength: strong. Make sure you will remember
    it.' (the label is said once), or only what to do while the field is empty."""
    s = estimate(passphrase)
    return f"Strength: {s.label}. {s.hint}" if passphrase else s.hint


def require_acceptable(passphrase: str) -> None:
    if len(passphrase) < MIN_LENGTH:
        raise WeakPassphrase(f"The passphrase must have at least {MIN_LENGTH} characters.")
    if passphrase.strip() != passphrase:
        raise WeakPassphrase("The passphrase must not start or end with spaces.")
