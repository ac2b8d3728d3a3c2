from django.urls import include, path

from malote.backoffice import views

app_name = "backoffice"

urlpatterns = [
    path("", views.order_list, name="orders"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("orders/export.csv", views.order_export, name="orders-export"),
    path("orders/<int:order_id>/", views.order_detail, name="order"),
    path("", include("malote.backoffice.manage_urls")),
]
