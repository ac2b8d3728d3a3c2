"""Valid-looking Brazilian identifiers for demo data and benchmarks (check digits computed)."""

from __future__ import annotations

import random
from datetime import datetime

from malote.fiscal.nfe_key import build_nfe_key
from malote.fiscal.tracking import s10_check_digit

DEMO_EMITTER_CNPJ = "11222333000181"  # a valid CNPJ used in synthetic samples


def nfe_key(number: int, issued_at: datetime, *, series: int = 1, cuf: int = 35, rng: random.Random) -> str:
    return build_nfe_key(
        cuf=cuf,
        year=issued_at.year,
        month=issued_at.month,
        emitter_document=DEMO_EMITTER_CNPJ,
        model="55",
        series=series,
        number=number,
        emission_type="1",
        code=f"{rng.randrange(10**8):08d}",
    )


def correios_code(serial: int, prefix: str = "AA") -> str:
    digits = f"{serial % 10**8:08d}"
    return f"{prefix}{digits}{s10_check_digit(digits)}BR"
