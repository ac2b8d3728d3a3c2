"""CPF and CNPJ (numeric and the 2026 alphanumeric CNPJ): normalisation, check digits, masks.

Contracts:

* ``normalize_cpf`` returns exactly 11 ASCII digits; ``normalize_cnpj`` returns 14 upper-case
  characters matching ``[0-9A-Z]{12}[0-9]{2}``. Both accept the usual mask characters and
  surrounding whitespace, and raise :class:`FiscalError` with a specific code otherwise.
* Short input is never left-padded (a 10-digit "CPF" is an error, unlike validate-docbr).
* Check digits use ``ord(c) - 48`` per character, which is the plain digit value for ``0``–``9``
  and 17..42 for ``A``–``Z`` (Nota Técnica COCAD/SUARA/RFB 49/2024).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from malote.fiscal.errors import FiscalError, FiscalErrorCode

CPF_LENGTH = 11
CNPJ_LENGTH = 14

_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_CPF_MASK = frozenset(".-")
_CNPJ_MASK = frozenset("./-")
_CPF_ALLOWED = _DIGITS | _CPF_MASK
_CNPJ_ALLOWED = _DIGITS | _LETTERS | _CNPJ_MASK

_CNPJ_PATTERN = re.compile(r"[0-9A-Z]{12}[0-9]{2}")
_CNPJ_BASE_PATTERN = re.compile(r"[0-9A-Z]{12}")
_CPF_BASE_PATTERN = re.compile(r"[0-9]{9}")

_CNPJ_WEIGHTS_DV1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_WEIGHTS_DV2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)

# ENCAT asked RFB to keep these letters out of alphanumeric CNPJs; still pending in NT 2025.001,
# so the ban is opt-in (``forbid_pending_letters=True``).
PENDING_FORBIDDEN_CNPJ_LETTERS = frozenset("IOUQF")


def _mod11_digit(total: int) -> int:
    remainder = total % 11
    return 0 if remainder < 2 else 11 - remainder


def cpf_check_digits(base9: str) -> str:
    """Return the two CPF check digits for the 9-digit base ``base9``."""
    if not _CPF_BASE_PATTERN.fullmatch(base9):
        raise FiscalError(FiscalErrorCode.CPF_LENGTH, f"CPF base must be exactly 9 digits, got {base9!r}")
    digits = [int(char) for char in base9]
    dv1 = _mod11_digit(sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)))
    digits.append(dv1)
    dv2 = _mod11_digit(sum(d * w for d, w in zip(digits, range(11, 1, -1), strict=True)))
    return f"{dv1}{dv2}"


def cnpj_check_digits(base12: str) -> str:
    """Return the two CNPJ check digits for the 12-character base (digits or upper-case letters)."""
    if not _CNPJ_BASE_PATTERN.fullmatch(base12):
        raise FiscalError(
            FiscalErrorCode.CNPJ_FORMAT, f"CNPJ base must be 12 characters 0-9 or A-Z, got {base12!r}"
        )
    values = [ord(char) - 48 for char in base12]
    dv1 = _mod11_digit(sum(v * w for v, w in zip(values, _CNPJ_WEIGHTS_DV1, strict=True)))
    values.append(dv1)
    dv2 = _mod11_digit(sum(v * w for v, w in zip(values, _CNPJ_WEIGHTS_DV2, strict=True)))
    return f"{dv1}{dv2}"


def normalize_cpf(value: str) -> str:
    """Validate a CPF (masked or not) and return its 11 digits.

    Error codes: ``cpf_invalid_characters``, ``cpf_length``, ``cpf_repeated_digits``,
    ``cpf_check_digit``.
    """
    text = value.strip()
    bad = sorted({char for char in text if char not in _CPF_ALLOWED})
    if bad:
        raise FiscalError(
            FiscalErrorCode.CPF_INVALID_CHARACTERS,
            f"CPF may contain only digits, '.' and '-'; found {''.join(bad)!r}",
        )
    digits = "".join(char for char in text if char in _DIGITS)
    if len(digits) != CPF_LENGTH:
        raise FiscalError(FiscalErrorCode.CPF_LENGTH, f"CPF must have exactly 11 digits, got {len(digits)}")
    if len(set(digits)) == 1:
        # Every repeated-digit CPF passes the check-digit math, so this rule is what rejects them.
        raise FiscalError(FiscalErrorCode.CPF_REPEATED_DIGITS, "CPF cannot have all digits equal")
    expected = cpf_check_digits(digits[:9])
    if digits[9:] != expected:
        raise FiscalError(
            FiscalErrorCode.CPF_CHECK_DIGIT, f"check digits are {digits[9:]}, expected {expected}"
        )
    return digits


def normalize_cnpj(value: str, *, forbid_pending_letters: bool = False) -> str:
    """Validate a CNPJ (numeric or alphanumeric, masked or not) and return its 14 characters.

    Lower-case letters are accepted and upper-cased. With ``forbid_pending_letters`` the letters
    I, O, U, Q and F are rejected (a ban proposed by ENCAT, not yet confirmed by RFB).

    Error codes: ``cnpj_invalid_characters``, ``cnpj_length``, ``cnpj_format``,
    ``cnpj_repeated_digits``, ``cnpj_forbidden_letter``, ``cnpj_check_digit``.
    """
    text = value.strip()
    # Checked before upper-casing: str.upper() maps some non-ASCII letters onto ASCII ones.
    bad = sorted({char for char in text if char not in _CNPJ_ALLOWED})
    if bad:
        raise FiscalError(
            FiscalErrorCode.CNPJ_INVALID_CHARACTERS,
            f"CNPJ may contain only digits, letters, '.', '/' and '-'; found {''.join(bad)!r}",
        )
    compact = "".join(char for char in text if char not in _CNPJ_MASK).upper()
    if len(compact) != CNPJ_LENGTH:
        raise FiscalError(
            FiscalErrorCode.CNPJ_LENGTH, f"CNPJ must have exactly 14 characters, got {len(compact)}"
        )
    if not _CNPJ_PATTERN.fullmatch(compact):
        raise FiscalError(
            FiscalErrorCode.CNPJ_FORMAT,
            "CNPJ must be 12 characters 0-9/A-Z followed by 2 check digits, "
            f"got {format_cnpj_mask(compact)!r}",
        )
    if len(set(compact)) == 1:
        raise FiscalError(FiscalErrorCode.CNPJ_REPEATED_DIGITS, "CNPJ cannot have all characters equal")
    if forbid_pending_letters:
        forbidden = sorted(set(compact) & PENDING_FORBIDDEN_CNPJ_LETTERS)
        if forbidden:
            raise FiscalError(
                FiscalErrorCode.CNPJ_FORBIDDEN_LETTER,
                f"CNPJ may not contain the letters I, O, U, Q, F; found {''.join(forbidden)!r}",
            )
    expected = cnpj_check_digits(compact[:12])
    if compact[12:] != expected:
        raise FiscalError(
            FiscalErrorCode.CNPJ_CHECK_DIGIT, f"check digits are {compact[12:]}, expected {expected}"
        )
    return compact


def format_cpf_mask(digits: str) -> str:
    """Apply the ``000.000.000-00`` mask to 11 characters without validating them."""
    return f"{digits[0:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:11]}"


def format_cnpj_mask(compact: str) -> str:
    """Apply the ``00.000.000/0000-00`` mask to 14 characters without validating them."""
    return f"{compact[0:2]}.{compact[2:5]}.{compact[5:8]}/{compact[8:12]}-{compact[12:14]}"


def format_cpf(value: str) -> str:
    """Validate a CPF and return it masked: ``111.444.777-35``."""
    return format_cpf_mask(normalize_cpf(value))


def format_cnpj(value: str, *, forbid_pending_letters: bool = False) -> str:
    """Validate a CNPJ and return it masked: ``12.ABC.345/01DE-35``."""
    return format_cnpj_mask(normalize_cnpj(value, forbid_pending_letters=forbid_pending_letters))


@dataclass(frozen=True)
class TaxDocument:
    """A validated CPF (natural person) or CNPJ (company); ``number`` is unmasked."""

    kind: Literal["cpf", "cnpj"]
    number: str

    @property
    def formatted(self) -> str:
        """The number with its usual mask."""
        if self.kind == "cpf":
            return format_cpf_mask(self.number)
        return format_cnpj_mask(self.number)

    def __str__(self) -> str:
        return self.formatted


def parse_tax_document(value: str, *, forbid_pending_letters: bool = False) -> TaxDocument:
    """Tell a CPF from a CNPJ by its length once unmasked (11 or 14), then validate it.

    Every character that is not surrounding whitespace or a mask character (``.``, ``/``, ``-``)
    counts, so invalid characters are reported by the CPF or CNPJ rule with its own code.

    Error codes: ``document_length`` plus every code of :func:`normalize_cpf` and
    :func:`normalize_cnpj`.
    """
    significant = [char for char in value.strip() if char not in _CNPJ_MASK]
    if len(significant) == CPF_LENGTH:
        return TaxDocument(kind="cpf", number=normalize_cpf(value))
    if len(significant) == CNPJ_LENGTH:
        return TaxDocument(
            kind="cnpj",
            number=normalize_cnpj(value, forbid_pending_letters=forbid_pending_letters),
        )
    raise FiscalError(
        FiscalErrorCode.DOCUMENT_LENGTH,
        f"a CPF has 11 digits and a CNPJ 14 characters; got {len(significant)}",
    )
