"""The front desk's call about an early wear-off report (AreaForecast.early_report_*):
a handled report leaves the worklist section, so its partial index now holds only the
reports still to call about (forecast_early_report_open replaces forecast_early_report).
Existing reports start unhandled, as they were."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('clinic', '0012_clinic_contact'),
        ('maintenance', '0012_areaforecast_early_report'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='areaforecast',
            name='forecast_early_report',
        ),
        migrations.AddField(
            model_name='areaforecast',
            name='early_report_handled_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='areaforecast',
            name='early_report_handled_by',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='areaforecast',
            name='early_report_outcome',
            field=models.CharField(blank=True, choices=[('review_booked', 'Review booked'), ('photo_requested', 'Photo requested'), ('no_action', 'Spoke, no action needed')], default='', max_length=20),
        ),
        migrations.AddIndex(
            model_name='areaforecast',
            index=models.Index(condition=models.Q(('early_report_handled_at__isnull', True), ('early_report_on__isnull', False)), fields=['clinic', 'early_report_on'], name='forecast_early_report_open'),
        ),
    ]
