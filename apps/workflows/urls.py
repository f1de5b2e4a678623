from django.urls import path

from apps.workflows import views

app_name = "workflows"

urlpatterns = [
    path("", views.definition_list_view, name="definition-list"),
    path("templates/", views.template_library_view, name="template-library"),
    path("import/", views.definition_import_view, name="definition-import"),
    path("source/", views.source_view, name="source"),
    path("new/", views.definition_new_view, name="definition-new"),
    path("<int:definition_id>/edit/", views.definition_edit_view, name="definition-edit"),
    path("<int:definition_id>/clone/", views.definition_clone_view, name="definition-clone"),
    path("<int:definition_id>/export/", views.definition_export_view, name="definition-export"),
    path("<int:definition_id>/delete/", views.definition_delete_view, name="definition-delete"),
    path("<int:definition_id>/unpublish/", views.definition_flags_view, {"change": "unpublish"},
         name="definition-unpublish"),
    path("<int:definition_id>/deactivate/", views.definition_flags_view, {"change": "deactivate"},
         name="definition-deactivate"),
    path("<int:definition_id>/activate/", views.definition_flags_view, {"change": "activate"},
         name="definition-activate"),
]
