"""Each provider's declared ``capabilities`` are exactly the operations it implements."""

from __future__ import annotations

from typing import Any

import pytest

from malote.connectors import providers
from malote.connectors.base import Capability, Connector, Unsupported, supports
from malote.connectors.registry import kinds, provider

# Every provider of this package (others may register test stubs in the same process).
OURS = sorted(
    kind for kind in kinds() if (cls := provider(kind)) and cls.__module__.startswith("malote.connectors")
)
METHODS: dict[Capability, tuple[str, ...]] = {
    capability: ("verify_webhook", "parse_webhook")
    if capability is Capability.RECEIVE_WEBHOOKS
    else (capability.value,)
    for capability in Capability
}


def implemented(cls: type[Connector]) -> frozenset[Capability]:
    """The capabilities whose methods ``cls`` overrides."""
    return frozenset(
        capability
        for capability, names in METHODS.items()
        if any(getattr(cls, name) is not getattr(Connector, name) for name in names)
    )


def test_every_provider_module_is_registered() -> None:
    assert providers.__name__ and set(OURS) >= {"tiny", "bling", "vtex", "pagarme", "zendesk", "manual"}


@pytest.mark.parametrize("kind", OURS)
def test_declared_capabilities_are_the_implemented_ones(kind: str) -> None:
    cls = provider(kind)
    assert cls is not None
    assert cls.capabilities == implemented(cls), f"{kind}: declared vs implemented"
    for capability in Capability:
        assert supports(cls, capability) is (capability in cls.capabilities)


def test_a_declared_capability_is_supported_and_an_undeclared_one_is_not() -> None:
    class Listing(Connector):
        kind = "listing-only"
        capabilities = frozenset({Capability.LIST_ORDERS})

        def list_orders(self, since: str, cursor: str | None = None) -> Any:
            return None

    assert supports(Listing, Capability.LIST_ORDERS)
    assert not supports(Listing, Capability.PULL_CHANGES)
    assert not supports(None, Capability.LIST_ORDERS)
    with pytest.raises(Unsupported):
        Listing(channel=None, http=object()).pull_changes(None)  # type: ignore[arg-type]


def test_the_check_catches_an_override_left_undeclared_and_a_declaration_without_code() -> None:
    class Undeclared(Connector):
        def push_stock(self, sku: str, available: int, *, idempotency_key: str) -> None:
            return None

    class Unimplemented(Connector):
        capabilities = frozenset({Capability.PUSH_STOCK})

    assert Undeclared.capabilities != implemented(Undeclared)
    assert Unimplemented.capabilities != implemented(Unimplemented)
