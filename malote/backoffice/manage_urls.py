"""Back-office pages beyond orders: channels, stock, dashboard, users and tokens."""

from django.urls import URLPattern, path

from malote.backoffice import channel_views, dashboard, stock_views, user_views

urlpatterns: list[URLPattern] = [
    path("channels/", channel_views.channel_list, name="channels"),
    path("channels/<slug:code>/", channel_views.channel_detail, name="channel"),
    path("channels/<slug:code>/status-map/", channel_views.channel_status_map, name="channel-status-map"),
    path("channels/<slug:code>/enabled/", channel_views.channel_enabled, name="channel-enabled"),
    path("channels/<slug:code>/sync/", channel_views.channel_sync, name="channel-sync"),
    path("stock/", stock_views.stock_list, name="stock"),
    path("stock/<path:sku>/", stock_views.stock_detail, name="stock-item"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("users/", user_views.user_list, name="users"),
    path("users/<int:user_id>/", user_views.user_detail, name="user"),
    path("users/<int:user_id>/role/", user_views.user_role, name="user-role"),
    path("users/<int:user_id>/active/", user_views.user_active, name="user-active"),
    path("users/<int:user_id>/tokens/", user_views.token_create, name="user-token-create"),
    path(
        "users/<int:user_id>/tokens/<int:token_id>/revoke/", user_views.token_revoke, name="user-token-revoke"
    ),
]
