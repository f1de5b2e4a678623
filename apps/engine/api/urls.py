from rest_framework.routers import SimpleRouter

from apps.engine.api.views import InstanceViewSet

router = SimpleRouter()
router.register("instances", InstanceViewSet, basename="instance")

urlpatterns = router.urls
