"""Package-level contracts: public names, no Django, one picklable error type."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import malote.fiscal
from malote.fiscal import FiscalError, FiscalErrorCode


def test_public_names_are_exported() -> None:
    for name in malote.fiscal.__all__:
        assert hasattr(malote.fiscal, name), name


def test_package_does_not_import_django() -> None:
    code = (
        "import sys, malote.fiscal, malote_dev.testing.fiscal\n"
        "from malote_dev.testing.fiscal import build_nfe_xml\n"
        "malote.fiscal.parse_nfe_xml(build_nfe_xml())\n"
        "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    repository = Path(malote.fiscal.__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repository
    )
    assert result.stdout.strip() == "False"


def test_fiscal_error_is_a_value_error_with_code_and_detail() -> None:
    error = FiscalError(FiscalErrorCode.CPF_LENGTH, "CPF must have exactly 11 digits, got 10")
    assert isinstance(error, ValueError)
    assert (error.code, error.detail) == ("cpf_length", "CPF must have exactly 11 digits, got 10")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.detail) == (error.code, error.detail)
