from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "touchup.clinic"
    label = "clinic"
    verbose_name = "Clinic"

    def ready(self):
        from . import signin_audit

        signin_audit.connect()
