"""Roles are Django groups with a fixed set of permissions, re-synced after every migrate.

viewer: read only. operator: creates orders, runs every transition but reopen, adjusts stock.
support: operator plus reopen. admin: everything (and the Django admin).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

VIEWER = "viewer"
OPERATOR = "operator"
SUPPORT = "support"
ADMIN = "admin"
ROLES = (VIEWER, OPERATOR, SUPPORT, ADMIN)

_READ = [
    "orders.view_order",
    "orders.view_orderevent",
    "stock.view_stockitem",
    "stock.view_stockmovement",
    "channels.view_channel",
    "sync.view_outboxmessage",
    "sync.view_inboxevent",
]
_OPERATE = [
    *_READ,
    "orders.add_order",
    "orders.change_order_status",
    "orders.export_order",
    "stock.change_stockitem",
    "sync.change_outboxmessage",
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: _READ,
    OPERATOR: _OPERATE,
    SUPPORT: [*_OPERATE, "orders.reopen_order"],
}


def _permissions(names: list[str]) -> list[Permission]:
    found = []
    for name in names:
        app_label, codename = name.split(".")
        perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if perm is not None:
            found.append(perm)
    return found


def sync_roles() -> None:
    """Create the role groups and set their permissions exactly (idempotent)."""
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(_permissions(names))
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    admin.permissions.set(Permission.objects.all())


def sync_roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    # Runs once per migrated app; only the last app's run sees every permission, so sync each time.
    if kwargs.get("using", "default") == "default" and Permission.objects.exists():
        sync_roles()


def assign_role(user: Any, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    user.groups.set([Group.objects.get(name=role)])
    user.is_staff = role == ADMIN
    user.save(update_fields=["is_staff"])
