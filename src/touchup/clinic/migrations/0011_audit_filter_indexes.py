"""The audit page's filters read their page straight off an index, newest first, instead
of scanning a million events: by clinic, by outcome, by action (the kinds of action),
and `at` to turn a date range into a run of ids. See docs/performance.md, "Audit trail"."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0010_password_link"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["outcome", "clinic_id_ref", "id"], name="audit_outcome_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["action", "clinic_id_ref", "id"], name="audit_action_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["at"], name="audit_at_idx"),
        ),
    ]
