from django.urls import path

from apps.approvals import views

app_name = "approvals"

urlpatterns = [
    path("", views.inbox_view, name="inbox"),
    path("<int:approval_id>/", views.detail_view, name="detail"),
    path("<int:approval_id>/approve/", views.approve_view, name="approve"),
    path("<int:approval_id>/reject/", views.reject_view, name="reject"),
]
