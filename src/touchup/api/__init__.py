"""The JSON API: django-ninja routers over clinic services; OpenAPI at /api/docs."""
