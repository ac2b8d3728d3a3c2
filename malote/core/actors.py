"""Who did something: every command function takes an explicit ``Actor``.

Permissions are checked at the edge (API, back office); commands only record who acted, so
schedules and connectors can run them with no user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ActorKind = Literal["user", "token", "channel", "schedule", "system"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    label: str
    user_id: int | None = None
    ref: str = ""

    @classmethod
    def user(cls, user: Any) -> Actor:
        return cls(kind="user", label=user.get_username(), user_id=user.pk)

    @classmethod
    def token(cls, token: Any) -> Actor:
        return cls(
            kind="token",
            label=f"{token.user.get_username()} ({token.name})",
            user_id=token.user_id,
            ref=token.prefix,
        )

    @classmethod
    def channel(cls, code: str) -> Actor:
        return cls(kind="channel", label=code, ref=code)

    @classmethod
    def schedule(cls, name: str) -> Actor:
        return cls(kind="schedule", label=name, ref=name)

    @classmethod
    def system(cls, label: str = "malote") -> Actor:
        return cls(kind="system", label=label)
