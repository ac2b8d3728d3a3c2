"""The single error type of :mod:`malote.fiscal`.

Every validator in this package raises :class:`FiscalError` and nothing else for bad input, so
callers (API, back office, connectors) can catch one type and map ``code`` to a message or an
HTTP answer. ``code`` is stable snake_case and part of the public contract; ``detail`` is a
readable English sentence that may change.
"""

from __future__ import annotations


class FiscalError(ValueError):
    """A fiscal or logistics identifier broke a rule.

    ``code`` names the rule (e.g. ``cpf_check_digit``); ``detail`` explains the failure, including
    the expected value where there is one.
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    def __reduce__(self) -> tuple[type[FiscalError], tuple[str, str]]:
        # Keeps the two-argument constructor working through pickle (e.g. task queues).
        return (type(self), (self.code, self.detail))
