from rest_framework.routers import SimpleRouter

from apps.engine.api.run import WorkflowRunViewSet
from apps.engine.api.views import InstanceViewSet

router = SimpleRouter()
router.register("instances", InstanceViewSet, basename="instance")
router.register("workflows", WorkflowRunViewSet, basename="workflow-run")

urlpatterns = router.urls
