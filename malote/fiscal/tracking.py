"""Tracking codes, validated per carrier through a small rule registry.

Only carriers with a published format get a strict rule (Correios: UPU S10 with its check
digit). Other carriers get a configurable regular expression, and carriers without any rule
accept an opaque code (non-empty, printable, at most 64 characters), because a rejected valid
code blocks a shipment while an unchecked one costs little.

Carrier names are matched by :func:`carrier_key`: accents, case, spaces and punctuation are
folded, so ``Correios``, ``CORREIOS`` and `` correios `` share one rule.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from malote.fiscal.errors import FiscalError, FiscalErrorCode

MAX_TRACKING_CODE_LENGTH = 64
CORREIOS = "correios"
CORREIOS_TRACKING_URL = "https://rastreamento.correios.com.br/app/index.php?objetos={code}"

_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_S10_SERIAL_PATTERN = re.compile(r"[0-9]{8}")
_S10_PATTERN = re.compile(r"[A-Z]{2}[0-9]{9}[A-Z]{2}")


def carrier_key(carrier: str) -> str:
    """Fold a carrier name for lookups: no accents, lower case, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", carrier)
    return "".join(char for char in decomposed.casefold() if char.isascii() and char.isalnum())


def s10_check_digit(serial8: str) -> int:
    """UPU S10 check digit of an 8-digit serial number (weights 8 6 4 2 3 5 9 7, modulo 11)."""
    if not _S10_SERIAL_PATTERN.fullmatch(serial8):
        raise FiscalError(
            FiscalErrorCode.TRACKING_CODE_FORMAT, f"S10 serial must be 8 digits, got {serial8!r}"
        )
    remainder = sum(int(d) * w for d, w in zip(serial8, _S10_WEIGHTS, strict=True)) % 11
    if remainder == 0:
        return 5
    if remainder == 1:
        return 0
    return 11 - remainder


def basic_tracking_code(code: str) -> str:
    """The checks every tracking code passes: stripped, non-empty, printable, at most 64 chars.

    Error codes: ``tracking_code_empty``, ``tracking_code_format``.
    """
    text = code.strip()
    if not text:
        raise FiscalError(FiscalErrorCode.TRACKING_CODE_EMPTY, "tracking code is empty")
    if len(text) > MAX_TRACKING_CODE_LENGTH:
        raise FiscalError(
            FiscalErrorCode.TRACKING_CODE_FORMAT,
            f"tracking code has {len(text)} characters, expected at most {MAX_TRACKING_CODE_LENGTH}",
        )
    if not text.isprintable():
        raise FiscalError(FiscalErrorCode.TRACKING_CODE_FORMAT, "tracking code contains control characters")
    return text


class TrackingRule:
    """Validation rule for one carrier's tracking codes.

    Subclasses override :meth:`normalize`; the base rule accepts any opaque code that passes
    :func:`basic_tracking_code`.
    """

    def __init__(self, carrier: str) -> None:
        self.carrier = carrier_key(carrier)
        if not self.carrier:
            raise ValueError(f"carrier name {carrier!r} has no letters or digits")

    def normalize(self, code: str) -> str:
        """Return the canonical form of ``code`` or raise :class:`FiscalError`."""
        return basic_tracking_code(code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.carrier!r})"


class CorreiosRule(TrackingRule):
    """Correios objects: strict UPU S10 (``AA123456785BR``), spaces removed, upper-cased.

    Error codes: ``tracking_code_empty``, ``tracking_code_format``, ``tracking_code_check_digit``.
    """

    def __init__(self, carrier: str = CORREIOS) -> None:
        super().__init__(carrier)

    def normalize(self, code: str) -> str:
        text = "".join(basic_tracking_code(code).split())
        if text.isascii():
            text = text.upper()
        if not _S10_PATTERN.fullmatch(text):
            raise FiscalError(
                FiscalErrorCode.TRACKING_CODE_FORMAT,
                f"Correios code must be 2 letters, 9 digits and 2 letters (e.g. AA123456785BR), got {text!r}",
            )
        expected = s10_check_digit(text[2:10])
        if int(text[10]) != expected:
            raise FiscalError(
                FiscalErrorCode.TRACKING_CODE_CHECK_DIGIT, f"check digit is {text[10]}, expected {expected}"
            )
        return text


class PatternRule(TrackingRule):
    """A carrier whose codes must fully match ``regex`` (surrounding whitespace is stripped).

    ``description`` tells the user what is expected, e.g. ``"14 digits"``. Error codes:
    ``tracking_code_empty``, ``tracking_code_format``.
    """

    def __init__(self, carrier: str, regex: str, description: str) -> None:
        super().__init__(carrier)
        self.regex = regex
        self.description = description
        self._pattern = re.compile(regex)

    def normalize(self, code: str) -> str:
        text = basic_tracking_code(code)
        if not self._pattern.fullmatch(text):
            raise FiscalError(
                FiscalErrorCode.TRACKING_CODE_FORMAT,
                f"{self.carrier} tracking code must be {self.description}, got {text!r}",
            )
        return text


def _default_rules() -> dict[str, TrackingRule]:
    rules: list[TrackingRule] = [
        CorreiosRule(),
        # Jadlog publishes no check digit; 14 digits is what its public examples show.
        PatternRule("jadlog", r"\d{14}", "14 digits"),
    ]
    return {rule.carrier: rule for rule in rules}


_registry: dict[str, TrackingRule] = _default_rules()


def register_tracking_rule(rule: TrackingRule) -> None:
    """Add ``rule`` for its carrier, replacing any previous rule for that carrier."""
    _registry[rule.carrier] = rule


def get_tracking_rule(carrier: str) -> TrackingRule | None:
    """The rule registered for ``carrier`` (name folded by :func:`carrier_key`), if any."""
    return _registry.get(carrier_key(carrier))


def reset_tracking_rules() -> None:
    """Drop every registered or configured rule and restore the built-in ones (for tests)."""
    _registry.clear()
    _registry.update(_default_rules())


def configure_tracking_patterns(mapping: dict[str, str]) -> None:
    """Add or replace regex rules from configuration: ``{"carrier name": "regex"}``.

    Every pattern is compiled before any rule changes, so a bad setting leaves the registry
    untouched; it raises ``tracking_pattern_invalid``.
    """
    rules: list[TrackingRule] = []
    for carrier, regex in mapping.items():
        try:
            rules.append(PatternRule(carrier, regex, f"in the format {regex}"))
        except (re.error, ValueError) as error:
            raise FiscalError(
                FiscalErrorCode.TRACKING_PATTERN_INVALID,
                f"tracking pattern for {carrier!r} is invalid: {error}",
            ) from error
    for rule in rules:
        register_tracking_rule(rule)


def validate_tracking_code(carrier: str, code: str) -> str:
    """Validate ``code`` with the rule of ``carrier`` and return it normalised.

    Carriers without a rule accept any stripped, non-empty, printable code of at most 64
    characters. Error codes: ``tracking_code_empty``, ``tracking_code_format``,
    ``tracking_code_check_digit``.
    """
    rule = get_tracking_rule(carrier)
    if rule is None:
        return basic_tracking_code(code)
    return rule.normalize(code)


def tracking_url(carrier: str, code: str) -> str | None:
    """Public tracking page for the code, or ``None`` when the carrier has none or the code is invalid."""
    if carrier_key(carrier) != CORREIOS:
        return None
    try:
        normalized = validate_tracking_code(carrier, code)
    except FiscalError:
        return None
    return CORREIOS_TRACKING_URL.format(code=quote(normalized))
