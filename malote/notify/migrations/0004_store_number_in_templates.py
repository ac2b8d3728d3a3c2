"""E-mail templates still as shipped name the order by the store's number with Malote's beside it
(``{{ order_reference }}``: "10016 (M0000070)") and show the placed and delivery times with the hour.

Only a subject or body still equal to the previous shipped default (pt-BR or English, frozen below)
is rewritten; an operator's edited text is left alone.
"""

from django.db import migrations

REPLACEMENTS = [
    ('{{ number }}', '{{ order_reference }}'),
    ('placed_at|date:"d/m/Y" }}', 'placed_at|date:"d/m/Y H:i" }}'),
    ('placed_at|date:"Y-m-d" }}', 'placed_at|date:"Y-m-d H:i" }}'),
    ('delivered_at|date:"d/m/Y" }}', 'delivered_at|date:"d/m/Y H:i" }}'),
    ('delivered_at|date:"Y-m-d" }}', 'delivered_at|date:"Y-m-d H:i" }}'),
]

# The shipped defaults before this migration: {status: [(subject, body), ...]} (pt-BR, English).
PREVIOUS = {
    'received': [
        ('Recebemos o seu pedido {{ number }}',
         'Olá, {{ first_name }}!\n\nRecebemos o seu pedido {{ number }}, feito em {{ placed_at|date:"d/m/Y" }}. Obrigado pela compra!\n\nItens do pedido:\n{% for line in lines %}- {{ line.quantity }} × {{ line.name }}: {{ line.total }}\n{% endfor %}\nSubtotal: {{ subtotal }}\nFrete{% if shipping_method %} ({{ shipping_method }}){% endif %}: {{ shipping_price }}\n{% if has_discount %}Desconto: -{{ discount }}\n{% endif %}Total: {{ total }}\n\nVocê receberá um e-mail a cada etapa: pagamento, nota fiscal, envio e entrega.\n\n{{ store_name }}\n'),
        ('We received your order {{ number }}',
         'Hello {{ first_name }},\n\nWe received your order {{ number }}, placed on {{ placed_at|date:"Y-m-d" }}. Thank you!\n\nItems:\n{% for line in lines %}- {{ line.quantity }} × {{ line.name }}: {{ line.total }}\n{% endfor %}\nSubtotal: {{ subtotal }}\nShipping{% if shipping_method %} ({{ shipping_method }}){% endif %}: {{ shipping_price }}\n{% if has_discount %}Discount: -{{ discount }}\n{% endif %}Total: {{ total }}\n\nWe will e-mail you at each step: payment, invoice, shipping and delivery.\n\n{{ store_name }}\n'),
    ],
    'paid': [
        ('Pagamento aprovado: pedido {{ number }}',
         'Olá, {{ first_name }}!\n\nO pagamento do seu pedido {{ number }} ({{ total }}) foi aprovado. Agora vamos separar os seus produtos e emitir a nota fiscal.\n\n{{ store_name }}\n'),
        ('Payment approved: order {{ number }}',
         'Hello {{ first_name }},\n\nThe payment for your order {{ number }} ({{ total }}) was approved. We are now picking your items and issuing the invoice.\n\n{{ store_name }}\n'),
    ],
    'invoiced': [
        ('Nota fiscal emitida: pedido {{ number }}',
         'Olá, {{ first_name }}!\n\nA nota fiscal do seu pedido {{ number }} foi emitida.\n{% if invoice %}\nNF-e nº {{ invoice.number }}, série {{ invoice.series }}\nChave de acesso: {{ invoice.key_formatted }}\n{% endif %}\nEm breve o pedido será enviado.\n\n{{ store_name }}\n'),
        ('Invoice issued: order {{ number }}',
         'Hello {{ first_name }},\n\nThe invoice (NF-e) for your order {{ number }} was issued.\n{% if invoice %}\nNF-e no. {{ invoice.number }}, series {{ invoice.series }}\nAccess key: {{ invoice.key_formatted }}\n{% endif %}\nYour order will ship soon.\n\n{{ store_name }}\n'),
    ],
    'shipped': [
        ('Seu pedido {{ number }} foi enviado',
         'Olá, {{ first_name }}!\n\nO seu pedido {{ number }} foi enviado.\n{% if shipment %}\nTransportadora: {{ shipment.carrier_label }}{% if shipment.method %} ({{ shipment.method }}){% endif %}\nCódigo de rastreio: {{ shipment.tracking_code }}\n{% if tracking_url %}Acompanhe a entrega: {{ tracking_url }}\n{% endif %}{% endif %}\n{{ store_name }}\n'),
        ('Your order {{ number }} has shipped',
         'Hello {{ first_name }},\n\nYour order {{ number }} has shipped.\n{% if shipment %}\nCarrier: {{ shipment.carrier_label }}{% if shipment.method %} ({{ shipment.method }}){% endif %}\nTracking code: {{ shipment.tracking_code }}\n{% if tracking_url %}Track it: {{ tracking_url }}\n{% endif %}{% endif %}\n{{ store_name }}\n'),
    ],
    'delivered': [
        ('Pedido {{ number }} entregue',
         'Olá, {{ first_name }}!\n\nO seu pedido {{ number }} foi entregue{% if shipment.delivered_at %} em {{ shipment.delivered_at|date:"d/m/Y" }}{% endif %}. Esperamos que você goste!\n\nSe algo não estiver certo, é só responder a este e-mail.\n\n{{ store_name }}\n'),
        ('Order {{ number }} delivered',
         'Hello {{ first_name }},\n\nYour order {{ number }} was delivered{% if shipment.delivered_at %} on {{ shipment.delivered_at|date:"Y-m-d" }}{% endif %}. We hope you enjoy it!\n\nIf anything is wrong, just reply to this e-mail.\n\n{{ store_name }}\n'),
    ],
    'canceled': [
        ('Pedido {{ number }} cancelado',
         'Olá, {{ first_name }}!\n\nO seu pedido {{ number }} foi cancelado.\n{% if cancel_reason_label %}Motivo: {{ cancel_reason_label }}\n{% endif %}\nSe tiver alguma dúvida, é só responder a este e-mail.\n\n{{ store_name }}\n'),
        ('Order {{ number }} canceled',
         'Hello {{ first_name }},\n\nYour order {{ number }} was canceled.\n{% if cancel_reason_label %}Reason: {{ cancel_reason_label }}\n{% endif %}\nIf you have any question, just reply to this e-mail.\n\n{{ store_name }}\n'),
    ],
    'payment_overdue': [
        ('Pagamento do pedido {{ number }} vencido',
         'Olá, {{ first_name }}!\n\nNão recebemos a confirmação do pagamento do seu pedido {{ number }} ({{ total }}){% if payment.due_date %}, com vencimento em {{ payment.due_date|date:"d/m/Y" }}{% endif %}.\n\nSe você já pagou, desconsidere este aviso: a confirmação pode levar alguns dias úteis. Caso contrário, o pedido poderá ser cancelado.\n\n{{ store_name }}\n'),
        ('Payment for order {{ number }} overdue',
         'Hello {{ first_name }},\n\nWe have not received the payment for your order {{ number }} ({{ total }}){% if payment.due_date %}, due on {{ payment.due_date|date:"Y-m-d" }}{% endif %}.\n\nIf you have already paid, please ignore this notice: confirmation may take a few business days. Otherwise the order may be canceled.\n\n{{ store_name }}\n'),
    ],
}


def _upgraded(text):
    for old, new in REPLACEMENTS:
        text = text.replace(old, new)
    return text


def upgrade(apps, schema_editor):
    EmailTemplate = apps.get_model("notify", "EmailTemplate")
    for row in EmailTemplate.objects.filter(status__in=list(PREVIOUS)):
        subjects = {subject for subject, _body in PREVIOUS[row.status]}
        bodies = {body for _subject, body in PREVIOUS[row.status]}
        changed = []
        if row.subject in subjects:
            row.subject, changed = _upgraded(row.subject), [*changed, "subject"]
        if row.body in bodies:
            row.body, changed = _upgraded(row.body), [*changed, "body"]
        if changed:
            row.save(update_fields=changed)


class Migration(migrations.Migration):

    dependencies = [
        ("notify", "0003_pt_br_help_texts"),
    ]

    operations = [
        migrations.RunPython(upgrade, migrations.RunPython.noop),
    ]
