"""NF-e / NFC-e access key (chave de acesso): 44 positions, modulo-11 check digit.

Layout (0-based slices)::

    [0:2] cUF  [2:6] YYMM  [6:20] issuer CNPJ (or 000+CPF)  [20:22] model  [22:25] series
    [25:34] number  [34] emission type  [35:43] random code  [43] check digit

Since the alphanumeric CNPJ (NT 2025.001), positions 7-18 may hold upper-case letters; the
check digit then weighs each character as ``ord(c) - 48``, which equals the digit for 0-9, so one
routine serves old and new keys. The same layout is shared by CT-e (57), MDF-e (58) and CT-e OS
(67); :func:`parse_nfe_key` accepts only NF-e models unless told otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from malote.fiscal.address import UF_BY_CODE
from malote.fiscal.documents import normalize_cnpj, normalize_cpf
from malote.fiscal.errors import FiscalError, FiscalErrorCode

NFE_KEY_LENGTH = 44
NFE_MODELS = frozenset({"55", "65"})
EMISSION_TYPES = frozenset("12345679")

_KEY_PATTERN = re.compile(r"[0-9]{6}[0-9A-Z]{12}[0-9]{26}")
_FIRST43_PATTERN = re.compile(r"[0-9]{6}[0-9A-Z]{12}[0-9]{25}")

# Series ranges from the MOC (as applied by erpbrasil.base): who may issue in each range decides
# whether positions 7-20 hold a CNPJ or "000" + CPF.
_CPF_SERIES = range(910, 970)
_CPF_OR_CNPJ_SERIES = range(890, 900)


def nfe_key_check_digit(first43: str) -> int:
    """Modulo-11 check digit of the first 43 key positions (weights 2..9 from the right).

    Raises ``nfe_key_format`` when ``first43`` does not have the key's shape.
    """
    if not _FIRST43_PATTERN.fullmatch(first43):
        raise FiscalError(
            FiscalErrorCode.NFE_KEY_FORMAT,
            "the first 43 key positions must be 6 digits, 12 characters 0-9/A-Z and 25 digits",
        )
    total = 0
    weight = 2
    for char in reversed(first43):
        total += (ord(char) - 48) * weight
        weight = 2 if weight == 9 else weight + 1
    remainder = total % 11
    return 0 if remainder < 2 else 11 - remainder


def compact_nfe_key(value: str) -> str:
    """Remove all whitespace (keys are often pasted in groups of 4) and upper-case ASCII letters."""
    compact = "".join(value.split())
    # Non-ASCII input is left as is (it fails the format check); upper() could change its length.
    return compact.upper() if compact.isascii() else compact


def format_nfe_key(key: str) -> str:
    """Groups of 4 characters separated by spaces, as printed on a DANFE."""
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


@dataclass(frozen=True)
class NfeKey:
    """A validated access key and its fields."""

    key: str
    cuf: int
    uf: str
    year: int
    month: int
    emitter_document: str
    emitter_kind: Literal["cpf", "cnpj"]
    model: str
    series: int
    number: int
    emission_type: str
    code: str
    check_digit: int

    @property
    def formatted(self) -> str:
        """The key in groups of 4, as printed on a DANFE."""
        return format_nfe_key(self.key)

    def __str__(self) -> str:
        return self.key


def _emitter_document(key: str, series: int) -> tuple[Literal["cpf", "cnpj"], str]:
    """Read and validate the issuer document at positions 7-20, as the series dictates."""
    field = key[6:20]
    cpf_allowed = series in _CPF_SERIES or series in _CPF_OR_CNPJ_SERIES
    if series not in _CPF_SERIES:
        try:
            return "cnpj", normalize_cnpj(field)
        except FiscalError as error:
            if not (cpf_allowed and field.startswith("000")):
                raise FiscalError(
                    FiscalErrorCode.NFE_KEY_EMITTER, f"issuer CNPJ {field} is invalid: {error.detail}"
                ) from error
    if not field.startswith("000"):
        raise FiscalError(
            FiscalErrorCode.NFE_KEY_EMITTER,
            f"series {series:03d} is issued by a natural person: expected 000 followed by a CPF, got {field}",
        )
    try:
        return "cpf", normalize_cpf(field[3:])
    except FiscalError as error:
        raise FiscalError(
            FiscalErrorCode.NFE_KEY_EMITTER, f"issuer CPF {field[3:]} is invalid: {error.detail}"
        ) from error


def parse_nfe_key(value: str, *, models: frozenset[str] = NFE_MODELS) -> NfeKey:
    """Validate an access key and split it into its fields.

    Whitespace anywhere is ignored and letters are upper-cased. Checks run in this order, each
    with its own code: ``nfe_key_length``, ``nfe_key_format``, ``nfe_key_check_digit``,
    ``nfe_key_uf``, ``nfe_key_month``, ``nfe_key_model`` (not in ``models``),
    ``nfe_key_emission_type``, ``nfe_key_number``, ``nfe_key_emitter``.
    """
    key = compact_nfe_key(value)
    if len(key) != NFE_KEY_LENGTH:
        raise FiscalError(
            FiscalErrorCode.NFE_KEY_LENGTH, f"access key must have 44 characters, got {len(key)}"
        )
    if not _KEY_PATTERN.fullmatch(key):
        raise FiscalError(
            FiscalErrorCode.NFE_KEY_FORMAT,
            "access key must be 6 digits, 12 characters 0-9/A-Z (CNPJ root) and 26 digits",
        )
    expected_dv = nfe_key_check_digit(key[:43])
    if int(key[43]) != expected_dv:
        raise FiscalError(
            FiscalErrorCode.NFE_KEY_CHECK_DIGIT, f"check digit is {key[43]}, expected {expected_dv}"
        )
    cuf = int(key[0:2])
    if cuf not in UF_BY_CODE:
        raise FiscalError(
            FiscalErrorCode.NFE_KEY_UF,
            f"state code {key[0:2]} is not an IBGE UF code (expected e.g. 35 for SP)",
        )
    month = int(key[4:6])
    if not 1 <= month <= 12:
        raise FiscalError(FiscalErrorCode.NFE_KEY_MONTH, f"issue month is {key[4:6]}, expected 01 to 12")
    model = key[20:22]
    if model not in models:
        raise FiscalError(
            FiscalErrorCode.NFE_KEY_MODEL, f"model is {model}, expected one of {', '.join(sorted(models))}"
        )
    emission_type = key[34]
    if emission_type not in EMISSION_TYPES:
        raise FiscalError(
            FiscalErrorCode.NFE_KEY_EMISSION_TYPE,
            f"emission type is {emission_type}, expected one of 1, 2, 3, 4, 5, 6, 7, 9",
        )
    number = int(key[25:34])
    if number == 0:
        raise FiscalError(FiscalErrorCode.NFE_KEY_NUMBER, "invoice number is 000000000, expected 1 or more")
    series = int(key[22:25])
    emitter_kind, emitter_document = _emitter_document(key, series)
    return NfeKey(
        key=key,
        cuf=cuf,
        uf=UF_BY_CODE[cuf],
        year=2000 + int(key[2:4]),
        month=month,
        emitter_document=emitter_document,
        emitter_kind=emitter_kind,
        model=model,
        series=series,
        number=number,
        emission_type=emission_type,
        code=key[35:43],
        check_digit=expected_dv,
    )


def build_nfe_key(
    *,
    cuf: int,
    year: int,
    month: int,
    emitter_document: str,
    model: str,
    series: int,
    number: int,
    emission_type: str,
    code: str,
) -> str:
    """Assemble a key from its fields and append its check digit.

    A CPF issuer (11 characters) is written as ``000`` + CPF. The result is validated with
    :func:`parse_nfe_key` (for the given ``model``), so inconsistent fields raise
    :class:`FiscalError`.
    """
    document = emitter_document.zfill(14) if len(emitter_document) == 11 else emitter_document
    first43 = (
        f"{cuf:02d}{year % 100:02d}{month:02d}{document}{model}{series:03d}{number:09d}{emission_type}{code}"
    )
    key = first43 + str(nfe_key_check_digit(first43))
    parse_nfe_key(key, models=frozenset({model}))
    return key
