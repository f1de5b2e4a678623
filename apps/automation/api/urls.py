from rest_framework.routers import SimpleRouter

from apps.automation.api.views import AutomationViewSet

router = SimpleRouter()
router.register("automation", AutomationViewSet, basename="automation")

urlpatterns = router.urls
