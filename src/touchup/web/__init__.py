"""Staff pages: Django templates with HTMX (vendored in static/)."""
