"""Brazilian fiscal and logistics identifiers: pure functions, no Django.

CPF/CNPJ (:mod:`.documents`), UF/CEP (:mod:`.address`), NF-e access keys (:mod:`.nfe_key`),
NF-e XML (:mod:`.nfe_xml`; the 2026 groups in :mod:`.nfe_tax_reform`) and carrier tracking codes
(:mod:`.tracking`). Every validator raises
:class:`FiscalError` with a stable ``code``. Test fixtures live outside the product
(``malote_dev.testing.fiscal``).
"""

from malote.fiscal.address import (
    UF_BY_CODE,
    UF_CODES,
    cep_matches_uf,
    format_cep,
    normalize_cep,
    normalize_uf,
)
from malote.fiscal.documents import (
    TaxDocument,
    cnpj_check_digits,
    cpf_check_digits,
    format_cnpj,
    format_cpf,
    normalize_cnpj,
    normalize_cpf,
    parse_tax_document,
)
from malote.fiscal.errors import FiscalError, FiscalErrorCode
from malote.fiscal.nfe_key import (
    NfeKey,
    build_nfe_key,
    format_nfe_key,
    nfe_key_check_digit,
    parse_nfe_key,
)
from malote.fiscal.nfe_tax_reform import (
    NfeDirection,
    NfePurpose,
    NfeTaxReformItem,
    NfeTaxReformTotals,
)
from malote.fiscal.nfe_xml import (
    NfeAuthorization,
    NfeDocument,
    NfeLine,
    check_nfe_xml_against_key,
    cross_check_key,
    parse_nfe_xml,
)
from malote.fiscal.tracking import (
    CorreiosRule,
    PatternRule,
    TrackingRule,
    configure_tracking_patterns,
    get_tracking_rule,
    register_tracking_rule,
    s10_check_digit,
    tracking_url,
    validate_tracking_code,
)

__all__ = [
    "UF_BY_CODE",
    "UF_CODES",
    "CorreiosRule",
    "FiscalError",
    "FiscalErrorCode",
    "NfeAuthorization",
    "NfeDirection",
    "NfeDocument",
    "NfeKey",
    "NfeLine",
    "NfePurpose",
    "NfeTaxReformItem",
    "NfeTaxReformTotals",
    "PatternRule",
    "TaxDocument",
    "TrackingRule",
    "build_nfe_key",
    "cep_matches_uf",
    "check_nfe_xml_against_key",
    "cnpj_check_digits",
    "configure_tracking_patterns",
    "cpf_check_digits",
    "cross_check_key",
    "format_cep",
    "format_cnpj",
    "format_cpf",
    "format_nfe_key",
    "get_tracking_rule",
    "nfe_key_check_digit",
    "normalize_cep",
    "normalize_cnpj",
    "normalize_cpf",
    "normalize_uf",
    "parse_nfe_key",
    "parse_nfe_xml",
    "parse_tax_document",
    "register_tracking_rule",
    "s10_check_digit",
    "tracking_url",
    "validate_tracking_code",
]
