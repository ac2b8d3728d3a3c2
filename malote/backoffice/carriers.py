"""The carriers and shipping services an operator picks from when shipping an order.

Correios' services and the marketplaces' own logistics, as Brazilian ERPs list them, plus
"outra" (any other carrier, typed). A carrier's ``code`` is what ``Shipment.carrier`` stores: it
folds (``fiscal.tracking.carrier_key``) to the key the tracking rules and the connectors' carrier
names use, so ``correios`` gets the strict S10 check. A service's ``name`` is what
``Shipment.method`` stores, the words the channels show the customer.

``guess`` reads the order's shipping method as the channel sent it ("Correios SEDEX",
"Mercado Envios 2", "B2W Entregas") to prefill the form.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from malote.fiscal.tracking import CORREIOS, carrier_key

OTHER = "outra"
OTHER_SERVICE = "outro"


@dataclass(frozen=True)
class Service:
    name: str
    # Other ways channels write it (folded by ``carrier_key``); the name itself always matches.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Carrier:
    code: str
    name: str
    services: tuple[Service, ...]
    aliases: tuple[str, ...] = ()


CARRIERS: tuple[Carrier, ...] = (
    Carrier(
        CORREIOS,
        "Correios",
        (
            Service("SEDEX"),
            Service("PAC"),
            Service("SEDEX 10"),
            Service("SEDEX 12"),
            Service("SEDEX Hoje"),
            Service("Mini Envios", ("Correios Mini Envios",)),
        ),
    ),
    Carrier(
        "mercado_envios",
        "Mercado Envios",
        (
            Service("Mercado Envios", ("Mercado Envios 2", "ME2", "Mercado Envios Coleta")),
            Service("Mercado Envios Flex"),
            Service("Mercado Envios Full"),
        ),
        ("Mercado Livre",),
    ),
    Carrier("magalu_entregas", "Magalu Entregas", (Service("Magalu Entregas"),), ("Magazine Luiza",)),
    Carrier(
        "americanas_entrega",
        "Americanas Entrega (B2W)",
        (
            Service("Americanas Entrega"),
            Service("B2W Entregas", ("B2W Entrega",)),
            Service("B2W Entregas Direct"),
        ),
        ("Americanas", "B2W"),
    ),
    Carrier("amazon_dba", "Amazon DBA", (Service("Amazon DBA", ("Delivery by Amazon",)),), ("Amazon",)),
    Carrier("jadlog", "Jadlog", (Service(".Package", ("Jadlog Package",)), Service(".Com", ("Jadlog Com",)))),
    Carrier("loggi", "Loggi", ()),
    Carrier("total_express", "Total Express", ()),
    Carrier("azul_cargo", "Azul Cargo Express", (), ("Azul Cargo",)),
)
BY_CODE = {carrier.code: carrier for carrier in CARRIERS}


def carrier_choices() -> list[tuple[str, str]]:
    """The carrier select's options: the known carriers, then "Outra"."""
    return [(c.code, c.name) for c in CARRIERS] + [(OTHER, str(_("Outra (digite o nome)")))]


def service_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The service select's option groups, one per carrier with services, then "Outro"."""
    groups: list[tuple[str, list[tuple[str, str]]]] = [
        (c.name, [(s.name, s.name) for s in c.services]) for c in CARRIERS if c.services
    ]
    groups.append((str(_("Outro")), [(OTHER_SERVICE, str(_("Outro serviço (digite o nome)")))]))
    return groups


def carrier_of_service(name: str) -> Carrier | None:
    """The carrier that offers the service called ``name`` (as the select sends it)."""
    for carrier in CARRIERS:
        if any(service.name == name for service in carrier.services):
            return carrier
    return None


def known_carrier(value: str) -> Carrier | None:
    """The listed carrier ``value`` names (a code, its name or an alias, in any spelling)."""
    key = carrier_key(value)
    for carrier in CARRIERS:
        if key and key in {carrier_key(n) for n in (carrier.code, carrier.name, *carrier.aliases)}:
            return carrier
    return None


def _words(text: str) -> str:
    return " " + " ".join("".join(ch if ch.isalnum() else " " for ch in text.casefold()).split()) + " "


def guess(shipping_method: str) -> tuple[str, str]:
    """(carrier code, service name) read from an order's shipping method; ``""`` where unknown.

    The longest service name or alias found as whole words wins ("Correios SEDEX 10" is SEDEX 10,
    not SEDEX); without a service, a carrier name alone still picks the carrier.
    """
    text = _words(shipping_method)
    best: tuple[int, str, str] = (0, "", "")
    for carrier in CARRIERS:
        for service in carrier.services:
            for alias in (service.name, *service.aliases):
                words = _words(alias)
                if words.strip() and words in text and len(words) > best[0]:
                    best = (len(words), carrier.code, service.name)
    if best[1]:
        return best[1], best[2]
    for carrier in CARRIERS:
        for alias in (carrier.name, *carrier.aliases):
            if _words(alias) in text:
                return carrier.code, ""
    return "", ""
