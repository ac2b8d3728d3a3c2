"""The e-mails Malote ships with: pt-BR (the default) and English.

The data migration seeds ``EmailTemplate`` rows from these in the installation's language; the
sender falls back to them when a row is missing. Texts are Django templates rendered with the
context of :func:`malote.notify.rendering.build_context`, sent as plain text.

Every e-mail names the order as the customer knows it, the store's number with Malote's beside it
(``order_reference``: "10016 (M0000070)"); money comes formatted (``R$ 1.234,56``) and times as
``dd/mm/aaaa hh:mm`` in the local zone.
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


def defaults_for(language: str | None = None) -> dict[str, EmailText]:
    """English texts when the language (default ``settings.LANGUAGE_CODE``) is English, else pt-BR."""
    language = (language or settings.LANGUAGE_CODE).lower()
    return EN if language.startswith("en") else PT_BR


def default_for(status: str, language: str | None = None) -> EmailText:
    return defaults_for(language)[status]
