import django.utils.timezone
from django.db import migrations, models


def from_created_at(apps, schema_editor):
    # Existing runs were requested when they were created.
    WorkflowInstance = apps.get_model("engine", "WorkflowInstance")
    WorkflowInstance.objects.update(requested_at=models.F("created_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('engine', '0003_paused_by_parent'),
    ]

    operations = [
        migrations.AddField(
            model_name='workflowinstance',
            name='requested_at',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(from_created_at, migrations.RunPython.noop),
    ]
