"""Operator-facing texts for the error codes a transition form can show (pt-BR, English in the .po).

The commands and the schemas answer with stable codes and English details meant for machines
(the API); the back office shows the operator a sentence in their language and keeps the code
small beside it. ``DETAILED`` holds the sentences that name the values involved (the check digit
found and the one expected…); ``MESSAGES`` a sentence for every code, used when those values are
not known. An unknown code reads "Valor inválido." — the code still shows which rule it was.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from malote.fiscal.nfe_key import NFE_KEY_LENGTH, compact_nfe_key, nfe_key_check_digit
from malote.fiscal.tracking import s10_check_digit

MESSAGES: dict[str, Promise] = {
    # pydantic's own rules, as the transition schemas apply them
    "missing": _("Preencha este campo."),
    "extra_forbidden": _("Campo não esperado nesta ação."),
    "string_type": _("Informe um texto."),
    "string_too_short": _("Preencha este campo."),
    "string_too_long": _("Texto longo demais."),
    "string_pattern_mismatch": _("Formato inválido."),
    "enum": _("Escolha uma das opções da lista."),
    "literal_error": _("Escolha uma das opções da lista."),
    "datetime_type": _("Data e hora inválidas: use dd/mm/aaaa hh:mm."),
    "datetime_parsing": _("Data e hora inválidas: use dd/mm/aaaa hh:mm."),
    "datetime_from_date_parsing": _("Data e hora inválidas: use dd/mm/aaaa hh:mm."),
    "decimal_parsing": _("Valor inválido: use só números, com vírgula nos centavos (ex.: 49,90)."),
    "decimal_type": _("Valor inválido: use só números, com vírgula nos centavos (ex.: 49,90)."),
    "greater_than_equal": _("O valor não pode ser negativo."),
    "decimal_max_digits": _("Valor grande demais."),
    "decimal_whole_digits": _("Valor grande demais."),
    "decimal_max_places": _("Use no máximo 2 casas decimais."),
    # orders (schemas, commands and effects)
    "nul_character": _("O texto contém um caractere inválido (NUL)."),
    "invalid_datetime": _("Data e hora inválidas: use dd/mm/aaaa hh:mm."),
    "datetime_out_of_range": _("A data deve estar entre 1970 e 2200."),
    "invoice_number_zero": _("O número da NF-e não pode ser zero."),
    "invoice_number_mismatch": _("O número não confere com o da chave de acesso."),
    "invoice_series_mismatch": _("A série não confere com a da chave de acesso."),
    "invoice_issued_at_mismatch": _("A data de emissão não é do mês e ano da chave de acesso."),
    "invoice_key_in_use": _("Esta chave de NF-e já pertence a outro pedido."),
    "nfe_xml_total_mismatch": _("O valor total da NF-e no XML é diferente do total do pedido."),
    "nfe_xml_recipient_mismatch": _("O CPF/CNPJ do destinatário no XML não é o do cliente."),
    "nfe_xml_not_authorized": _(
        "O XML não traz a autorização da SEFAZ (protNFe): envie o arquivo nfeProc autorizado."
    ),
    "insufficient_stock": _("Sem estoque suficiente."),
    "delivered_before_shipped": _("A entrega não pode ser antes do envio."),
    "transition_not_allowed": _("Esta ação não é permitida no status atual do pedido."),
    "transition_conflict": _("Esta ação já foi feita neste pedido com outros dados."),
    "order_not_found": _("Pedido não encontrado."),
    "unknown_transition": _("Ação desconhecida."),
    # NF-e access key (fiscal)
    "nfe_key_length": _("A chave de acesso deve ter 44 dígitos."),
    "nfe_key_format": _("A chave de acesso deve ter só números (e letras na raiz do CNPJ)."),
    "nfe_key_check_digit": _("Dígito verificador da chave inválido."),
    "nfe_key_uf": _("O código de UF da chave não existe."),
    "nfe_key_month": _("O mês de emissão da chave é inválido."),
    "nfe_key_model": _("A chave não é de uma NF-e (modelo 55) nem de uma NFC-e (modelo 65)."),
    "nfe_key_emission_type": _("O tipo de emissão da chave é inválido."),
    "nfe_key_number": _("O número da NF-e na chave não pode ser zero."),
    "nfe_key_emitter": _("O CNPJ/CPF do emitente na chave é inválido."),
    # NF-e XML (fiscal)
    "nfe_xml_empty": _("O XML está vazio."),
    "nfe_xml_doctype": _("O XML não pode ter declaração DOCTYPE."),
    "nfe_xml_malformed": _("O arquivo não é um XML válido."),
    "nfe_xml_root": _("O XML não é de uma NF-e (nfeProc ou NFe)."),
    "nfe_xml_missing_field": _("Falta um campo obrigatório no XML da NF-e."),
    "nfe_xml_invalid_field": _("Um campo do XML da NF-e é inválido."),
    "nfe_xml_invalid_key": _("A chave de acesso dentro do XML é inválida."),
    "nfe_xml_ibscbs_invalid": _("Um valor de IBS/CBS do XML da NF-e não é um número válido."),
    "nfe_xml_referenced_key_invalid": _("A chave da NF-e referenciada nesta devolução é inválida."),
    "nfe_xml_protocol_key_mismatch": _("A chave da autorização (protNFe) não é a da NF-e do XML."),
    "nfe_xml_key_mismatch": _("O XML é de outra NF-e: a chave não é a informada."),
    "nfe_xml_inconsistent": _("Os dados do XML não conferem com a chave de acesso."),
    # NF-e events: cancellation and carta de correção (fiscal, orders)
    "nfe_event_type": _("Escolha cancelamento ou carta de correção."),
    "nfe_event_sequence": _("Número de sequência do evento inválido (cancelamento: 1; correção: 1 a 20)."),
    "nfe_event_protocol": _("O protocolo do evento tem 15 (ou 17) dígitos."),
    "nfe_event_registered_at": _("A data de registro do evento é inválida."),
    "nfe_event_justification_length": _("A justificativa do cancelamento tem de 15 a 255 caracteres."),
    "nfe_event_correction_length": _("O texto da correção tem de 15 a 1000 caracteres."),
    "nfe_event_text_characters": _(
        "Use só letras, números e pontuação comuns, numa linha só (sem travessão “–”)."
    ),
    "nfe_event_before_authorization": _("O evento não pode ser anterior à autorização da NF-e."),
    "nfe_event_cancellation_window": _(
        "Passou o prazo de 24 horas após a autorização: a NF-e não pode mais ser cancelada;"
        " emita uma NF-e de devolução."
    ),
    "nfe_event_xml_root": _("O XML não é de um evento registrado (procEventoNFe)."),
    "nfe_event_xml_missing_field": _("Falta um campo obrigatório no XML do evento."),
    "nfe_event_xml_inconsistent": _("O evento e a resposta da SEFAZ no XML não conferem."),
    "nfe_event_not_registered": _("A SEFAZ não registrou este evento (cStat diferente de 135 e 136)."),
    "invoice_event_key_not_of_order": _("A chave do evento não é de uma NF-e deste pedido."),
    "invoice_event_conflict": _("Já há um evento com este número registrado com outros dados."),
    "invoice_event_xml_and_fields": _("Envie o XML do evento ou preencha os campos, não os dois."),
    "invoice_event_protocol_mismatch": _("O cancelamento cita outro protocolo de autorização que o da NF-e."),
    "invoice_canceled": _("Esta NF-e está cancelada: não aceita outros eventos."),
    "invoice_correction_sequence": _("Já há uma carta de correção mais recente registrada."),
    "nfe_action_required": _("Diga o que acontece com a NF-e: cancelamento na SEFAZ ou NF-e de devolução."),
    "invoice_missing": _("Este pedido não tem nota fiscal."),
    # tracking codes (fiscal)
    "tracking_code_empty": _("Informe o código de rastreio."),
    "tracking_code_format": _("Código de rastreio em formato inválido."),
    "tracking_code_check_digit": _("Dígito verificador do código de rastreio inválido."),
    # the back office's own form rules
    "shipping_service_mismatch": _("Este serviço não é da transportadora escolhida."),
    "stock_negative": _("O estoque não pode ficar negativo."),
    "stock_below_reserved": _("O estoque físico não pode ficar abaixo do reservado."),
    # shipments in parts, further NF-e
    "shipment_line_unknown": _("O pedido não tem esse item."),
    "shipment_line_ambiguous": _("Este SKU está em mais de um item do pedido: indique a posição do item."),
    "shipment_line_repeated": _("Este item foi informado duas vezes."),
    "shipment_quantity_exceeds_remaining": _("A quantidade passa do que resta enviar deste item."),
    "shipment_part_not_allowed": _(
        "Outra parte só pode ser enviada depois do primeiro envio e enquanto o pedido está a caminho."
    ),
    "shipment_part_conflict": _("Este código de rastreio já está registrado em uma parte com outros dados."),
    "shipment_unknown": _("Nenhuma parte deste pedido tem esse código de rastreio."),
    "order_fully_shipped": _("Todas as unidades do pedido já foram enviadas."),
    "order_not_fully_shipped": _(
        "Ainda há unidades deste pedido sem envio: envie-as ou confirme a entrega de uma parte."
    ),
    "invoice_not_allowed": _("O pedido está cancelado: não recebe outra NF-e."),
    # actions on an inbox issue (reconcile)
    "issue_not_found": _("Pendência não encontrada."),
    "issue_closed": _("Esta pendência já foi encerrada."),
    "issue_not_repairable": _("Esta ação não se aplica a esta pendência."),
    "issue_without_subject": _("Esta pendência não indica pedido nem referência."),
    "helpdesk_missing": _("Nenhum canal de atendimento ativo para abrir o chamado."),
    "unknown_action": _("Ação desconhecida."),
    "reason_required": _("Informe o motivo."),
    # divergences and the outbox
    "unknown_resolution": _("Ação desconhecida."),
    "link_not_found": _("Vínculo com o canal não encontrado."),
    "link_not_divergent": _("Este vínculo já não está divergente."),
    "accept_remote_not_allowed": _("O status do outro sistema não pode ser aplicado a este pedido."),
    "message_not_retryable": _("Só mensagens pendentes ou que falharam de vez podem ser reenviadas."),
}

DETAILED: dict[str, Promise] = {
    "string_too_long": _("Texto longo demais: no máximo %(max_length)s caracteres."),
    "nfe_key_length": _("A chave de acesso deve ter 44 dígitos; esta tem %(length)s."),
    "nfe_key_check_digit": _("Dígito verificador da chave inválido: é %(given)s, deveria ser %(expected)s."),
    "nfe_key_uf": _("O código de UF %(uf)s da chave não existe (ex.: 35 é SP)."),
    "nfe_key_month": _("O mês de emissão na chave é %(month)s; deveria ser de 01 a 12."),
    "nfe_key_model": _("A chave é do modelo %(model)s; uma NF-e é modelo 55 (NFC-e: 65)."),
    "nfe_key_emission_type": _("O tipo de emissão na chave é %(emission_type)s; não existe."),
    "invoice_number_mismatch": _("A chave traz a NF-e nº %(key_number)s, não %(given)s."),
    "invoice_series_mismatch": _("A chave traz a série %(key_series)s, não %(given)s."),
    "invoice_issued_at_mismatch": _(
        "A chave foi emitida em %(key_month)s; a data de emissão informada é de %(given)s."
    ),
    "tracking_code_format": _(
        "Código dos Correios inválido: são 2 letras, 9 números e 2 letras (ex.: AA123456785BR)."
    ),
    "tracking_code_check_digit": _(
        "Dígito verificador do código de rastreio inválido: é %(given)s, deveria ser %(expected)s."
    ),
    "delivered_before_shipped": _("A entrega (%(delivered)s) não pode ser antes do envio (%(shipped)s)."),
    "insufficient_stock": _("Sem estoque suficiente para: %(skus)s."),
    "shipping_service_mismatch": _("O serviço %(service)s é de %(owner)s, não de %(carrier)s."),
}
GENERIC = _("Valor inválido.")
ACTION_REFUSED = _("A ação não pôde ser feita agora.")
# "missing" on a list or a choice of options.
CHOOSE = _("Escolha uma das opções.")


def text(code: str, /, **params: Any) -> str:
    """The operator's sentence for ``code``, naming ``params`` when the detailed one can use them."""
    if params and code in DETAILED:
        try:
            return str(DETAILED[code]) % params
        except (KeyError, TypeError, ValueError):
            pass
    return str(MESSAGES.get(code, GENERIC))


def action_text(code: str, /) -> str:
    """The operator's sentence for an action that was refused with ``code`` (never the English detail)."""
    return str(MESSAGES.get(code, ACTION_REFUSED))


def nfe_key_params(code: str, value: str) -> dict[str, Any]:
    """The values a detailed NF-e key message names, read from the key the operator typed."""
    key = compact_nfe_key(value)
    if code == "nfe_key_length":
        return {"length": len(key)}
    if len(key) != NFE_KEY_LENGTH:
        return {}
    found: dict[str, Any] = {
        "nfe_key_uf": {"uf": key[0:2]},
        "nfe_key_month": {"month": key[4:6]},
        "nfe_key_model": {"model": key[20:22]},
        "nfe_key_emission_type": {"emission_type": key[34]},
    }
    if code == "nfe_key_check_digit":
        return {"given": key[43], "expected": nfe_key_check_digit(key[:43])}
    return dict(found.get(code, {}))


def tracking_params(code: str, value: str, *, strict_s10: bool) -> dict[str, Any]:
    """The values a detailed tracking-code message names (Correios' S10 rule only)."""
    text_code = "".join(value.split()).upper()
    if not strict_s10:
        return {}
    if code == "tracking_code_check_digit":
        return {"given": text_code[10], "expected": s10_check_digit(text_code[2:10])}
    if code == "tracking_code_format":
        return {"tracking": text_code}
    return {}
