"""The clinic manager's "Require two-step sign-in for all staff" (off for every existing
clinic: turning it on is the manager's decision, taken on the clinic's settings page)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0008_photo_analysis_owed"),
    ]

    operations = [
        migrations.AddField(
            model_name="clinic",
            name="require_two_step",
            field=models.BooleanField(default=False),
        ),
    ]
