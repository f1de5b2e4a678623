from django.contrib.auth import views as auth_views
from django.urls import path

from apps.portal import views

app_name = "portal"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="portal/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("organizations/", views.choose_organization, name="choose-organization"),
    path("organizations/switch/", views.switch_organization, name="switch-organization"),
    path("", views.dashboard, name="dashboard"),
]
