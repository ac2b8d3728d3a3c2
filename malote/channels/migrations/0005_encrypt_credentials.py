"""Channel credentials encrypted at rest: the column becomes text holding a Fernet token, and the
rows written before (plain JSON) are encrypted. Reversible: going back decrypts every row to plain
JSON (and stops, changing nothing, at a row no configured key decrypts)."""

import json

from django.db import migrations

import malote.channels.credentials
from malote.channels.credentials import encrypt_object
from malote.core import vault

TABLE = "channels_channel"


def _rows(schema_editor):
    quote = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote('id')}, {quote('credentials')} FROM {quote(TABLE)}")
        return cursor.fetchall()


def _store(schema_editor, pk, text):
    quote = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(TABLE)} SET {quote('credentials')} = %s WHERE {quote('id')} = %s", [text, pk]
        )


def encrypt_plain_rows(apps, schema_editor):
    """Encrypt every row that still holds plain JSON; tokens are left as they are."""
    for pk, stored in _rows(schema_editor):
        text = (stored or "").strip()
        if not vault.looks_encrypted(text):
            _store(schema_editor, pk, encrypt_object(json.loads(text or "{}")))


def decrypt_rows(apps, schema_editor):
    """Back to plain JSON, for the JSON column of 0004."""
    for pk, stored in _rows(schema_editor):
        text = (stored or "").strip()
        if vault.looks_encrypted(text):
            _store(schema_editor, pk, vault.decrypt(text).decode("utf-8"))


class Migration(migrations.Migration):

    dependencies = [
        ('channels', '0004_channel_go_live'),
    ]

    operations = [
        migrations.AlterField(
            model_name='channel',
            name='credentials',
            field=malote.channels.credentials.EncryptedJSONField(blank=True, default=dict, help_text='Never shown after saving.'),
        ),
        migrations.RunPython(encrypt_plain_rows, decrypt_rows),
    ]
