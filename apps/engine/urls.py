from django.urls import include, path

from apps.engine import control_views, views

app_name = "engine"

instance_patterns = [
    path("", views.instance_list_view, name="instance-list"),
    path("<int:instance_id>/", views.instance_detail_view, name="instance-detail"),
    path("<int:instance_id>/live/", views.instance_live_view, name="instance-live"),
    path("<int:instance_id>/pause/", control_views.instance_pause_view, name="instance-pause"),
    path("<int:instance_id>/resume/", control_views.instance_resume_view, name="instance-resume"),
    path("<int:instance_id>/cancel/", control_views.instance_cancel_view, name="instance-cancel"),
    path("<int:instance_id>/terminate/", control_views.instance_terminate_view, name="instance-terminate"),
    path("<int:instance_id>/retry/", control_views.instance_retry_view, name="instance-retry"),
    path("<int:instance_id>/rerun/", control_views.rerun_view, name="instance-rerun"),
    path("<int:instance_id>/steps/<str:step_id>/retry/", control_views.step_retry_view, name="step-retry"),
    path("<int:instance_id>/steps/<str:step_id>/skip/", control_views.step_skip_view, name="step-skip"),
    path("run/", views.run_choose_view, name="run-choose"),
    path("run/hosts/", views.run_hosts_view, name="run-hosts"),
]

urlpatterns = [
    path("instances/", include(instance_patterns)),
    # The run page starts an instance of a definition, so it is addressed from the definition.
    path("workflows/<int:definition_id>/run/", views.run_view, name="run"),
]
