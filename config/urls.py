from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_patterns = [
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.inventory.api.urls")),
    path("", include("apps.credentials.api.urls")),
    path("", include("apps.audit.api.urls")),
    path("", include("apps.workflows.api.urls")),
    path("", include("apps.engine.api.urls")),
    path("", include("apps.approvals.api.urls")),
    path("", include("apps.automation.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/", include(api_patterns)),
    path("inventory/", include("apps.inventory.urls")),
    path("audit/", include("apps.audit.urls")),
    path("", include("apps.engine.urls")),  # instances/ and workflows/<id>/run/
    path("workflows/", include("apps.workflows.urls")),
    path("approvals/", include("apps.approvals.urls")),
    path("automation/", include("apps.automation.urls")),
    path("", include("apps.portal.urls")),
]

handler400 = "apps.core.views.bad_request"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"
