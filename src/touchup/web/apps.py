from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "touchup.web"
    label = "web"
