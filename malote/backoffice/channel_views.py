"""Channels pages: the list with each channel's health, and the channel page (configuration,
status map, enable/disable, "sincronizar agora"). A channel with an active ``channel_stalled`` issue
shows it on both: the causes, what to do, and a link to the issue in the Integrações inbox.

Every channel option is a field of the configuration form, generated from its spec
(``malote.channels.option_specs``) with its help text; viewers see the same options read-only.

Viewers see everything read-only; operators may also ask for a sync; administrators change the
configuration. Credentials are never rendered back.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from malote.backoffice import manage_actions, manage_selectors
from malote.backoffice.access import backoffice_view
from malote.backoffice.manage_forms import ChannelConfigForm, StatusMapForm
from malote.channels.models import Channel
from malote.channels.option_specs import GROUP_LABELS
from malote.core.errors import MaloteError

VIEW = "channels.view_channel"
CHANGE = "channels.change_channel"
# Asking for a sync is an operator's action, like retrying an outbox message.
SYNC = "sync.change_outboxmessage"


def _channel(code: str) -> Channel:
    channel = Channel.objects.filter(code=code).first()
    if channel is None:
        raise Http404(_("Canal não encontrado."))
    return channel


def _back(channel: Channel) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("backoffice:channel", args=[channel.code]))


@require_GET
@backoffice_view(VIEW)
def channel_list(request: HttpRequest) -> HttpResponse:
    health = manage_selectors.with_stalls(manage_selectors.channel_health(manage_selectors.all_channels()))
    return render(request, "backoffice/channels/list.html", {"health": health})


def _policies(channel: Channel) -> list[dict[str, Any]]:
    """Every option that applies to the channel (docs/channel-rules.md, "Every option"): value,
    default, whether the channel sets it, with its label and help text (the read-only view)."""
    return [
        {
            "name": row.name,
            "label": row.spec.label,
            "help": row.help_html,
            "is_flag": row.is_flag,
            "group": GROUP_LABELS[row.spec.group],
            "value": row.value,
            "default": row.default,
            "value_text": row.value_text,
            "default_text": row.default_text,
            "overridden": row.overridden,
        }
        for row in manage_selectors.option_rows(channel)
    ]


def _page(
    request: HttpRequest,
    channel: Channel,
    *,
    config_form: ChannelConfigForm | None = None,
    map_form: StatusMapForm | None = None,
    status: int = 200,
) -> HttpResponse:
    [health] = manage_selectors.with_stalls(manage_selectors.channel_health([channel]))
    can_change = request.user.has_perm(CHANGE)
    context = {
        "channel": channel,
        "health": health,
        "can_change": can_change,
        "can_sync": request.user.has_perm(SYNC) and manage_actions.polls(channel),
        "credential_names": sorted(channel.credentials or {}),
        "failures": manage_selectors.recent_failures(channel),
        "problem_links": manage_selectors.problem_links(channel),
        "config_form": config_form or (ChannelConfigForm(instance=channel) if can_change else None),
        "map_form": map_form or StatusMapForm(channel=channel),
        "policies": _policies(channel),
    }
    return render(request, "backoffice/channels/detail.html", context, status=status)


@require_http_methods(["GET", "POST"])
@backoffice_view(VIEW)
def channel_detail(request: HttpRequest, code: str) -> HttpResponse:
    """GET: the channel page. POST (administrators): save the configuration form."""
    channel = _channel(code)
    if request.method != "POST":
        return _page(request, channel)
    if not request.user.has_perm(CHANGE):
        raise PermissionDenied
    form = ChannelConfigForm(request.POST, instance=channel)
    if not form.is_valid():
        return _page(request, channel, config_form=form, status=422)
    changed = manage_actions.save_channel_config(
        channel,
        form.config(),
        credential_updates=form.credential_updates(),
        replace_credentials=form.cleaned_data["replace_credentials"],
        user=request.user,
    )
    if changed:
        messages.success(request, _("Configuração salva."))
    else:
        messages.info(request, _("Nada foi alterado."))
    return _back(channel)


@require_POST
@backoffice_view(CHANGE)
def channel_status_map(request: HttpRequest, code: str) -> HttpResponse:
    channel = _channel(code)
    form = StatusMapForm(request.POST, channel=channel)
    if not form.is_valid():
        return _page(request, channel, map_form=form, status=422)
    if manage_actions.save_status_map(channel, form.status_map(), user=request.user):
        messages.success(request, _("Mapa de status salvo."))
    return _back(channel)


@require_POST
@backoffice_view(CHANGE)
def channel_enabled(request: HttpRequest, code: str) -> HttpResponse:
    channel = _channel(code)
    enabled = request.POST.get("enabled") == "1"
    manage_actions.set_channel_enabled(channel, enabled, user=request.user)
    messages.success(request, _("Canal ativado.") if enabled else _("Canal desativado."))
    return _back(channel)


@require_POST
@backoffice_view(SYNC)
def channel_sync(request: HttpRequest, code: str) -> HttpResponse:
    channel = _channel(code)
    try:
        manage_actions.sync_channel_now(channel, user=request.user)
    except MaloteError as exc:
        messages.error(request, f"{exc.detail} ({exc.code})")
    else:
        messages.success(request, _("Sincronização agendada: o worker consulta o canal em instantes."))
    return _back(channel)
