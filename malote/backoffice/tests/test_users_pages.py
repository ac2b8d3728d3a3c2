"""Users and API tokens page (administrators only): list with roles, create, change role,
deactivate, issue a token (secret shown once), list and revoke tokens; query ceiling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from malote.accounts.models import ApiToken, hash_token
from malote.accounts.roles import assign_role, sync_roles
from malote.backoffice.tests import pages
from malote.backoffice.tests.pages import ROLES, html
from malote.conftest import ApiClient

pytestmark = pytest.mark.django_db

# Shared fixtures (pytest finds them as module attributes).
client_as, nobody, clear_cache = pages.client_as, pages.nobody, pages.clear_cache

LIST = "/backoffice/users/"
User = get_user_model()


@pytest.fixture
def admin(client_as: Callable[[str], Client]) -> Client:
    return client_as("admin")


@pytest.fixture
def maria(db: None) -> Any:
    sync_roles()
    user = User.objects.create_user(username="maria", email="maria@loja.com.br", password="x")
    assign_role(user, "viewer")
    return user


def _user_url(user: Any, suffix: str = "") -> str:
    return f"/backoffice/users/{user.pk}/{suffix}"


def _new_user(**overrides: str) -> dict[str, str]:
    return {
        "username": "joao",
        "email": "joao@loja.com.br",
        "password": "senha-forte-123",
        "role": "operator",
        **overrides,
    }


# --- access --------------------------------------------------------------------------------------


def test_admin_sees_users_with_their_roles(admin: Client, maria: Any) -> None:
    page = html(admin.get(LIST))
    assert 'data-user="maria"' in page and 'data-role="viewer"' in page
    assert 'data-user="admin-user"' in page and 'data-role="admin"' in page
    assert 'id="user-create"' in page and "csrfmiddlewaretoken" in page
    assert admin.get(_user_url(maria)).status_code == 200


@pytest.mark.parametrize("role", ["viewer", "operator", "support"])
def test_other_roles_are_forbidden_everywhere(
    client_as: Callable[[str], Client], maria: Any, role: str
) -> None:
    client = client_as(role)
    token, _raw = ApiToken.issue(maria, "x")
    assert client.get(LIST).status_code == 403
    assert client.get(_user_url(maria)).status_code == 403
    assert client.post(LIST, _new_user()).status_code == 403
    assert client.post(_user_url(maria, "role/"), {"role": "admin"}).status_code == 403
    assert client.post(_user_url(maria, "active/"), {"active": "0"}).status_code == 403
    assert client.post(_user_url(maria, "tokens/"), {"name": "x"}).status_code == 403
    assert client.post(_user_url(maria, f"tokens/{token.pk}/revoke/")).status_code == 403
    maria.refresh_from_db()
    assert maria.is_active and not User.objects.filter(username="joao").exists()
    assert ApiToken.objects.filter(user=maria).count() == 1
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert 'href="/backoffice/users/"' not in html(client.get("/backoffice/"))


@pytest.mark.parametrize("path", [LIST, "/backoffice/users/1/"])
def test_anonymous_goes_to_login_and_no_role_is_forbidden(client: Client, nobody: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/backoffice/login/?next=")
    assert nobody.get(path).status_code == 403


def test_unknown_user_is_404(admin: Client) -> None:
    assert admin.get("/backoffice/users/999999/").status_code == 404


# --- users ---------------------------------------------------------------------------------------


def test_admin_creates_a_user_with_a_role(admin: Client) -> None:
    response = admin.post(LIST, _new_user())
    assert response.status_code == 302
    joao = User.objects.get(username="joao")
    assert [g.name for g in joao.groups.all()] == ["operator"]
    assert joao.check_password("senha-forte-123") and not joao.is_staff
    assert joao.has_perm("stock.change_stockitem") and not joao.has_perm("auth.change_user")
    entry = LogEntry.objects.get(object_id=str(joao.pk))
    assert entry.user.username == "admin-user" and "senha" not in entry.change_message


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"username": "maria"}, "Já existe um usuário com este nome"),
        ({"password": "curta"}, "Esta senha é muito curta"),
        ({"role": "root"}, "Faça uma escolha válida"),
        ({"username": "joão silva"}, "Informe um nome de usuário válido"),
    ],
)
def test_invalid_new_user_is_refused_inline(
    admin: Client, maria: Any, overrides: dict[str, str], message: str
) -> None:
    response = admin.post(LIST, _new_user(**overrides))
    assert response.status_code == 422
    assert message in html(response)
    assert User.objects.count() == 2  # admin and maria


def test_admin_changes_a_role(admin: Client, maria: Any) -> None:
    assert admin.post(_user_url(maria, "role/"), {"role": "support"}).status_code == 302
    maria = User.objects.get(pk=maria.pk)
    assert [g.name for g in maria.groups.all()] == ["support"]
    assert maria.has_perm("orders.reopen_order")
    assert admin.post(_user_url(maria, "role/"), {"role": "admin"}).status_code == 302
    assert User.objects.get(pk=maria.pk).is_staff


def test_admin_cannot_demote_or_deactivate_themself(admin: Client) -> None:
    me = User.objects.get(username="admin-user")
    page = html(admin.get(_user_url(me)))
    assert 'id="user-role"' not in page and 'id="user-active"' not in page
    response = admin.post(_user_url(me, "role/"), {"role": "viewer"}, follow=True)
    assert "cannot_change_self" in html(response)
    admin.post(_user_url(me, "active/"), {"active": "0"})
    me = User.objects.get(pk=me.pk)
    assert me.is_active and [g.name for g in me.groups.all()] == ["admin"]


def test_deactivating_a_user_revokes_their_tokens(admin: Client, maria: Any) -> None:
    _token, raw = ApiToken.issue(maria, "erp")
    assert ApiClient(raw).get("/api/v1/orders").status_code == 200
    assert admin.post(_user_url(maria, "active/"), {"active": "0"}).status_code == 302
    maria.refresh_from_db()
    assert not maria.is_active
    assert ApiToken.objects.get(user=maria).revoked_at is not None
    assert ApiClient(raw).get("/api/v1/orders").status_code == 401
    assert admin.post(_user_url(maria, "active/"), {"active": "1"}).status_code == 302
    maria.refresh_from_db()
    assert maria.is_active
    assert ApiClient(raw).get("/api/v1/orders").status_code == 401  # revoked stays revoked


# --- tokens --------------------------------------------------------------------------------------


def test_token_secret_is_shown_once(admin: Client, maria: Any) -> None:
    response = admin.post(_user_url(maria, "tokens/"), {"name": "integração ERP"})
    assert response.status_code == 200
    raw = response.context["new_token"]
    assert raw.startswith("mlt_") and f'<code class="mono" id="new-token">{raw}</code>' in html(response)
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=maria)
    assert token.key_hash == hash_token(raw) and token.name == "integração ERP"
    assert ApiClient(raw).get("/api/v1/orders").status_code == 200
    later = html(admin.get(_user_url(maria)))
    assert raw not in later and f"{token.prefix}…" in later
    assert raw not in html(admin.get(LIST))
    assert "Token de API criado" in LogEntry.objects.get(object_id=str(maria.pk)).change_message


def test_token_list_shows_prefix_created_and_last_used(admin: Client, maria: Any) -> None:
    token, raw = ApiToken.issue(maria, "loja")
    ApiClient(raw).get("/api/v1/orders")
    page = html(admin.get(_user_url(maria)))
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert f'data-token="{token.prefix}"' in page
    assert timezone.localtime(token.last_used_at).strftime("%d/%m/%Y %H:%M") in page


def test_revoke_a_token(admin: Client, maria: Any) -> None:
    token, raw = ApiToken.issue(maria, "loja")
    assert admin.post(_user_url(maria, f"tokens/{token.pk}/revoke/")).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert ApiClient(raw).get("/api/v1/orders").status_code == 401
    response = admin.post(_user_url(maria, f"tokens/{token.pk}/revoke/"), follow=True)
    assert "token_revoked" in html(response)


def test_a_token_is_revoked_only_through_its_user(admin: Client, maria: Any) -> None:
    other = User.objects.create_user(username="outro", password="x")
    token, _raw = ApiToken.issue(other, "x")
    assert admin.post(_user_url(maria, f"tokens/{token.pk}/revoke/")).status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_inactive_user_gets_no_token(admin: Client, maria: Any) -> None:
    User.objects.filter(pk=maria.pk).update(is_active=False)
    response = admin.post(_user_url(maria, "tokens/"), {"name": "x"}, follow=True)
    assert "user_inactive" in html(response)
    assert not ApiToken.objects.filter(user=maria).exists()


def test_token_name_is_required(admin: Client, maria: Any) -> None:
    response = admin.post(_user_url(maria, "tokens/"), {"name": ""})
    assert response.status_code == 422
    assert not ApiToken.objects.filter(user=maria).exists()


def test_forms_need_the_csrf_token(user_with_role: Callable[[str], Any], maria: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with_role("admin"))
    assert client.post(LIST, _new_user()).status_code == 403
    assert client.post(_user_url(maria, "tokens/"), {"name": "x"}).status_code == 403
    assert not ApiToken.objects.exists() and not User.objects.filter(username="joao").exists()


# --- query ceiling -------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 30])
def test_user_list_query_count_does_not_grow_with_users(
    admin: Client, django_assert_max_num_queries: Any, count: int
) -> None:
    for n in range(count):
        user = User.objects.create_user(username=f"user{n:02d}", password="x")
        assign_role(user, ROLES[n % len(ROLES)])
        ApiToken.issue(user, "t")
    with django_assert_max_num_queries(7):
        response = admin.get(LIST)
    assert len(response.context["users"]) == count + 1
    assert sorted(item["row"].active_tokens for item in response.context["users"]) == [0] + [1] * count


@pytest.mark.parametrize("count", [3, 30])
def test_user_page_query_count_does_not_grow_with_tokens(
    admin: Client, maria: Any, django_assert_max_num_queries: Any, count: int
) -> None:
    for n in range(count):
        ApiToken.issue(maria, f"t{n}")
    with django_assert_max_num_queries(7):
        response = admin.get(_user_url(maria))
    assert len(response.context["tokens"]) == count
