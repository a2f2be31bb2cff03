from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "touchup.portal"
    label = "portal"
