"""Import every connector module so each registers itself."""

from malote.connectors import (  # noqa: F401
    adyen,
    bling,
    jumpseller,
    manual,
    mercadolivre,
    pagarme,
    skyhub,
    tiny,
    vtex,
    webhook,
    zendesk,
)
