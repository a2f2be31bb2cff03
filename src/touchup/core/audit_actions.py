"""Every action Touchup writes to the audit trail, in the words the manager's audit page
shows, and the kind of action each one is (the page's filter).

One table, so a new `audit.record("x.y", ...)` without words is caught: the test suite
notes every action saved (tests/audit_words_watch.py) and fails a test that records one
missing here. The code stays on the page beside the words: it is what `detail`, the
logs and `touchup audit verify` speak.
"""

from __future__ import annotations

# The kinds of action, in the order the filter lists them.
SIGNIN = "signin"
RECORDS = "records"
CHARTS = "charts"
PHOTOS = "photos"
BOOKINGS = "bookings"
CLINIC = "clinic"
REFUSED = "refused"

KINDS: dict[str, str] = {
    SIGNIN: "Sign-in and sessions",
    RECORDS: "Patient records",
    CHARTS: "Charts and treatments",
    PHOTOS: "Photos",
    BOOKINGS: "Bookings and reminders",
    CLINIC: "Staff and clinic settings",
    REFUSED: "Refused access",
}

# action code -> (kind, words). "Patient ..." is the patient themself, on the portal.
ACTIONS: dict[str, tuple[str, str]] = {
    # Sign-in and sessions (touchup.clinic.signin_audit, idle, signin_limits, user_sessions)
    "signin": (SIGNIN, "Signed in"),
    "signin.failed": (SIGNIN, "Sign-in failed"),
    "signin.locked": (SIGNIN, "Sign-in paused: too many failures"),
    "signout": (SIGNIN, "Signed out"),
    "signout.idle": (SIGNIN, "Signed out: no activity"),
    "signout.expired": (SIGNIN, "Signed out: 12 hours since sign-in"),
    "password.changed": (SIGNIN, "Password changed"),
    "password.reset": (SIGNIN, "Password reset (email link)"),
    "password.set": (SIGNIN, "Password set"),
    "mfa.activated": (SIGNIN, "Two-step sign-in turned on"),
    "mfa.deactivated": (SIGNIN, "Two-step sign-in turned off"),
    "mfa.recovery_codes": (SIGNIN, "New recovery codes made"),
    "mfa.failed": (SIGNIN, "Two-step code refused"),
    "account.deactivated": (SIGNIN, "Account deactivated"),
    "sessions.ended": (SIGNIN, "Other sessions ended"),
    # Patient records
    "patient.view": (RECORDS, "Opened the patient's record"),
    "patient.create": (RECORDS, "Added a patient"),
    "patient.update": (RECORDS, "Changed the patient's details"),
    "patient.reminder_channel": (RECORDS, "Changed how the patient gets reminders"),
    "patient.export": (RECORDS, "Exported the patient's record (FHIR file)"),
    "screening.view": (RECORDS, "Opened a screening"),
    "screening.record": (RECORDS, "Recorded a screening"),
    "screening.doctor_signoff": (RECORDS, "Doctor signed off a screening"),
    "portal.view": (RECORDS, "Patient opened the portal"),
    "portal.hit6.record": (RECORDS, "Patient filled in a headache diary (HIT-6)"),
    "portal.invitation.create": (RECORDS, "Invited the patient to the portal"),
    "portal.invitation.accept": (RECORDS, "Patient accepted the portal invitation"),
    # Charts and treatments
    "treatment.view": (CHARTS, "Opened a treatment"),
    "treatment.start": (CHARTS, "Started a treatment"),
    "treatment.chart": (CHARTS, "Changed the chart"),
    "treatment.update": (CHARTS, "Changed the treatment's details"),
    "treatment.sign": (CHARTS, "Signed the chart"),
    "treatment.amend": (CHARTS, "Amended a signed chart"),
    "treatment.discard": (CHARTS, "Discarded a draft treatment"),
    "observation.record": (CHARTS, "Recorded a wear-off check"),
    "forecast.view": (CHARTS, "Opened the wear-off forecast"),
    "forecast.recompute": (CHARTS, "Forecast recalculated"),
    "forecast.calibration.request": (CHARTS, "Asked for a forecast calibration"),
    "forecast.calibration.propose": (CHARTS, "Forecast calibration proposed"),
    "forecast.calibration.apply": (CHARTS, "Applied a forecast calibration"),
    # Before the scoring ran in the background, opening the page read every chart: those
    # events carry {"patients": n} in their detail; since then it reads the kept numbers.
    "forecast.track_record.view": (CHARTS, "Opened the forecast track record"),
    "forecast.track_record.request": (CHARTS, "Asked for the forecast track record to be scored again"),
    "forecast.track_record.score": (CHARTS, "Scored the forecast track record (every chart of the clinic)"),
    "vial.receive": (CHARTS, "Received a vial"),
    "vial.reconstitute": (CHARTS, "Reconstituted a vial"),
    "vial.recall_list": (CHARTS, "Looked up the patients of a recalled lot"),
    "portal.side_effect.report": (CHARTS, "Patient reported a side effect"),
    "portal.side_effect.view": (CHARTS, "Opened a reported side effect"),
    "portal.side_effect.review": (CHARTS, "Reviewed a reported side effect"),
    # Photos
    "photo.view": (PHOTOS, "Opened a photo"),
    "photo.upload": (PHOTOS, "Took or uploaded a photo"),
    "photo.check": (PHOTOS, "Checked a photo before keeping it"),
    "photo.consent": (PHOTOS, "Recorded photo consent"),
    "photo.baseline": (PHOTOS, "Chose the baseline photo"),
    "photo.analysis": (PHOTOS, "Photo analysed"),
    "photo.reanalyse": (PHOTOS, "Asked for a photo to be analysed again"),
    "photo.remove": (PHOTOS, "Removed a photo"),
    # Bookings and reminders
    "appointment.view": (BOOKINGS, "Opened a booking"),
    "appointment.book": (BOOKINGS, "Booked a visit"),
    "appointment.move": (BOOKINGS, "Moved a visit"),
    "appointment.cancel": (BOOKINGS, "Cancelled a visit"),
    "worklist.view": (BOOKINGS, "Opened the maintenance worklist"),
    "appointment.day_view": (BOOKINGS, "Opened the clinic's appointments for a day"),
    "worklist.contact": (BOOKINGS, "Noted a call to the patient"),
    "worklist.early_report": (BOOKINGS, "Noted a call about an early wear-off report"),
    "reminder.sent": (BOOKINGS, "Reminder sent"),
    "schedule.hours": (BOOKINGS, "Changed a clinician's working hours"),
    "calendar.feed_create": (BOOKINGS, "Made a calendar feed"),
    "calendar.feed_read": (BOOKINGS, "Calendar feed read"),
    "calendar.feed_revoke": (BOOKINGS, "Turned off a calendar feed"),
    "portal.worklist.view": (BOOKINGS, "Opened the portal requests (side effects, calls)"),
    "portal.booking_request.create": (BOOKINGS, "Patient asked to be called to book"),
    "portal.booking_request.handle": (BOOKINGS, "Handled a patient's call request"),
    # Staff and clinic settings (touchup.clinic.services.staff, the clinic page, the CLI)
    "staff.add": (CLINIC, "Added a staff member"),
    "staff.change": (CLINIC, "Changed a staff member's role"),
    "staff.deactivate": (CLINIC, "Deactivated a staff member"),
    "staff.reactivate": (CLINIC, "Reactivated a staff member"),
    "staff.password_link": (CLINIC, "Made a set-password link"),
    "staff.password_set": (CLINIC, "Staff member chose a password"),
    "two_step.reset": (CLINIC, "Reset a staff member's two-step sign-in"),
    "clinic.two_step_policy": (CLINIC, "Changed the two-step sign-in rule"),
    "clinic.contact": (CLINIC, "Changed the clinic's phone or email for patients"),
    "clinic.create": (CLINIC, "Clinic created"),
    "api_token.create": (CLINIC, "Made an API token"),
    "api_token.revoke": (CLINIC, "Revoked an API token"),
    "backup.create": (CLINIC, "Backup made"),
    "backup.restore": (CLINIC, "Backup restored"),
    "demo.seed": (CLINIC, "Demo data added"),
    # Refused: a role without the right, an id that is not this clinic's, a removed photo
    "access.role": (REFUSED, "Refused: not allowed for the role"),
    "access.no_membership": (REFUSED, "Refused: not staff of a clinic"),
    "access.two_step_required": (REFUSED, "Refused: two-step sign-in not set up yet"),
    "photo.removed": (REFUSED, "Refused: the photo was removed"),
    "portal.not_a_patient": (REFUSED, "Refused: not a patient"),
    "patient.not_found": (REFUSED, "Refused: no such patient here"),
    "treatment.not_found": (REFUSED, "Refused: no such treatment here"),
    "screening.not_found": (REFUSED, "Refused: no such screening here"),
    "photo.not_found": (REFUSED, "Refused: no such photo here"),
    "vial.not_found": (REFUSED, "Refused: no such vial here"),
    "membership.not_found": (REFUSED, "Refused: no such staff member here"),
    "appointment.not_found": (REFUSED, "Refused: no such booking here"),
    "api_token.not_found": (REFUSED, "Refused: no such API token"),
    "portal.treatment.not_found": (REFUSED, "Refused: not this patient's treatment"),
    "portal.appointment.not_found": (REFUSED, "Refused: not this patient's booking"),
    "portal.photo.not_found": (REFUSED, "Refused: not this patient's photo"),
    "portal.booking_request.not_found": (REFUSED, "Refused: no such call request here"),
    "portal.side_effect.not_found": (REFUSED, "Refused: no such side-effect report here"),
}


def words(action: str) -> str:
    """The action in words, or "" for a code this table does not know."""
    entry = ACTIONS.get(action)
    return entry[1] if entry else ""


def kind_of(action: str) -> str:
    entry = ACTIONS.get(action)
    return entry[0] if entry else ""


def actions_of_kind(kind: str) -> list[str]:
    """The codes of one kind, for the filter's `action IN (...)`."""
    return sorted(a for a, (k, _) in ACTIONS.items() if k == kind)
