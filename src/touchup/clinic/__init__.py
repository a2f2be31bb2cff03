"""The clinic: models, services (the only writers), the access gate and the audit trail."""
