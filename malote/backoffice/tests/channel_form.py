"""What a browser posts when an administrator saves a channel's configuration form untouched."""

from __future__ import annotations

from typing import Any

from django import forms

from malote.backoffice.manage_forms import ChannelConfigForm
from malote.channels.models import Channel


def unchanged_post(channel: Channel, **overrides: Any) -> dict[str, Any]:
    """The form's fields as rendered (an unchecked checkbox is not posted), then ``overrides``;
    an override of ``None`` leaves the field out (an unchecked checkbox)."""
    form = ChannelConfigForm(instance=channel)
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
            continue
        prepared = field.prepare_value(value)
        data[name] = "" if prepared is None else prepared
    for name, value in overrides.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data
