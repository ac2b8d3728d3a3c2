"""Every channel option Malote reads (``Channel.options``), described as data: name, type, default,
a pt-BR label and help text (English in the catalog), and which channels it applies to.

The back office builds the channel's form from these specs (``malote.backoffice.manage_forms``)
and docs/channel-rules.md lists them; tests check that every option the code reads has a spec,
that the defaults here equal the ones the code falls back to, and that the doc lists every spec.

A spec applies to a channel when its role is in ``roles`` (empty: any role), its kind is in
``kinds`` (empty: any kind) and its connector declares the capability named in ``needs`` (a
``malote.connectors.base.Capability`` value; ``CONNECTED``: any connector that talks to a system,
i.e. not ``manual``). The capability check needs the connector registry, a floor above this one, so
callers pass the connector's capabilities in (``applicable``). Within one kind, names are unique.

Defaults: a policy option takes its kind's default (``status_maps.POLICY_PRESETS``) before the
generic one; ``kind_defaults`` carries that (and connector-specific defaults such as
``answer_before_reading``). An option whose ``nullable`` is set may be left empty: it is then not
stored and the code's own fallback applies (e.g. Bling looks the Vendas module up itself).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from malote.channels.status_maps import POLICY_DEFAULTS, POLICY_PRESETS


class OptionType(StrEnum):
    BOOL = "bool"  # a checkbox
    INT = "int"  # a whole number, within minimum/maximum
    NUMBER = "number"  # a number (decimals allowed), within minimum/maximum
    TEXT = "text"  # one line of text
    CHOICE = "choice"  # one of ``choices``
    LIST = "list"  # texts, one per line
    INT_LIST = "int_list"  # whole numbers, one per line
    DATE_LIST = "date_list"  # dates (dd/mm/aaaa or aaaa-mm-dd), one per line, stored ISO
    MAPPING = "mapping"  # a JSON object; its values of ``value_type``


class ValueType(StrEnum):
    """What a ``MAPPING`` option's values must be."""

    TEXT = "text"
    INT = "int"
    RATE = "rate"  # a number ≥ 0, or null (no limit)


class Group(StrEnum):
    CONNECTION = "connection"
    RULES = "rules"
    RECONCILE = "reconcile"
    UNPAID = "unpaid"
    HELPDESK = "helpdesk"
    STALL = "stall"
    CONNECTOR = "connector"


GROUP_LABELS: dict[Group, Promise] = {
    Group.CONNECTION: _("Conexão"),
    Group.RULES: _("Regras de pedidos, NF-e, entrega e estoque"),
    Group.RECONCILE: _("Conferência (reconciliação)"),
    Group.UNPAID: _("Pedidos não pagos e prazos"),
    Group.HELPDESK: _("Correção por chamado (help desk)"),
    Group.STALL: _("Canal parado"),
    Group.CONNECTOR: _("Opções do conector"),
}

CONNECTED = "connected"
TICKET_FIELDS = frozenset({"number", "external_id", "store_number", "marketplace"})
INVOICE_URL_FIELDS = frozenset({"key", "number", "series", "order"})
HELPDESK_TEMPLATE = "Favor corrigir o problema de integração no pedido {store_number} (Malote {number})"
SALES = frozenset({"storefront", "marketplace"})
ERP = frozenset({"erp"})
LINKED = SALES | ERP


@dataclass(frozen=True)
class OptionSpec:
    name: str
    type: OptionType
    default: Any
    label: Promise
    help: Promise
    group: Group
    roles: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    needs: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[tuple[str, Promise | str], ...] = ()
    value_type: ValueType = ValueType.TEXT
    nullable: bool = False
    # The ``{name}`` fields a text option may use (a template); empty: the text is not a template.
    placeholders: frozenset[str] = frozenset()
    kind_defaults: Mapping[str, Any] = field(default_factory=dict)

    def default_for(self, kind: str) -> Any:
        """The value a channel of ``kind`` that does not set this option gets."""
        return copy.deepcopy(self.kind_defaults.get(kind, self.default))

    def applies(self, role: str, kind: str, capabilities: Iterable[str]) -> bool:
        if self.roles and role not in self.roles:
            return False
        if self.kinds and kind not in self.kinds:
            return False
        caps = set(capabilities)
        if self.needs == CONNECTED:
            return bool(caps)
        return not self.needs or self.needs in caps


def _policy_kind_defaults(name: str) -> dict[str, Any]:
    return {kind: values[name] for kind, values in POLICY_PRESETS.items() if name in values}


def _s(
    name: str, type_: OptionType, default: Any, label: Promise, help_: Promise, group: Group, **kw: Any
) -> OptionSpec:
    return OptionSpec(name, type_, default, label, help_, group, **kw)


B, INT, N, T, C, L = (OptionType.BOOL, OptionType.INT, OptionType.NUMBER, OptionType.TEXT,
                      OptionType.CHOICE, OptionType.LIST)  # fmt: skip
M, IL, DL = OptionType.MAPPING, OptionType.INT_LIST, OptionType.DATE_LIST

_CANONICAL_STATUSES = (
    "pending_payment", "payment_review", "paid", "preparing", "invoiced", "ready_to_ship", "shipped",
    "in_transit", "delivered",
)  # fmt: skip

GENERAL: tuple[OptionSpec, ...] = (
    # --- connection ------------------------------------------------------------------------------
    _s("timeout_seconds", N, 10, _("Tempo limite por chamada (segundos)"),
       _("Quanto o conector espera a resposta do sistema (a conexão, no máximo 5 s). Em branco: 10 s."),
       Group.CONNECTION, needs=CONNECTED, minimum=1, maximum=120, nullable=True),
    _s("rate_limits", M, {}, _("Limites de requisições por segundo"),
       _('Objeto JSON `{"classe": requisições por segundo}`, somado aos limites do conector (SkyHub: '
         '`{"orders_get": 1, "write": 9}`); `0` ou `null` tira o limite da classe. Valem para todos os '
         "workers."),
       Group.CONNECTION, needs=CONNECTED, value_type=ValueType.RATE),
    _s("answer_before_reading", B, False, _("Responder ao aviso antes de ler o pedido"),
       _("O webhook responde na hora e o pedido é lido em seguida (o Mercado Livre exige resposta em "
         "até 500 ms). Desligado: o pedido é lido antes da resposta."),
       Group.CONNECTION, needs="parse_webhook", kind_defaults={"mercadolivre": True}),
    _s("poll", B, True, _("Consultar o canal periodicamente"),
       _("Busca mudanças a cada intervalo de consulta, como reserva para webhooks perdidos (filas e "
         "feeds dependem disso)."),
       Group.CONNECTION, needs="pull_changes"),
    # --- rules -----------------------------------------------------------------------------------
    _s("push_stock", B, True, _("Enviar o estoque ao canal"),
       _("Mantém o estoque do canal igual ao disponível no Malote (físico − reservado) a cada movimento."),
       Group.RULES, roles=SALES, needs="push_stock"),
    _s("detect_regressions", B, POLICY_DEFAULTS["detect_regressions"],
       _("Tratar status que volta atrás como divergência"),
       _("Um status anterior informado depois de um mais adiantado é uma mudança feita à mão no canal: "
         "vira divergência em vez de ser ignorado. Exige a hora do próprio sistema (a Jumpseller não "
         "envia)."),
       Group.RULES, roles=LINKED, needs=CONNECTED, kind_defaults=_policy_kind_defaults("detect_regressions")),
    _s("invoice_needs_xml_marketplaces", L, POLICY_DEFAULTS["invoice_needs_xml_marketplaces"],
       _("NF-e só como XML, para estes sub-canais"),
       _("Marketplaces (um por linha) cujos pedidos só recebem a NF-e como XML autorizado."),
       Group.RULES, roles=SALES, kind_defaults=_policy_kind_defaults("invoice_needs_xml_marketplaces")),
    _s("invoice_after_shipment_marketplaces", L, POLICY_DEFAULTS["invoice_after_shipment_marketplaces"],
       _("NF-e só depois do envio, para estes sub-canais"),
       _("Marketplaces (um por linha) cuja NF-e fica retida até o envio. Lista vazia desliga a regra."),
       Group.RULES, roles=SALES, kind_defaults=_policy_kind_defaults("invoice_after_shipment_marketplaces")),
    _s("invoice_at_once_shipping_methods", L, POLICY_DEFAULTS["invoice_at_once_shipping_methods"],
       _("NF-e na hora, para estas formas de envio (exceção)"),
       _("Formas de envio (uma por linha) cuja NF-e segue na hora mesmo quando o sub-canal espera o envio."),
       Group.RULES, roles=SALES, kind_defaults=_policy_kind_defaults("invoice_at_once_shipping_methods")),
    _s("delivery_from_channel_methods", L, POLICY_DEFAULTS["delivery_from_channel_methods"],
       _("Entrega informada pelo canal, para estas formas de envio"),
       _("Formas de envio (uma por linha) da logística do marketplace: ele informa a entrega e o Malote "
         "não a envia."),
       Group.RULES, roles=SALES, kind_defaults=_policy_kind_defaults("delivery_from_channel_methods")),
    # --- reconciliation --------------------------------------------------------------------------
    _s("reconcile", B, True, _("Conferir pedidos faltando"),
       _("Compara periodicamente a lista de pedidos do canal com a do Malote."),
       Group.RECONCILE, needs="list_orders"),
    _s("reconcile_interval_seconds", INT, 900, _("Intervalo da conferência (segundos)"),
       _("De quanto em quanto tempo a conferência roda."),
       Group.RECONCILE, needs="list_orders", minimum=60, maximum=86400),
    _s("reconcile_lookback_hours", N, 72, _("Janela da conferência (horas)"),
       _("Até quanto tempo atrás a conferência olha (nunca antes do início da integração)."),
       Group.RECONCILE, needs="list_orders", minimum=1, maximum=24 * 90),
    _s("integration_grace_minutes", N, 30, _("Carência antes de apontar pedido faltando (minutos)"),
       _("Pedidos mais recentes que isso ainda podem estar a caminho e não são apontados."),
       Group.RECONCILE, needs="list_orders", minimum=0, maximum=24 * 60),
    _s("auto_repair", B, True, _("Corrigir automaticamente"),
       _("Importa o pedido que faltou no Malote ou reenvia ao ERP, uma vez; desligado, só aponta o "
         "problema."),
       Group.RECONCILE, needs="list_orders"),
    _s("report_unknown_in_erp", B, True, _("Apontar pedidos do ERP que o Malote não conhece"),
       _("Um pedido no ERP sem pedido no Malote vira um problema para investigar (desligue se o ERP "
         "também recebe vendas de balcão)."),
       Group.RECONCILE, roles=ERP, needs="list_orders"),
    _s("status_refresh", B, True, _("Reler pedidos cujo status mudou no canal"),
       _("Na conferência, pedidos com status diferente no canal são relidos e aplicados."),
       Group.RECONCILE, needs="fetch_order"),
    _s("status_refresh_max_per_run", INT, 200, _("Máximo de releituras por conferência"),
       _("Limita as releituras de uma rodada; o resto fica para a próxima."),
       Group.RECONCILE, needs="fetch_order", minimum=0, maximum=10000),
    _s("divergence_grace_minutes", N, 60, _("Carência para divergência de status (minutos)"),
       _("Quanto esperar, após a última mudança, antes de apontar status diferente do esperado no canal."),
       Group.RECONCILE, roles=LINKED, needs=CONNECTED, minimum=0, maximum=7 * 24 * 60),
    _s("divergence_window_days", N, 30, _("Janela da divergência de status (dias)"),
       _("Só pedidos ou vínculos alterados nesses dias são comparados."),
       Group.RECONCILE, roles=LINKED, needs=CONNECTED, minimum=1, maximum=365),
    _s("stuck_paid_business_days", INT, 2, _("Pago sem NF-e: alerta após (dias úteis)"),
       _("Pedido pago, em separação ou sem estoque há mais dias úteis que isso vira problema “parado”."),
       Group.UNPAID, roles=SALES, minimum=1, maximum=60),
    _s("stuck_invoiced_hours", N, 48, _("Faturado sem envio: alerta após (horas)"),
       _("Pedido faturado ou pronto para envio há mais tempo que isso vira problema “parado”."),
       Group.UNPAID, roles=SALES, minimum=1, maximum=24 * 60),
    _s("stuck_shipped_days", N, 15, _("Enviado sem entrega: alerta após (dias)"),
       _("Pedido enviado, em trânsito ou com falha de entrega há mais tempo que isso vira problema "
         "“parado”."),
       Group.UNPAID, roles=SALES, minimum=1, maximum=120),
    # --- unpaid ----------------------------------------------------------------------------------
    _s("auto_cancel_unpaid", B, True, _("Cancelar pedidos não pagos no prazo"),
       _("Passado o prazo (e confirmado no gateway), o pedido é cancelado em todos os sistemas; "
         "desligado, só fica vencido e um problema é aberto."),
       Group.UNPAID, roles=SALES),
    _s("boleto_cancel_business_days", INT, 3, _("Boleto: cancelar após o vencimento (dias úteis)"),
       _("Dias úteis completos depois do vencimento (vencimento em fim de semana ou feriado passa ao dia "
         "útil seguinte)."),
       Group.UNPAID, roles=SALES, minimum=0, maximum=30),
    _s("pix_cancel_after_minutes", N, 0, _("Pix: cancelar após a expiração (minutos)"),
       _("Minutos depois da expiração do Pix; 0 cancela assim que expira."),
       Group.UNPAID, roles=SALES, minimum=0, maximum=7 * 24 * 60),
    _s("card_cancel_after_days", N, 5, _("Cartão não capturado: cancelar após (dias)"),
       _("Dias depois do pedido para uma autorização de cartão que nunca foi capturada."),
       Group.UNPAID, roles=SALES, minimum=0, maximum=30),
    _s("cancel_without_gateway_check", B, False, _("Cancelar sem confirmar no gateway"),
       _("Quando não há como consultar o gateway (sem transação ou sem canal de gateway), cancela mesmo "
         "assim; desligado, abre um problema para alguém olhar."),
       Group.UNPAID, roles=SALES),
    _s("extra_holidays", DL, [], _("Feriados extras"),
       _("Datas (dd/mm/aaaa, uma por linha) que não são dias úteis além dos feriados nacionais, como "
         "feriados estaduais e municipais."),
       Group.UNPAID, roles=SALES),
    # --- help desk -------------------------------------------------------------------------------
    _s("repair_by_helpdesk", B, False, _("Corrigir por chamado no help desk"),
       _("Um pedido que falta neste sistema é corrigido por uma pessoa, com um chamado no help desk, em "
         "vez de ser reenviado automaticamente (a “conversa paralela” no Zendesk)."),
       Group.HELPDESK, roles=LINKED, needs="list_orders"),
    _s("helpdesk_channel", T, "", _("Help desk dos chamados"),
       _("Código do canal de help desk que recebe o chamado. Em branco: o primeiro help desk ativo."),
       Group.HELPDESK, roles=LINKED, needs="list_orders", nullable=True),
    _s("helpdesk_group", T, "Financeiro E-Commerce Integração de Pedidos", _("Grupo do chamado"),
       _("Grupo do help desk ao qual o chamado é atribuído."),
       Group.HELPDESK, roles=LINKED, needs="list_orders"),
    _s("helpdesk_template", T, HELPDESK_TEMPLATE, _("Assunto do chamado"),
       _("Campos: `{store_number}` (número do pedido na loja, com o marketplace quando houver), "
         "`{number}` (número no Malote), `{external_id}` (id do pedido no canal de venda), "
         "`{marketplace}`."),
       Group.HELPDESK, roles=LINKED, needs="list_orders", placeholders=TICKET_FIELDS),
    _s("ticket_done_statuses", L, ["solved", "closed"], _("Status de chamado concluído"),
       _("Status do help desk (um por linha) que indicam chamado concluído: o problema volta à fila até "
         "a conferência encontrar o pedido."),
       Group.HELPDESK, roles=LINKED, needs="list_orders"),
    # --- stalled channel -------------------------------------------------------------------------
    _s("stall_check", B, True, _("Avisar quando o canal parar"),
       _("Abre um problema “canal parado” quando as credenciais são recusadas, a rotina não roda ou os "
         "pedidos param de chegar."),
       Group.STALL, needs=CONNECTED),
    _s("stall_auth_window_hours", N, 24, _("Credenciais recusadas: janela (horas)"),
       _("Uma recusa (401/403) nessa janela, sem sucesso depois, indica credenciais a renovar."),
       Group.STALL, needs=CONNECTED, minimum=1, maximum=24 * 30),
    _s("stall_schedule_factor", N, 3, _("Rotina parada: fator do intervalo"),
       _("A rotina do canal que não roda há mais que esse número de intervalos (e 15 minutos) está parada."),
       Group.STALL, needs=CONNECTED, minimum=1, maximum=100),
    _s("stall_min_silence_hours", N, 6, _("Sem pedidos: silêncio mínimo (horas)"),
       _("Nunca aponta falta de pedidos antes desse silêncio."),
       Group.STALL, roles=SALES, needs=CONNECTED, minimum=1, maximum=24 * 30),
    _s("stall_gap_factor", N, 4, _("Sem pedidos: fator do maior intervalo"),
       _("Silêncio maior que esse fator vezes o maior intervalo entre pedidos do histórico é suspeito."),
       Group.STALL, roles=SALES, needs=CONNECTED, minimum=1, maximum=100),
    _s("stall_history_days", N, 14, _("Sem pedidos: histórico (dias)"),
       _("Dias de pedidos usados para medir os intervalos normais."),
       Group.STALL, roles=SALES, needs=CONNECTED, minimum=1, maximum=365),
    _s("stall_min_orders", INT, 10, _("Sem pedidos: mínimo de pedidos no histórico"),
       _("Com menos pedidos que isso no histórico, a regra de silêncio não se aplica."),
       Group.STALL, roles=SALES, needs=CONNECTED, minimum=1, maximum=100000),
)  # fmt: skip


def _k(*kinds: str) -> frozenset[str]:
    return frozenset(kinds)


_POLL_WINDOWS = (
    _s("poll_lookback_hours", N, 24, _("Primeira consulta: janela (horas)"),
       _("Até quanto tempo atrás a primeira consulta busca mudanças."),
       Group.CONNECTOR, kinds=_k("tiny", "bling"), minimum=1, maximum=24 * 30),
    _s("poll_overlap_seconds", N, 60, _("Sobreposição entre consultas (segundos)"),
       _("Cada consulta relê esse tempo antes da anterior, para não perder mudanças no limite."),
       Group.CONNECTOR, kinds=_k("tiny", "bling"), minimum=0, maximum=3600),
)  # fmt: skip

CONNECTOR_SPECIFIC: tuple[OptionSpec, ...] = (
    *_POLL_WINDOWS,
    _s("formas_pagamento", M, {}, _("Formas de pagamento"),
       _("Objeto JSON: forma de pagamento do Malote (`pix`, `boleto`, `credit_card`…) → palavra da "
         "`forma_pagamento` no Tiny, somado ao padrão do conector."),
       Group.CONNECTOR, kinds=_k("tiny")),
    _s("formas_pagamento", M, {}, _("Formas de pagamento (ids)"),
       _("Objeto JSON: forma de pagamento do Malote (`pix`, `boleto`, `credit_card`…) → id da forma de "
         "pagamento no Bling (cada conta tem os seus)."),
       Group.CONNECTOR, kinds=_k("bling"), value_type=ValueType.INT),
    # Tiny
    _s("incluir_envelope", C, "pedido", _("Envelope do pedido na criação"),
       _('`pedidos` envia o corpo como `{"pedidos": [{"pedido": …}]}`; `pedido`, como `{"pedido": …}`.'),
       Group.CONNECTOR, kinds=_k("tiny"), choices=(("pedido", "pedido"), ("pedidos", "pedidos"))),
    _s("service_suffix", T, ".php", _("Sufixo dos serviços"),
       _("Acrescentado ao nome de cada serviço da API do Tiny."), Group.CONNECTOR, kinds=_k("tiny")),
    _s("nfe_service", T, "gerar.nota.fiscal.pedido", _("Serviço que gera a NF-e"),
       _("Serviço chamado quando o operador pede a emissão da nota."), Group.CONNECTOR, kinds=_k("tiny")),
    _s("nfe_get_service", T, "nota.fiscal.obter", _("Serviço que lê a NF-e"),
       _("Serviço que lê uma nota fiscal."), Group.CONNECTOR, kinds=_k("tiny")),
    _s("nfe_xml_service", T, "nota.fiscal.obter.xml", _("Serviço que lê o XML da NF-e"),
       _("Serviço que devolve o XML da nota; vazio nunca busca o XML."), Group.CONNECTOR, kinds=_k("tiny")),
    _s("not_found_codes", IL, [32], _("Códigos de “não encontrado”"),
       _("Valores de `codigo_erro` (um por linha) que significam registro inexistente."),
       Group.CONNECTOR, kinds=_k("tiny")),
    # Bling
    _s("numero_loja", C, "number", _("Número da loja enviado ao Bling"),
       _("O que vai em `numeroLoja`: o número do Malote ou o id do pedido no canal de venda."),
       Group.CONNECTOR, kinds=_k("bling"),
       choices=(("number", _("Número do Malote")), ("external_id", _("Id do pedido no canal de venda")))),
    _s("send_situacao", B, True, _("Enviar a situação na criação"),
       _("Envia a situação correspondente ao status do pedido ao criá-lo no Bling."),
       Group.CONNECTOR, kinds=_k("bling")),
    _s("loja_id", INT, None, _("Id da loja no Bling"),
       _("Vincula os pedidos criados a uma loja do Bling. Em branco: nenhuma."),
       Group.CONNECTOR, kinds=_k("bling"), minimum=1, nullable=True),
    _s("generate_nfe_on", C, "", _("Pedir a NF-e ao Bling no status"),
       _("Status do Malote em que o Bling é chamado para emitir a NF-e. Em branco: nunca."),
       Group.CONNECTOR, kinds=_k("bling"), nullable=True,
       choices=tuple((status, status) for status in _CANONICAL_STATUSES)),
    _s("nfe_authorized_situacoes", IL, [5, 6], _("Situações de NF-e autorizada"),
       _("Valores de situação da NF-e no Bling (um por linha) que contam como autorizada."),
       Group.CONNECTOR, kinds=_k("bling")),
    _s("fetch_nfe_xml", B, True, _("Baixar o XML da NF-e"), _("Baixa o XML pelo link que o Bling informa."),
       Group.CONNECTOR, kinds=_k("bling")),
    _s("page_size", INT, 100, _("Tamanho da página na listagem"),
       _("Pedidos por página ao listar (até 100)."),
       Group.CONNECTOR, kinds=_k("bling"), minimum=1, maximum=100),
    _s("token_url", T, "", _("Endereço do token OAuth"),
       _("Em branco: `<URL base>/oauth/token`."), Group.CONNECTOR, kinds=_k("bling"), nullable=True),
    _s("vendas_module_id", T, "", _("Id do módulo Vendas"),
       _("Em branco: consultado no Bling."), Group.CONNECTOR, kinds=_k("bling"), nullable=True),
    # Jumpseller
    _s("pull_after_id", INT, None, _("Importar pedidos depois do id"),
       _("Importa todos os pedidos da loja com id maior que este. Em branco: o histórico anterior ao "
         "início da integração não é importado."),
       Group.CONNECTOR, kinds=_k("jumpseller"), minimum=0, nullable=True),
    _s("invoice_url_template", T, "https://malote.invalid/nfe/{key}", _("Link do documento da NF-e"),
       _("Endereço da NF-e enviado à loja; campos `{key}`, `{number}`, `{series}`, `{order}`. Troque o "
         "padrão, que é só um marcador."),
       Group.CONNECTOR, kinds=_k("jumpseller"), placeholders=INVOICE_URL_FIELDS),
    # VTEX
    _s("account", T, "", _("Conta VTEX"),
       _("Monta a URL da API; quando preenchida, o aviso deve vir desta conta."),
       Group.CONNECTOR, kinds=_k("vtex"), nullable=True),
    _s("environment", T, "vtexcommercestable", _("Ambiente VTEX"),
       _("Parte do endereço montado a partir da conta."), Group.CONNECTOR, kinds=_k("vtex")),
    _s("hook_secret_header", T, "X-Malote-Hook-Secret", _("Cabeçalho do segredo do hook"),
       _("Cabeçalho em que o hook traz o segredo compartilhado."), Group.CONNECTOR, kinds=_k("vtex")),
    _s("feed_max_lot", INT, 10, _("Itens do feed por leitura"), _("De 1 a 10."),
       Group.CONNECTOR, kinds=_k("vtex"), minimum=1, maximum=10),
    _s("send_invoice_xml", B, True, _("Enviar o XML junto com a NF-e"), _("Inclui o XML da nota no envio."),
       Group.CONNECTOR, kinds=_k("vtex")),
    _s("invoice_url_template", T, "", _("Link da NF-e"),
       _("Endereço da nota enviado à VTEX; campos `{key}`, `{number}`, `{series}`, `{order}`. Em branco: "
         "nenhum."),
       Group.CONNECTOR, kinds=_k("vtex"), nullable=True, placeholders=INVOICE_URL_FIELDS),
    _s("affiliates", M, {}, _("Afiliados"),
       _('Objeto JSON: id do afiliado → nome do marketplace, ex.: `{"MGZ": "Magazine Luiza"}`.'),
       Group.CONNECTOR, kinds=_k("vtex")),
    # Mercado Livre
    _s("user_id", T, "", _("Id do vendedor"),
       _("Usado quando as credenciais não trazem `user_id`."), Group.CONNECTOR, kinds=_k("mercadolivre"),
       nullable=True),
    _s("pull_since", T, "", _("Importar pedidos desde"),
       _("Data e hora ISO (`aaaa-mm-ddThh:mm-03:00`) de onde a consulta começa. Em branco: 15 minutos "
         "antes da criação do canal."),
       Group.CONNECTOR, kinds=_k("mercadolivre"), nullable=True),
    _s("shipping_method_names", M, {}, _("Nomes das formas de envio"),
       _('Objeto JSON: `"modo:tipo logístico"` ou `"modo"` → nome, somado ao padrão (ex.: '
         '`{"me2:self_service": "Mercado Envios Flex"}`).'),
       Group.CONNECTOR, kinds=_k("mercadolivre")),
    _s("me1_service_id", INT, 11, _("service_id do ME1"),
       _("Usado nas chamadas de rastreio do Mercado Envios 1."),
       Group.CONNECTOR, kinds=_k("mercadolivre"), minimum=1),
    # SkyHub
    _s("per_page", INT, 30, _("Tamanho da página na listagem"), _("Pedidos por página ao listar."),
       Group.CONNECTOR, kinds=_k("skyhub"), minimum=1, maximum=100),
    _s("sale_system", T, "", _("Filtro de marketplace na listagem"),
       _("Só lista pedidos deste `sale_system`. Em branco: todos."), Group.CONNECTOR, kinds=_k("skyhub"),
       nullable=True),
    _s("list_statuses", L, [], _("Filtro de status na listagem"),
       _("Códigos de status (um por linha) a listar. Vazio: todos."), Group.CONNECTOR, kinds=_k("skyhub")),
    _s("payment_methods", M, {}, _("Formas de pagamento"),
       _("Objeto JSON: palavra da SkyHub → forma de pagamento do Malote, somado ao padrão."),
       Group.CONNECTOR, kinds=_k("skyhub")),
    _s("carrier_names", M, {}, _("Nomes das transportadoras"),
       _("Objeto JSON: transportadora do Malote → nome na SkyHub, somado ao padrão."),
       Group.CONNECTOR, kinds=_k("skyhub")),
    _s("xml_invoice_shipping_methods", L, ["B2W Entregas Direct"], _("Formas de envio com NF-e em XML"),
       _("Formas de envio (uma por linha) cuja nota vai como XML."), Group.CONNECTOR, kinds=_k("skyhub")),
    _s("exception_observation", T, "Problema na entrega do pedido {number} informado pelo vendedor.",
       _("Texto da exceção de entrega"), _("Observação enviada com a exceção de entrega; campo `{number}`."),
       Group.CONNECTOR, kinds=_k("skyhub"), placeholders=frozenset({"number"})),
    _s("invoice_volume_qty", INT, None, _("Volumes da NF-e"),
       _("Envia `invoice.volume_qty` com este valor. Em branco: não envia."), Group.CONNECTOR,
       kinds=_k("skyhub"), minimum=1, nullable=True),
    _s("stock_resources", L, ["variations", "products"], _("Onde gravar o estoque"),
       _("Recursos da SkyHub (`variations`, `products`), um por linha, na ordem de tentativa."),
       Group.CONNECTOR, kinds=_k("skyhub")),
    # Pagar.me and Adyen
    _s("webhook_signature", C, "rs256", _("Assinatura dos webhooks"),
       _("Como os webhooks são verificados; “nenhuma” só no ambiente de testes."), Group.CONNECTOR,
       kinds=_k("pagarme"),
       choices=(("rs256", "RS256"), ("hmac-sha256", "HMAC-SHA256"), ("none", _("nenhuma")))),
    _s("jwks_url", T, "https://hubapi.pagar.me/.well-known/jwks.json", _("Chaves públicas (JWKS)"),
       _("Endereço das chaves que verificam a assinatura RS256."), Group.CONNECTOR, kinds=_k("pagarme")),
    _s("refund_paid", B, True, _("Estornar cobrança paga ao cancelar"),
       _("Desligado: uma cobrança já paga fica para o operador estornar."), Group.CONNECTOR,
       kinds=_k("pagarme")),
    _s("list_page_size", INT, 100, _("Tamanho da página na listagem"), _("Cobranças por página (até 100)."),
       Group.CONNECTOR, kinds=_k("pagarme"), minimum=1, maximum=100),
    _s("cancel_reasons", M, {}, _("Motivos de cancelamento"),
       _("Objeto JSON: evento ou status do gateway → motivo de cancelamento do Malote, somado ao padrão."),
       Group.CONNECTOR, kinds=_k("pagarme", "adyen")),
    _s("webhook_signature", C, "hmac", _("Assinatura dos webhooks"),
       _("Como os webhooks são verificados; “nenhuma” só no ambiente de testes."), Group.CONNECTOR,
       kinds=_k("adyen"), choices=(("hmac", "HMAC"), ("none", _("nenhuma")))),
    _s("merchant_account", T, "", _("Conta do estabelecimento na Adyen"), _("Obrigatória para cancelar."),
       Group.CONNECTOR, kinds=_k("adyen"), nullable=True),
    _s("cancel_with", C, "reversals", _("Cancelar com"),
       _("`reversals` cancela ou estorna conforme o caso; `cancels` só cancela autorizações."),
       Group.CONNECTOR, kinds=_k("adyen"), choices=(("reversals", "reversals"), ("cancels", "cancels"))),
    # Zendesk
    _s("group", T, "Financeiro E-Commerce Integração de Pedidos", _("Grupo padrão dos chamados"),
       _("Grupo usado quando o pedido do chamado não diz outro."), Group.CONNECTOR, kinds=_k("zendesk")),
    _s("group_id", INT, None, _("Id do grupo"), _("Id do grupo padrão (evita consultá-lo)."),
       Group.CONNECTOR, kinds=_k("zendesk"), minimum=1, nullable=True),
    _s("tags", L, ["malote"], _("Etiquetas dos chamados"), _("Uma por linha."), Group.CONNECTOR,
       kinds=_k("zendesk")),
)  # fmt: skip

SPECS: tuple[OptionSpec, ...] = GENERAL + CONNECTOR_SPECIFIC


def names() -> frozenset[str]:
    """Every option name that has a spec (for some channel)."""
    return frozenset(spec.name for spec in SPECS)


def applicable(role: str, kind: str, capabilities: Iterable[str]) -> list[OptionSpec]:
    """The specs of a channel with this role, kind and connector capabilities, in display order."""
    caps = frozenset(capabilities)
    return [spec for spec in SPECS if spec.applies(role, kind, caps)]
