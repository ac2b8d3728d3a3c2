"""State changes made from the channels, stock and users pages, each audited.

Every change is written to Django's admin log (``LogEntry``: who, what object, which fields; shown in
the admin's history) and to the ``malote.audit`` logger. Credential values never reach either: only
the fact that credentials changed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from malote.accounts.models import ApiToken
from malote.accounts.roles import assign_role
from malote.backoffice.errors import BackofficeErrorCode
from malote.channels.models import Channel
from malote.connectors.base import Capability, supports
from malote.connectors.registry import provider
from malote.core.actors import Actor
from malote.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from malote.relay.polling import sync_poll_schedule
from malote.stock.actions import set_physical
from malote.stock.models import StockItem
from malote.sync.models import Schedule, ScheduleRun
from malote.sync.schedules import current_slot

log = logging.getLogger("malote.audit")


def audit(user: Any, obj: models.Model, message: str, *, flag: int = CHANGE) -> None:
    """Record who changed what (``message`` must never carry a secret)."""
    model = type(obj)
    LogEntry.objects.log_actions(
        user.pk, model._default_manager.filter(pk=obj.pk), flag, change_message=message, single_object=True
    )
    log.info("%s: %s %s: %s", user.get_username(), model._meta.label, obj.pk, message)


# --- channels ------------------------------------------------------------------------------------

CONFIG_FIELDS = (
    "name", "kind", "base_url", "import_policy", "invoice_needs_xml", "invoice_waits_for_shipment",
    "delivery_from_channel", "poll_interval_seconds", "options",
)  # fmt: skip


def save_channel_config(
    channel: Channel,
    cleaned: dict[str, Any],
    *,
    credential_updates: dict[str, str],
    replace_credentials: dict[str, Any] | None,
    user: Any,
) -> list[str]:
    """Apply the configuration form; returns the names of the fields that changed.

    ``replace_credentials`` (when given) replaces the stored credentials entirely; otherwise each
    non-empty ``credential_updates`` entry replaces that one credential and the others are kept.
    """
    changed = [name for name in CONFIG_FIELDS if name in cleaned and getattr(channel, name) != cleaned[name]]
    for name in changed:
        setattr(channel, name, cleaned[name])
    credentials = dict(channel.credentials or {})
    if replace_credentials is not None:
        credentials = dict(replace_credentials)
    else:
        credentials.update({k: v for k, v in credential_updates.items() if v})
    if credentials != (channel.credentials or {}):
        channel.credentials = credentials
        changed.append("credentials")
    if not changed:
        return []
    with transaction.atomic():
        channel.save()
        sync_poll_schedule(channel)
        audit(user, channel, f"Configuração alterada: {', '.join(changed)}")
    return changed


def save_status_map(channel: Channel, status_map: dict[str, dict[str, str]], *, user: Any) -> bool:
    if status_map == (channel.status_map or {}):
        return False
    with transaction.atomic():
        channel.status_map = status_map
        channel.save(update_fields=["status_map"])
        audit(user, channel, "Mapa de status alterado")
    return True


def set_channel_enabled(channel: Channel, enabled: bool, *, user: Any) -> None:
    if channel.enabled == enabled:
        return
    with transaction.atomic():
        channel.enabled = enabled
        channel.save(update_fields=["enabled"])
        sync_poll_schedule(channel)
        audit(user, channel, "Canal ativado" if enabled else "Canal desativado")


def polls(channel: Channel) -> bool:
    """Whether the channel's connector pulls changes."""
    return supports(provider(channel.kind), Capability.PULL_CHANGES)


def sync_channel_now(channel: Channel, *, user: Any) -> Schedule:
    """Make the channel's poll schedule due now; the next worker tick runs it (no remote call here).

    A schedule runs a slot once (the unique ``ScheduleRun(schedule, slot)``). If the current slot
    already ran, its finished run row is removed so the slot can be elected again; a run still in
    progress is left alone (``sync_in_progress``).
    """
    if not channel.enabled:
        raise Conflict(_("O canal está desativado."), code=BackofficeErrorCode.CHANNEL_DISABLED)
    if not polls(channel):
        raise Conflict(
            _("O conector deste canal não faz consultas."), code=BackofficeErrorCode.POLL_UNSUPPORTED
        )
    with transaction.atomic():
        schedule = sync_poll_schedule(channel)
        assert schedule is not None
        if not schedule.enabled:
            raise Conflict(
                _("A consulta periódica deste canal está desligada."), code=BackofficeErrorCode.POLL_DISABLED
            )
        schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
        runs = ScheduleRun.objects.filter(schedule=schedule, slot=current_slot(schedule, timezone.now()))
        if runs.filter(finished_at=None).exists():
            raise Conflict(
                _("Uma sincronização deste canal já está em andamento."),
                code=BackofficeErrorCode.SYNC_IN_PROGRESS,
            )
        runs.delete()
        Schedule.objects.filter(pk=schedule.pk).update(last_slot=None)
        audit(user, channel, "Sincronização solicitada")
    return schedule


# --- stock ---------------------------------------------------------------------------------------


def adjust_stock(sku: str, *, mode: str, quantity: int, reason: str, note: str, user: Any) -> StockItem:
    """Set the physical count (``mode="set"``) or add ``quantity`` to it (``mode="delta"``).

    The delta is applied under the row lock that ``set_physical`` takes, inside one transaction,
    so a concurrent reservation cannot slip between the read and the write.
    """
    actor = Actor.user(user)
    with transaction.atomic():
        item = StockItem.objects.select_for_update().filter(sku=sku).first()
        if item is None:
            raise NotFound(
                _("SKU %(sku)s não encontrado.") % {"sku": sku}, code=BackofficeErrorCode.SKU_NOT_FOUND
            )
        physical = quantity if mode == "set" else item.physical + quantity
        item = set_physical(sku, physical, actor=actor, reason=reason, note=note)
    # The stock movement (with the actor) is the audit record; the log line mirrors it.
    log.info("%s: stock %s set to %s (%s: %s)", user.get_username(), sku, physical, reason, note)
    return item


# --- users and tokens ----------------------------------------------------------------------------


def create_user(*, username: str, email: str, password: str, role: str, user: Any) -> Any:
    with transaction.atomic():
        created = get_user_model().objects.create_user(username=username, email=email, password=password)
        assign_role(created, role)
        audit(user, created, f"Usuário criado com o perfil {role}", flag=ADDITION)
    return created


def _not_self(target: Any, user: Any) -> None:
    # An administrator locking themselves out would leave nobody to undo it.
    if target.pk == user.pk:
        raise Forbidden(
            _("Você não pode alterar o perfil nem desativar o próprio usuário."),
            code=BackofficeErrorCode.CANNOT_CHANGE_SELF,
        )


def change_role(target: Any, role: str, *, user: Any) -> None:
    _not_self(target, user)
    with transaction.atomic():
        assign_role(target, role)
        audit(user, target, f"Perfil alterado para {role}")


def set_user_active(target: Any, active: bool, *, user: Any) -> None:
    if not active:
        _not_self(target, user)
    with transaction.atomic():
        target.is_active = active
        target.save(update_fields=["is_active"])
        if not active:
            ApiToken.objects.filter(user=target, revoked_at=None).update(revoked_at=timezone.now())
        audit(user, target, "Usuário reativado" if active else "Usuário desativado (tokens revogados)")


def issue_token(target: Any, name: str, *, user: Any) -> tuple[ApiToken, str]:
    if not target.is_active:
        raise InvalidInput(
            _("Usuário desativado não recebe tokens."), code=BackofficeErrorCode.USER_INACTIVE, field="user"
        )
    with transaction.atomic():
        token, raw = ApiToken.issue(target, name)
        audit(user, target, f"Token de API criado: {token.prefix}…")
    return token, raw


def revoke_token(token: ApiToken, *, user: Any) -> None:
    if token.revoked_at is not None:
        raise Conflict(_("Este token já foi revogado."), code=BackofficeErrorCode.TOKEN_REVOKED)
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=timezone.now())
        audit(user, token.user, f"Token de API revogado: {token.prefix}…")
