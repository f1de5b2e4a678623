from django.urls import path

from apps.inventory import views

app_name = "inventory"

urlpatterns = [
    path("hosts/", views.host_list_view, name="host-list"),
    path("hosts/<int:host_id>/", views.host_detail_view, name="host-detail"),
    path("groups/", views.group_list_view, name="group-list"),
    path("groups/<int:group_id>/", views.group_detail_view, name="group-detail"),
]
