from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "touchup.maintenance"
    label = "maintenance"
    verbose_name = "Maintenance: forecasts, reminders, booking"
    default_auto_field = "django.db.models.BigAutoField"
