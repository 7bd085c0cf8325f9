"""Unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters, the last a check."""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# The shape (the check character is verified by `is_valid_credit_code`).
CREDIT_CODE_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    total = sum(ALPHABET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid_credit_code(code: str) -> bool:
    """True when `code` is 18 characters of the GB 32100 alphabet with a correct check character."""
    if len(code) != 18 or any(ch not in ALPHABET for ch in code):
        return False
    if not code[2:8].isdigit():  # positions 3–8 are the GB/T 2260 region code
        return False
    return check_character(code[:17]) == code[17]


def complete_credit_code(first17: str) -> str:
    """The full code for 17 leading characters (tests and fixtures build valid codes with it)."""
    return first17 + check_character(first17)
