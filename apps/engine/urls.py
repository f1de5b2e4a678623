from django.urls import path

from apps.engine import views

app_name = "engine"

urlpatterns = [
    path("", views.instance_list_view, name="instance-list"),
    path("<int:instance_id>/", views.instance_detail_view, name="instance-detail"),
    path("<int:instance_id>/live/", views.instance_live_view, name="instance-live"),
    path("run/", views.run_choose_view, name="run-choose"),
    path("run/hosts/", views.run_hosts_view, name="run-hosts"),
]
