from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "touchup.web"
    label = "web"

    def ready(self) -> None:
        from .log_paths import install

        install()  # no feed or invitation token in Django's own log lines (log_paths.py)
