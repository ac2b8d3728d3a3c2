"""Every option the code reads has a spec (``malote.channels.option_specs``) — so a new option
without a form field fails the suite —, the specs' defaults are the code's fallbacks, and
docs/channel-rules.md lists every spec."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from malote.channels import option_specs
from malote.channels.models import ChannelRole
from malote.channels.status_maps import POLICY_DEFAULTS, POLICY_PRESETS
from malote.connectors.bling import mapping as bling
from malote.connectors.jumpseller import mapping as jumpseller
from malote.connectors.mercadolivre import mapping as mercadolivre
from malote.connectors.pagarme import connector as pagarme
from malote.connectors.registry import kinds, provider
from malote.connectors.skyhub import mapping as skyhub
from malote.connectors.tiny import client as tiny
from malote.connectors.vtex import connector as vtex
from malote.connectors.vtex import mapping as vtex_mapping
from malote.connectors.zendesk import mapping as zendesk
from malote.reconcile import jobs, stalls
from malote.reconcile.options import DEFAULTS as RECONCILE_DEFAULTS

ROOT = Path(settings.BASE_DIR)
# How the code reads an option: Channel.option / Connector.option, reconcile's option(channel, …),
# Channel.policy, and a direct read of the options dict.
READS = re.compile(
    r"""(?:\.option|\boption|\.policy)\(\s*(?:[\w.]+\s*,\s*)?["']([a-z_0-9]+)["']"""
    r"""|options["'], None\) or \{\}\)\.get\(\s*["']([a-z_0-9]+)["']"""
)
ROLES = [role.value for role in ChannelRole]


def option_reads(source: str) -> set[str]:
    return {a or b for a, b in READS.findall(source)}


def product_sources() -> list[Path]:
    return [
        path
        for path in (ROOT / "malote").rglob("*.py")
        if "tests" not in path.parts and "migrations" not in path.parts and "management" not in path.parts
    ]


def _kind_of(path: Path) -> str | None:
    """The connector kind a vendor package's file belongs to (its options apply to that kind)."""
    parts = path.relative_to(ROOT / "malote").parts
    return parts[1] if parts[0] == "connectors" and len(parts) > 2 else None


def _specs_named(name: str, kind: str | None) -> list[option_specs.OptionSpec]:
    return [
        s for s in option_specs.SPECS if s.name == name and (kind is None or not s.kinds or kind in s.kinds)
    ]


def test_every_option_the_code_reads_has_a_spec() -> None:
    missing, found = [], 0
    for path in product_sources():
        for name in option_reads(path.read_text()):
            found += 1
            if not _specs_named(name, _kind_of(path)):
                missing.append(f"{path.relative_to(ROOT)}: {name}")
    assert found >= 80, "the scan must see the options the code reads"
    assert not missing, "options without a spec (add them to malote/channels/option_specs.py):\n" + "\n".join(
        missing
    )
    for name in [*RECONCILE_DEFAULTS, *stalls.DEFAULTS, *POLICY_DEFAULTS]:
        assert _specs_named(name, None), name


def test_a_new_option_without_a_spec_is_caught() -> None:
    source = 'ttl = self.option("brand_new_ttl", 5)\nflag = option(channel, "other_new_flag")\n'
    reads = option_reads(source)
    assert reads == {"brand_new_ttl", "other_new_flag"}
    assert not any(_specs_named(name, None) for name in reads)


def test_spec_defaults_equal_the_code_fallbacks() -> None:
    def default(name: str, kind: str = "") -> object:
        [spec] = [s for s in _specs_named(name, kind or None) if not kind or kind in s.kinds or not s.kinds]
        return spec.default_for(kind)

    for name, value in {**RECONCILE_DEFAULTS, **stalls.DEFAULTS}.items():
        assert default(name) == value, name
    for name, value in POLICY_DEFAULTS.items():
        assert default(name) == value, name
        for kind, preset in POLICY_PRESETS.items():
            assert default(name, kind) == preset.get(name, value), (kind, name)
    assert default("reconcile_interval_seconds") == jobs.DEFAULT_INTERVAL
    for kind in kinds():
        cls = provider(kind)
        assert cls is not None
        if "parse_webhook" in cls.capabilities:
            assert default("answer_before_reading", kind) == cls.answers_before_reading, kind
    assert default("page_size", "bling") == bling.PAGE_SIZE
    assert default("per_page", "skyhub") == skyhub.DEFAULT_PER_PAGE
    assert default("xml_invoice_shipping_methods", "skyhub") == list(skyhub.XML_INVOICE_METHODS)
    assert default("stock_resources", "skyhub") == list(skyhub.STOCK_RESOURCES)
    assert default("exception_observation", "skyhub") == skyhub.DEFAULT_OBSERVATION
    assert default("feed_max_lot", "vtex") == vtex.FEED_MAX_LOT
    assert default("hook_secret_header", "vtex") == vtex.DEFAULT_HOOK_HEADER
    assert default("environment", "vtex") == vtex_mapping.DEFAULT_ENVIRONMENT
    assert default("invoice_url_template", "jumpseller") == jumpseller.DEFAULT_INVOICE_URL
    assert default("group", "zendesk") == zendesk.DEFAULT_GROUP
    assert default("helpdesk_group") == zendesk.DEFAULT_GROUP
    assert default("me1_service_id", "mercadolivre") == mercadolivre.ME1_DEFAULT_SERVICE_ID
    assert default("jwks_url", "pagarme") == pagarme.DEFAULT_JWKS_URL
    assert default("list_page_size", "pagarme") == pagarme.LIST_PAGE_SIZE
    assert default("not_found_codes", "tiny") == [tiny.NOT_FOUND]


def test_names_are_unique_per_channel_and_every_spec_applies_somewhere() -> None:
    used: set[int] = set()
    for kind in kinds():
        cls = provider(kind)
        capabilities = [str(c) for c in cls.capabilities] if cls else []
        for role in ROLES:
            specs = option_specs.applicable(role, kind, capabilities)
            names = [s.name for s in specs]
            assert len(names) == len(set(names)), (role, kind)
            used.update(id(s) for s in specs)
    assert {id(s) for s in option_specs.SPECS} == used, "a spec no channel can have"


def test_the_doc_lists_every_option_with_its_default() -> None:
    doc = (ROOT / "docs" / "channel-rules.md").read_text()
    section = doc[doc.index("## Every option") :]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z_0-9]+)` \|.*$", section, re.M)}
    missing = sorted(option_specs.names() - set(rows))
    assert not missing, f"docs/channel-rules.md, 'Every option', lacks: {missing}"
    assert "`{store_number}`" in rows["helpdesk_template"]
    assert '`["solved", "closed"]`' in rows["ticket_done_statuses"]
