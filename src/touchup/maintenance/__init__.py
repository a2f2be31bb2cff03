"""The maintenance loop: per-area forecasts kept in the database, the "due for
maintenance" worklist, reminders and their dispatch, clinicians' hours and bookings."""
