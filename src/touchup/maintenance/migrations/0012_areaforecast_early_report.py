"""AreaForecast.early_report_on (touchup.core.early_report), filled in for the forecasts
already kept so the worklist's "Reported wearing off early" section is right from the
start rather than after each patient's next recompute."""

from collections import defaultdict

from django.conf import settings
from django.db import migrations, models


def fill_early_reports(apps, schema_editor):
    from touchup.core.early_report import early_report

    AreaForecast = apps.get_model("maintenance", "AreaForecast")
    Observation = apps.get_model("clinic", "Observation")
    answers = defaultdict(list)
    # One pass over the check-ins (in recording order), not a query per forecast.
    for pid, area, day, value in (
        Observation.objects.filter(kind="wearing_off_reported")
        .order_by("patient_id", "observed_on", "pk").values_list("patient_id", "area", "observed_on", "value")
        .iterator()
    ):
        answers[(pid, area)].append((day, bool(value)))
    for f in AreaForecast.objects.filter(patient_id__in={pid for pid, _ in answers}).iterator():
        found = early_report(f.area, f.treated_on, (f.wear_off_low, f.wear_off_high), f.earliest_allowed,
                             answers.get((f.patient_id, f.area), ()))
        if found is not None:
            AreaForecast.objects.filter(pk=f.pk).update(early_report_on=found.reported_on)


class Migration(migrations.Migration):

    dependencies = [
        ('clinic', '0012_clinic_contact'),
        ('maintenance', '0011_track_record_report'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='areaforecast',
            name='early_report_on',
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='areaforecast',
            index=models.Index(condition=models.Q(('early_report_on__isnull', False)), fields=['clinic', 'early_report_on'], name='forecast_early_report'),
        ),
        migrations.RunPython(fill_early_reports, migrations.RunPython.noop),
    ]
