"""The photo row becomes the outbox of its analysis (docs/photos.md "An analysis is never
lost"): when it is owed, when the sweep queues it again, how many runs started. Photos
left "Analysing" before this change (kept, with clinical consent) are owed from now, so the
first sweep queues each once more: a lost one gets analysed, and one still in the queue
costs its duplicate a single query."""

from django.db import migrations, models
from django.utils import timezone


def owe_pending(apps, schema_editor):
    Photo = apps.get_model("clinic", "Photo")
    now = timezone.now()
    Photo.objects.filter(analysis_status="pending", removed_at__isnull=True, consent_clinical=True).update(
        analysis_requested_at=now, analysis_retry_at=now,
    )


class Migration(migrations.Migration):

    dependencies = [
        ("clinic", "0007_link_photo_observations"),
    ]

    operations = [
        migrations.AddField(
            model_name="photo",
            name="analysis_attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="photo",
            name="analysis_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="photo",
            name="analysis_retry_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="photo",
            index=models.Index(condition=models.Q(("analysis_retry_at__isnull", False)), fields=["analysis_retry_at"],
                               name="photo_analysis_owed"),
        ),
        migrations.RunPython(owe_pending, migrations.RunPython.noop),
    ]
