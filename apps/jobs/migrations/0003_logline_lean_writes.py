# The log's hot table without database foreign keys or single-column indexes (see
# apps/jobs/models.py LogLine): each cost every stored line a trigger or an index insert.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0002_queued_claim_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="logline",
            name="instance",
            field=models.ForeignKey(
                db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+",
                to="engine.workflowinstance",
            ),
        ),
        migrations.AlterField(
            model_name="logline",
            name="job",
            field=models.ForeignKey(
                blank=True, db_constraint=False, db_index=False, null=True,
                on_delete=django.db.models.deletion.DO_NOTHING, related_name="lines", to="jobs.job",
            ),
        ),
    ]
