"""Background tasks on the django-tasks API (reminders, photo analysis, forecasts)."""
