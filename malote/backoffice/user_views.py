"""Users and API tokens (administrators only): list with roles, create, change role, deactivate;
issue tokens (the secret is shown once, in the answer to the POST that created it) and revoke."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from malote.accounts.models import ApiToken
from malote.backoffice import manage_actions, manage_selectors
from malote.backoffice.access import backoffice_view
from malote.backoffice.manage_forms import ROLE_LABELS, RoleForm, TokenCreateForm, UserCreateForm
from malote.core.errors import MaloteError

ADMIN = "auth.change_user"


def _user(user_id: int) -> Any:
    target = get_user_model().objects.prefetch_related("groups").filter(pk=user_id).first()
    if target is None:
        raise Http404(_("Usuário não encontrado."))
    return target


def _back(target: Any) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("backoffice:user", args=[target.pk]))


@require_http_methods(["GET", "POST"])
@backoffice_view(ADMIN)
def user_list(request: HttpRequest) -> HttpResponse:
    """GET: users with their roles. POST: create a user with a role."""
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = manage_actions.create_user(**form.cleaned_data, user=request.user)
        messages.success(request, _("Usuário %(name)s criado.") % {"name": created.get_username()})
        return _back(created)
    rows = manage_selectors.users_with_roles()
    users = [{"row": row, "role_label": ROLE_LABELS.get(row.role, "—")} for row in rows]
    status = 422 if form.is_bound else 200
    return render(request, "backoffice/users/list.html", {"users": users, "form": form}, status=status)


def _page(
    request: HttpRequest, target: Any, *, new_token: str = "", token_form: TokenCreateForm | None = None
) -> HttpResponse:
    role = manage_selectors.role_of(target)
    context = {
        "target": target,
        "role_label": ROLE_LABELS.get(role, "—"),
        "is_self": target.pk == request.user.pk,
        "role_form": RoleForm(initial={"role": role}),
        "token_form": token_form or TokenCreateForm(),
        "tokens": manage_selectors.tokens_of(target),
        "new_token": new_token,
    }
    return render(request, "backoffice/users/detail.html", context, status=422 if token_form else 200)


@require_http_methods(["GET"])
@backoffice_view(ADMIN)
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    return _page(request, _user(user_id))


@require_POST
@backoffice_view(ADMIN)
def user_role(request: HttpRequest, user_id: int) -> HttpResponse:
    target = _user(user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Perfil inválido."))
        return _back(target)
    try:
        manage_actions.change_role(target, form.cleaned_data["role"], user=request.user)
    except MaloteError as exc:
        messages.error(request, f"{exc.detail} ({exc.code})")
    else:
        messages.success(request, _("Perfil alterado."))
    return _back(target)


@require_POST
@backoffice_view(ADMIN)
def user_active(request: HttpRequest, user_id: int) -> HttpResponse:
    target = _user(user_id)
    active = request.POST.get("active") == "1"
    try:
        manage_actions.set_user_active(target, active, user=request.user)
    except MaloteError as exc:
        messages.error(request, f"{exc.detail} ({exc.code})")
    else:
        messages.success(request, _("Usuário reativado.") if active else _("Usuário desativado."))
    return _back(target)


@never_cache
@require_POST
@backoffice_view(ADMIN)
def token_create(request: HttpRequest, user_id: int) -> HttpResponse:
    """Issue a token and answer with the page showing its secret, once (nothing stores it)."""
    target = _user(user_id)
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, target, token_form=form)
    try:
        _token, raw = manage_actions.issue_token(target, form.cleaned_data["name"], user=request.user)
    except MaloteError as exc:
        messages.error(request, f"{exc.detail} ({exc.code})")
        return _back(target)
    return _page(request, target, new_token=raw)


@require_POST
@backoffice_view(ADMIN)
def token_revoke(request: HttpRequest, user_id: int, token_id: int) -> HttpResponse:
    target = _user(user_id)
    token = ApiToken.objects.filter(pk=token_id, user=target).select_related("user").first()
    if token is None:
        raise Http404(_("Token não encontrado."))
    try:
        manage_actions.revoke_token(token, user=request.user)
    except MaloteError as exc:
        messages.error(request, f"{exc.detail} ({exc.code})")
    else:
        messages.success(request, _("Token revogado."))
    return _back(target)
