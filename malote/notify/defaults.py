"""The e-mails Malote ships with: pt-BR (the default) and English.

The data migration seeds ``EmailTemplate`` rows from these in the installation's language; the
sender falls back to them when a row is missing. Texts are Django templates rendered with the
context of :func:`malote.notify.rendering.build_context`, sent as plain text.
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
        "Recebemos o seu pedido {{ number }}",
        "Olá, {{ first_name }}!\n\n"
        'Recebemos o seu pedido {{ number }}, feito em {{ placed_at|date:"d/m/Y" }}. '
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
        "Pagamento aprovado: pedido {{ number }}",
        "Olá, {{ first_name }}!\n\n"
        "O pagamento do seu pedido {{ number }} ({{ total }}) foi aprovado. "
        "Agora vamos separar os seus produtos e emitir a nota fiscal.\n" + _SIGNATURE,
    ),
    "invoiced": EmailText(
        "Nota fiscal emitida: pedido {{ number }}",
        "Olá, {{ first_name }}!\n\n"
        "A nota fiscal do seu pedido {{ number }} foi emitida.\n"
        "{% if invoice %}\nNF-e nº {{ invoice.number }}, série {{ invoice.series }}\n"
        "Chave de acesso: {{ invoice.key_formatted }}\n{% endif %}\n"
        "Em breve o pedido será enviado.\n" + _SIGNATURE,
    ),
    "shipped": EmailText(
        "Seu pedido {{ number }} foi enviado",
        "Olá, {{ first_name }}!\n\n"
        "O seu pedido {{ number }} foi enviado.\n"
        "{% if shipment %}\n"
        "Transportadora: {{ shipment.carrier_label }}"
        "{% if shipment.method %} ({{ shipment.method }}){% endif %}\n"
        "Código de rastreio: {{ shipment.tracking_code }}\n"
        "{% if tracking_url %}Acompanhe a entrega: {{ tracking_url }}\n{% endif %}"
        "{% endif %}" + _SIGNATURE,
    ),
    "delivered": EmailText(
        "Pedido {{ number }} entregue",
        "Olá, {{ first_name }}!\n\n"
        "O seu pedido {{ number }} foi entregue"
        '{% if shipment.delivered_at %} em {{ shipment.delivered_at|date:"d/m/Y" }}{% endif %}. '
        "Esperamos que você goste!\n\n"
        "Se algo não estiver certo, é só responder a este e-mail.\n" + _SIGNATURE,
    ),
    "canceled": EmailText(
        "Pedido {{ number }} cancelado",
        "Olá, {{ first_name }}!\n\n"
        "O seu pedido {{ number }} foi cancelado.\n"
        "{% if cancel_reason_label %}Motivo: {{ cancel_reason_label }}\n{% endif %}\n"
        "Se tiver alguma dúvida, é só responder a este e-mail.\n" + _SIGNATURE,
    ),
    "payment_overdue": EmailText(
        "Pagamento do pedido {{ number }} vencido",
        "Olá, {{ first_name }}!\n\n"
        "Não recebemos a confirmação do pagamento do seu pedido {{ number }} ({{ total }})"
        '{% if payment.due_date %}, com vencimento em {{ payment.due_date|date:"d/m/Y" }}{% endif %}.\n\n'
        "Se você já pagou, desconsidere este aviso: a confirmação pode levar alguns dias úteis. "
        "Caso contrário, o pedido poderá ser cancelado.\n" + _SIGNATURE,
    ),
}

EN: dict[str, EmailText] = {
    "received": EmailText(
        "We received your order {{ number }}",
        "Hello {{ first_name }},\n\n"
        'We received your order {{ number }}, placed on {{ placed_at|date:"Y-m-d" }}. Thank you!\n\n'
        "Items:\n"
        "{% for line in lines %}- {{ line.quantity }} × {{ line.name }}: {{ line.total }}\n{% endfor %}\n"
        "Subtotal: {{ subtotal }}\n"
        "Shipping{% if shipping_method %} ({{ shipping_method }}){% endif %}: {{ shipping_price }}\n"
        "{% if has_discount %}Discount: -{{ discount }}\n{% endif %}"
        "Total: {{ total }}\n\n"
        "We will e-mail you at each step: payment, invoice, shipping and delivery.\n" + _SIGNATURE,
    ),
    "paid": EmailText(
        "Payment approved: order {{ number }}",
        "Hello {{ first_name }},\n\n"
        "The payment for your order {{ number }} ({{ total }}) was approved. "
        "We are now picking your items and issuing the invoice.\n" + _SIGNATURE,
    ),
    "invoiced": EmailText(
        "Invoice issued: order {{ number }}",
        "Hello {{ first_name }},\n\n"
        "The invoice (NF-e) for your order {{ number }} was issued.\n"
        "{% if invoice %}\nNF-e no. {{ invoice.number }}, series {{ invoice.series }}\n"
        "Access key: {{ invoice.key_formatted }}\n{% endif %}\n"
        "Your order will ship soon.\n" + _SIGNATURE,
    ),
    "shipped": EmailText(
        "Your order {{ number }} has shipped",
        "Hello {{ first_name }},\n\n"
        "Your order {{ number }} has shipped.\n"
        "{% if shipment %}\n"
        "Carrier: {{ shipment.carrier_label }}{% if shipment.method %} ({{ shipment.method }}){% endif %}\n"
        "Tracking code: {{ shipment.tracking_code }}\n"
        "{% if tracking_url %}Track it: {{ tracking_url }}\n{% endif %}"
        "{% endif %}" + _SIGNATURE,
    ),
    "delivered": EmailText(
        "Order {{ number }} delivered",
        "Hello {{ first_name }},\n\n"
        "Your order {{ number }} was delivered"
        '{% if shipment.delivered_at %} on {{ shipment.delivered_at|date:"Y-m-d" }}{% endif %}. '
        "We hope you enjoy it!\n\n"
        "If anything is wrong, just reply to this e-mail.\n" + _SIGNATURE,
    ),
    "canceled": EmailText(
        "Order {{ number }} canceled",
        "Hello {{ first_name }},\n\n"
        "Your order {{ number }} was canceled.\n"
        "{% if cancel_reason_label %}Reason: {{ cancel_reason_label }}\n{% endif %}\n"
        "If you have any question, just reply to this e-mail.\n" + _SIGNATURE,
    ),
    "payment_overdue": EmailText(
        "Payment for order {{ number }} overdue",
        "Hello {{ first_name }},\n\n"
        "We have not received the payment for your order {{ number }} ({{ total }})"
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
