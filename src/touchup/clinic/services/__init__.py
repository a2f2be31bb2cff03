"""Services: the only code that writes. Each runs in one transaction and writes its
audit event in that same transaction (Zulip's do_* actions)."""
