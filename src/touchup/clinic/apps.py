from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _create_cache_table(using="default", **kwargs):
    """The cache is a database table (settings.CACHES: sign-in limits, used TOTP codes), so
    every migrate makes sure it exists: `touchup demo`, deployments, tests, a restore."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


class ClinicConfig(AppConfig):
    name = "touchup.clinic"
    label = "clinic"
    verbose_name = "Clinic"

    def ready(self):
        from . import idle, signin_audit, user_sessions

        signin_audit.connect()
        idle.connect()
        user_sessions.connect()
        post_migrate.connect(_create_cache_table, sender=self, dispatch_uid="touchup_cache_table")
