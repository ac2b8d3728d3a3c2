"""The e-mails Malote ships with: pt-BR (the default) and English.

The data migration seeds ``EmailTemplate`` rows from these in the installation's language; the
sender falls back to them when a row is missing. Texts are Django templates rendered with the
context of :func:`malote.notify.rendering.build_context`, sent as plain text.

Every e-mail names the order as the customer knows it, the store's number with Malote's beside it
(``order_reference``: "10016 (M0000070)"); money comes formatted (``R$ 1.234,56``) and times as
``dd/mm/aaaa hh:mm`` in the local zone.

A return's e-mails (``RETURN_PT_BR``, ``RETURN_EN``) are rendered with the context of
:func:`malote.notify.rendering.build_return_context`: the order's, plus the return's.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class EmailText:
    subject: str
    body: str
    enabled: bool = True


_SIGNATURE = "\n{{ store_name }}\n"

PT_BR: dict[str, EmailText] = {
    "received": EmailText(
        "Recebemos o seu pedido {{ order_reference }}",
        "Olá, {{ first_name }}!\n\n"
        'Recebemos o seu pedido {{ order_reference }}, feito em {{ placed_at|date:"d/m/Y H:i" }}. '
        "Obrigado pela compra!\n\n"
        "Itens do pedido:\n"
        "{% for line in lines %}- {{ line.quantity }} × {{ line.name }}: {{ line.total }}\n{% endfor %}\n"
        "Subtotal: {{ subtotal }}\n"
        "Frete{% if shipping_method %} ({{ shipping_method }}){% endif %}: {{ shipping_price }}\n"
        "{% if has_discount %}Desconto: -{{ discount }}\n{% endif %}"
        "Total: {{ total }}\n\n"
        "Você receberá um e-mail a cada etapa: pagamento, nota fiscal, envio e entrega.\n" + _SIGNATURE,
    ),
    "paid": EmailText(
        "Pagamento aprovado: pedido {{ order_reference }}",
        "Olá, {{ first_name }}!\n\n"
        "O pagamento do seu pedido {{ order_reference }} ({{ total }}) foi aprovado. "
        "Agora vamos separar os seus produtos e emitir a nota fiscal.\n" + _SIGNATURE,
    ),
    "invoiced": EmailText(
        "Nota fiscal emitida: pedido {{ order_reference }}",
        "Olá, {{ first_name }}!\n\n"
        "A nota fiscal do seu pedido {{ order_reference }} foi emitida.\n"
        "{% if invoice %}\nNF-e nº {{ invoice.number }}, série {{ invoice.series }}\n"
        "Chave de acesso: {{ invoice.key_formatted }}\n{% endif %}\n"
        "Em breve o pedido será enviado.\n" + _SIGNATURE,
    ),
    "shipped": EmailText(
        "Seu pedido {{ order_reference }} foi enviado",
        "Olá, {{ first_name }}!\n\n"
        "O seu pedido {{ order_reference }} foi enviado.\n"
        "{% if shipment %}\n"
        "Transportadora: {{ shipment.carrier_label }}"
        "{% if shipment.method %} ({{ shipment.method }}){% endif %}\n"
        "Código de rastreio: {{ shipment.tracking_code }}\n"
        "{% if tracking_url %}Acompanhe a entrega: {{ tracking_url }}\n{% endif %}"
        "{% endif %}" + _SIGNATURE,
    ),
    "delivered": EmailText(
        "Pedido {{ order_reference }} entregue",
        "Olá, {{ first_name }}!\n\n"
        "O seu pedido {{ order_reference }} foi entregue"
        '{% if shipment.delivered_at %} em {{ shipment.delivered_at|date:"d/m/Y H:i" }}{% endif %}. '
        "Esperamos que você goste!\n\n"
        "Se algo não estiver certo, é só responder a este e-mail.\n" + _SIGNATURE,
    ),
    "canceled": EmailText(
        "Pedido {{ order_reference }} cancelado",
        "Olá, {{ first_name }}!\n\n"
        "O seu pedido {{ order_reference }} foi cancelado.\n"
        "{% if cancel_reason_label %}Motivo: {{ cancel_reason_label }}\n{% endif %}\n"
        "Se tiver alguma dúvida, é só responder a este e-mail.\n" + _SIGNATURE,
    ),
    "payment_overdue": EmailText(
        "Pagamento do pedido {{ order_reference }} vencido",
        "Olá, {{ first_name }}!\n\n"
        "Não recebemos a confirmação do pagamento do seu pedido {{ order_reference }} ({{ total }})"
        '{% if payment.due_date %}, com vencimento em {{ payment.due_date|date:"d/m/Y" }}{% endif %}.\n\n'
        "Se você já pagou, desconsidere este aviso: a confirmação pode levar alguns dias úteis. "
        "Caso contrário, o pedido poderá ser cancelado.\n" + _SIGNATURE,
    ),
}

EN: dict[str, EmailText] = {
    "received": EmailText(
        "We received your order {{ order_reference }}",
        "Hello {{ first_name }},\n\n"
        "We received your order {{ order_reference }}, "
        'placed on {{ placed_at|date:"Y-m-d H:i" }}. Thank you!\n\n'
        "Items:\n"
        "{% for line in lines %}- {{ line.quantity }} × {{ line.name }}: {{ line.total }}\n{% endfor %}\n"
        "Subtotal: {{ subtotal }}\n"
        "Shipping{% if shipping_method %} ({{ shipping_method }}){% endif %}: {{ shipping_price }}\n"
        "{% if has_discount %}Discount: -{{ discount }}\n{% endif %}"
        "Total: {{ total }}\n\n"
        "We will e-mail you at each step: payment, invoice, shipping and delivery.\n" + _SIGNATURE,
    ),
    "paid": EmailText(
        "Payment approved: order {{ order_reference }}",
        "Hello {{ first_name }},\n\n"
        "The payment for your order {{ order_reference }} ({{ total }}) was approved. "
        "We are now picking your items and issuing the invoice.\n" + _SIGNATURE,
    ),
    "invoiced": EmailText(
        "Invoice issued: order {{ order_reference }}",
        "Hello {{ first_name }},\n\n"
        "The invoice (NF-e) for your order {{ order_reference }} was issued.\n"
        "{% if invoice %}\nNF-e no. {{ invoice.number }}, series {{ invoice.series }}\n"
        "Access key: {{ invoice.key_formatted }}\n{% endif %}\n"
        "Your order will ship soon.\n" + _SIGNATURE,
    ),
    "shipped": EmailText(
        "Your order {{ order_reference }} has shipped",
        "Hello {{ first_name }},\n\n"
        "Your order {{ order_reference }} has shipped.\n"
        "{% if shipment %}\n"
        "Carrier: {{ shipment.carrier_label }}{% if shipment.method %} ({{ shipment.method }}){% endif %}\n"
        "Tracking code: {{ shipment.tracking_code }}\n"
        "{% if tracking_url %}Track it: {{ tracking_url }}\n{% endif %}"
        "{% endif %}" + _SIGNATURE,
    ),
    "delivered": EmailText(
        "Order {{ order_reference }} delivered",
        "Hello {{ first_name }},\n\n"
        "Your order {{ order_reference }} was delivered"
        '{% if shipment.delivered_at %} on {{ shipment.delivered_at|date:"Y-m-d H:i" }}{% endif %}. '
        "We hope you enjoy it!\n\n"
        "If anything is wrong, just reply to this e-mail.\n" + _SIGNATURE,
    ),
    "canceled": EmailText(
        "Order {{ order_reference }} canceled",
        "Hello {{ first_name }},\n\n"
        "Your order {{ order_reference }} was canceled.\n"
        "{% if cancel_reason_label %}Reason: {{ cancel_reason_label }}\n{% endif %}\n"
        "If you have any question, just reply to this e-mail.\n" + _SIGNATURE,
    ),
    "payment_overdue": EmailText(
        "Payment for order {{ order_reference }} overdue",
        "Hello {{ first_name }},\n\n"
        "We have not received the payment for your order {{ order_reference }} ({{ total }})"
        '{% if payment.due_date %}, due on {{ payment.due_date|date:"Y-m-d" }}{% endif %}.\n\n'
        "If you have already paid, please ignore this notice: confirmation may take a few business days. "
        "Otherwise the order may be canceled.\n" + _SIGNATURE,
    ),
}


_RETURN_LINES = "{% for line in return_lines %}- {{ line.quantity }} × {{ line.name }}\n{% endfor %}"

RETURN_PT_BR: dict[str, EmailText] = {
    "return_requested": EmailText(
        "Recebemos a sua solicitação de devolução: pedido {{ order_reference }}",
        "Olá, {{ first_name }}!\n\n"
        "Recebemos a sua solicitação de devolução {{ return_number }}, do pedido {{ order_reference }}.\n\n"
        "Itens a devolver:\n" + _RETURN_LINES + "{% if return_reason_label %}"
        "Motivo: {{ return_reason_label }}\n{% endif %}\n"
        "Vamos analisar a solicitação e avisar você por e-mail, com os próximos passos. "
        "Ainda não envie os produtos.\n" + _SIGNATURE,
    ),
    "return_authorized": EmailText(
        "Devolução autorizada: pedido {{ order_reference }}",
        "Olá, {{ first_name }}!\n\n"
        "A sua devolução {{ return_number }}, do pedido {{ order_reference }}, foi autorizada.\n\n"
        "Itens a devolver:\n" + _RETURN_LINES + "\n"
        "Próximos passos:\n"
        "1. Embale os itens, de preferência na embalagem original, com acessórios e manuais.\n"
        "2. Escreva o número da devolução, {{ return_number }}, do lado de fora da embalagem.\n"
        "3. Envie a embalagem para a loja. Se precisar do endereço ou de um código de postagem, "
        "é só responder a este e-mail.\n\n"
        "Quando os itens chegarem, vamos conferi-los e avisar você sobre o reembolso.\n" + _SIGNATURE,
    ),
    "return_refused": EmailText(
        "Devolução não aprovada: pedido {{ order_reference }}",
        "Olá, {{ first_name }}!\n\n"
        "A sua solicitação de devolução {{ return_number }}, do pedido {{ order_reference }}, "
        "não foi aprovada.\n"
        "{% if refusal_reason %}Motivo: {{ refusal_reason }}\n{% endif %}\n"
        "Se tiver alguma dúvida, é só responder a este e-mail.\n" + _SIGNATURE,
    ),
    "return_refunded": EmailText(
        "Reembolso de {{ refunded_amount }} feito: pedido {{ order_reference }}",
        "Olá, {{ first_name }}!\n\n"
        "O reembolso da sua devolução {{ return_number }}, do pedido {{ order_reference }}, foi feito.\n\n"
        "Valor reembolsado: {{ refunded_amount }}\n"
        '{% if refunded_at %}Data: {{ refunded_at|date:"d/m/Y H:i" }}\n{% endif %}\n'
        "O prazo para o valor aparecer depende da forma de pagamento: no cartão de crédito, "
        "pode levar até duas faturas.\n" + _SIGNATURE,
    ),
}

RETURN_EN: dict[str, EmailText] = {
    "return_requested": EmailText(
        "We received your return request: order {{ order_reference }}",
        "Hello {{ first_name }},\n\n"
        "We received your return request {{ return_number }} for order {{ order_reference }}.\n\n"
        "Items to return:\n" + _RETURN_LINES + "{% if return_reason_label %}"
        "Reason: {{ return_reason_label }}\n{% endif %}\n"
        "We will review it and e-mail you with the next steps. Please do not send the items yet.\n"
        + _SIGNATURE,
    ),
    "return_authorized": EmailText(
        "Return authorized: order {{ order_reference }}",
        "Hello {{ first_name }},\n\n"
        "Your return {{ return_number }} for order {{ order_reference }} was authorized.\n\n"
        "Items to return:\n" + _RETURN_LINES + "\n"
        "Next steps:\n"
        "1. Pack the items, preferably in their original packaging, with accessories and manuals.\n"
        "2. Write the return number, {{ return_number }}, on the outside of the package.\n"
        "3. Send the package to the store. If you need the address or a postage code, "
        "just reply to this e-mail.\n\n"
        "When the items arrive, we will check them and let you know about the refund.\n" + _SIGNATURE,
    ),
    "return_refused": EmailText(
        "Return not approved: order {{ order_reference }}",
        "Hello {{ first_name }},\n\n"
        "Your return request {{ return_number }} for order {{ order_reference }} was not approved.\n"
        "{% if refusal_reason %}Reason: {{ refusal_reason }}\n{% endif %}\n"
        "If you have any question, just reply to this e-mail.\n" + _SIGNATURE,
    ),
    "return_refunded": EmailText(
        "Refund of {{ refunded_amount }} made: order {{ order_reference }}",
        "Hello {{ first_name }},\n\n"
        "The refund for your return {{ return_number }} of order {{ order_reference }} was made.\n\n"
        "Amount refunded: {{ refunded_amount }}\n"
        '{% if refunded_at %}Date: {{ refunded_at|date:"Y-m-d H:i" }}\n{% endif %}\n'
        "How soon it shows depends on the payment method: on a credit card it may take up to two "
        "statements.\n" + _SIGNATURE,
    ),
}


def _is_english(language: str | None) -> bool:
    return (language or settings.LANGUAGE_CODE).lower().startswith("en")


def defaults_for(language: str | None = None) -> dict[str, EmailText]:
    """The order statuses' texts: English when the language (default ``settings.LANGUAGE_CODE``)
    is English, else pt-BR."""
    return EN if _is_english(language) else PT_BR


def return_defaults_for(language: str | None = None) -> dict[str, EmailText]:
    """The return steps' texts, in the same language as :func:`defaults_for`."""
    return RETURN_EN if _is_english(language) else RETURN_PT_BR


def default_for(status: str, language: str | None = None) -> EmailText:
    """The shipped text of an order status's or a return step's e-mail."""
    found = defaults_for(language).get(status)
    return found if found is not None else return_defaults_for(language)[status]
