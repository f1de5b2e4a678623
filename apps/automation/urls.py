from django.urls import path

from apps.automation import views

app_name = "automation"

urlpatterns = [
    path("", views.overview_view, name="overview"),
    path("pause/", views.pause_view, name="pause"),
    path("resume/", views.resume_view, name="resume"),
]
