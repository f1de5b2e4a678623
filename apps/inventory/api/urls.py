from rest_framework.routers import SimpleRouter

from apps.inventory.api.views import HostGroupViewSet, HostViewSet

router = SimpleRouter()
router.register("hosts", HostViewSet, basename="host")
router.register("host-groups", HostGroupViewSet, basename="host-group")

urlpatterns = router.urls
