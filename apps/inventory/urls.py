from django.urls import path

from apps.inventory import views

app_name = "inventory"

urlpatterns = [
    path("hosts/", views.host_list_view, name="host-list"),
    path("hosts/<int:host_id>/", views.host_detail_view, name="host-detail"),
    path("hosts/<int:host_id>/host-keys/scan/", views.host_key_action_view, {"action": "scan"},
         name="host-key-scan"),
    path("hosts/<int:host_id>/host-keys/<int:key_id>/trust/", views.host_key_action_view, {"action": "trust"},
         name="host-key-trust"),
    path("hosts/<int:host_id>/host-keys/<int:key_id>/revoke/", views.host_key_action_view, {"action": "revoke"},
         name="host-key-revoke"),
    path("groups/", views.group_list_view, name="group-list"),
    path("groups/<int:group_id>/", views.group_detail_view, name="group-detail"),
]
