"""Brazilian states (UF) and postal codes (CEP).

A CEP has no check digit: only its shape is validated here. Whether it exists needs a CEP
database; :func:`cep_matches_uf` is a cheap plausibility check against the Correios ranges per
state, meant for warnings (ranges have moved over time), never for rejecting an address.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final

from malote.fiscal.errors import FiscalError, FiscalErrorCode

#: The 27 federative units (26 states + DF) and their IBGE codes, as used in ``cUF``.
UF_CODES: Final = MappingProxyType(
    {
        "RO": 11,
        "AC": 12,
        "AM": 13,
        "RR": 14,
        "PA": 15,
        "AP": 16,
        "TO": 17,
        "MA": 21,
        "PI": 22,
        "CE": 23,
        "RN": 24,
        "PB": 25,
        "PE": 26,
        "AL": 27,
        "SE": 28,
        "BA": 29,
        "MG": 31,
        "ES": 32,
        "RJ": 33,
        "SP": 35,
        "PR": 41,
        "SC": 42,
        "RS": 43,
        "MS": 50,
        "MT": 51,
        "GO": 52,
        "DF": 53,
    }
)

#: IBGE code → UF, the inverse of :data:`UF_CODES`.
UF_BY_CODE: Final = MappingProxyType({code: uf for uf, code in UF_CODES.items()})

# Correios "faixa de CEP por UF", as inclusive ranges of 8-digit CEPs.
_CEP_RANGES: Final[dict[str, tuple[tuple[int, int], ...]]] = {
    "SP": ((1_000_000, 19_999_999),),
    "RJ": ((20_000_000, 28_999_999),),
    "ES": ((29_000_000, 29_999_999),),
    "MG": ((30_000_000, 39_999_999),),
    "BA": ((40_000_000, 48_999_999),),
    "SE": ((49_000_000, 49_999_999),),
    "PE": ((50_000_000, 56_999_999),),
    "AL": ((57_000_000, 57_999_999),),
    "PB": ((58_000_000, 58_999_999),),
    "RN": ((59_000_000, 59_999_999),),
    "CE": ((60_000_000, 63_999_999),),
    "PI": ((64_000_000, 64_999_999),),
    "MA": ((65_000_000, 65_999_999),),
    "PA": ((66_000_000, 68_899_999),),
    "AP": ((68_900_000, 68_999_999),),
    "AM": ((69_000_000, 69_299_999), (69_400_000, 69_899_999)),
    "RR": ((69_300_000, 69_399_999),),
    "AC": ((69_900_000, 69_999_999),),
    "DF": ((70_000_000, 72_799_999), (73_000_000, 73_699_999)),
    "GO": ((72_800_000, 72_999_999), (73_700_000, 76_799_999)),
    # 78900-78999 is RO's pre-reform range; it is unassigned in the current table and older
    # addresses still carry it, so it is kept to avoid false warnings.
    "RO": ((76_800_000, 76_999_999), (78_900_000, 78_999_999)),
    "TO": ((77_000_000, 77_999_999),),
    "MT": ((78_000_000, 78_899_999),),
    "MS": ((79_000_000, 79_999_999),),
    "PR": ((80_000_000, 87_999_999),),
    "SC": ((88_000_000, 89_999_999),),
    "RS": ((90_000_000, 99_999_999),),
}

_CEP_PATTERN = re.compile(r"([0-9]{5})-?([0-9]{3})")


def normalize_uf(value: str) -> str:
    """Return the upper-case two-letter UF (one of the 27), or raise ``uf_invalid``."""
    candidate = value.strip()
    # isascii() first: str.upper() folds some non-ASCII letters (e.g. the long s) onto ASCII ones.
    if not candidate.isascii() or candidate.upper() not in UF_CODES:
        raise FiscalError(
            FiscalErrorCode.UF_INVALID, f"{value!r} is not one of the 27 Brazilian UFs (e.g. 'SP')"
        )
    return candidate.upper()


def normalize_cep(value: str) -> str:
    """Return the 8 digits of a CEP given as ``01001-000`` or ``01001000``.

    Error codes: ``cep_format`` (not 5 digits, optional hyphen, 3 digits), ``cep_zero``.
    """
    match = _CEP_PATTERN.fullmatch(value.strip())
    if match is None:
        raise FiscalError(
            FiscalErrorCode.CEP_FORMAT, f"CEP must look like 01001-000 or 01001000, got {value!r}"
        )
    digits = match.group(1) + match.group(2)
    if digits == "00000000":
        raise FiscalError(FiscalErrorCode.CEP_ZERO, "CEP 00000-000 does not exist")
    return digits


def format_cep(value: str) -> str:
    """Validate a CEP and return it masked: ``01001-000``."""
    digits = normalize_cep(value)
    return f"{digits[:5]}-{digits[5:]}"


def cep_matches_uf(cep: str, uf: str) -> bool:
    """Whether ``cep`` falls in a Correios CEP range of ``uf``.

    Both values are normalised first, so a malformed CEP or UF raises :class:`FiscalError`; a
    well-formed pair outside the ranges returns ``False`` (a warning, not a rejection).
    """
    number = int(normalize_cep(cep))
    ranges = _CEP_RANGES[normalize_uf(uf)]
    return any(start <= number <= end for start, end in ranges)
