"""Staff pages. Patients, treatments and screenings are addressed by their opaque
public_id (never a name or a row id); vials, which are stock rather than patient data,
by their number."""

from django.urls import path

from .views import audit, chart, observations, patients, photos, screening, treatments, vials

urlpatterns = [
    path("", patients.home, name="home"),
    path("patients/", patients.patient_list, name="patients"),
    path("patients/search/", patients.patient_search, name="patient_search"),
    path("patients/new/", patients.patient_new, name="patient_new"),
    path("patients/<uuid:public_id>/", patients.patient_detail, name="patient"),
    path("patients/<uuid:public_id>/edit/", patients.patient_edit, name="patient_edit"),
    path("patients/<uuid:public_id>/export/fhir/", patients.patient_export_fhir, name="patient_export_fhir"),
    path("patients/<uuid:public_id>/screening/", screening.screening_new, name="screening_new"),
    path("patients/<uuid:public_id>/observations/", observations.observation_new, name="observation_new"),
    path("patients/<uuid:public_id>/treatments/new/", treatments.treatment_new, name="treatment_new"),
    path("screenings/<uuid:public_id>/", screening.screening_detail, name="screening"),
    path("screenings/<uuid:public_id>/signoff/", screening.screening_signoff, name="screening_signoff"),
    path("treatments/", treatments.treatment_list, name="treatments"),
    path("treatments/protocols/", treatments.protocol_options, name="protocol_options"),
    path("treatments/<uuid:public_id>/", chart.chart, name="chart"),
    path("treatments/<uuid:public_id>/points/", chart.chart_save, name="chart_save"),
    path("treatments/<uuid:public_id>/details/", chart.chart_details, name="chart_details"),
    path("treatments/<uuid:public_id>/sign/", chart.chart_sign, name="chart_sign"),
    path("treatments/<uuid:public_id>/discard/", chart.chart_discard, name="chart_discard"),
    path("treatments/<uuid:public_id>/amend/", chart.chart_amend, name="chart_amend"),
    path("treatments/<uuid:public_id>/aftercare/", chart.aftercare, name="aftercare"),
    path("vials/", vials.vial_list, name="vials"),
    path("vials/receive/", vials.vial_receive_view, name="vial_receive"),
    path("vials/<int:vial_id>/reconstitute/", vials.vial_reconstitute_view, name="vial_reconstitute"),
    path("vials/recall/", vials.vial_recall, name="vial_recall"),
    path("audit/", audit.audit_list, name="audit"),
    path("patients/<uuid:public_id>/photos/", photos.photo_list, name="photos"),
    path("patients/<uuid:public_id>/photos/capture/", photos.photo_capture, name="photo_capture"),
    path("patients/<uuid:public_id>/photos/check/", photos.photo_check, name="photo_check"),
    path("patients/<uuid:public_id>/photos/compare/", photos.photo_compare, name="photo_compare"),
    path("patients/<uuid:public_id>/photos/timeline/", photos.photo_timeline_page, name="photo_timeline"),
    path("photos/<uuid:public_id>/", photos.photo_detail, name="photo"),
    path("photos/<uuid:public_id>/file/", photos.photo_file, name="photo_file"),
    path("photos/<uuid:public_id>/aligned/<uuid:onto>/", photos.photo_aligned, name="photo_aligned"),
    path("photos/<uuid:public_id>/status/", photos.photo_status, name="photo_status"),
    path("photos/<uuid:public_id>/consent/", photos.photo_consent, name="photo_consent"),
    path("photos/<uuid:public_id>/baseline/", photos.photo_baseline, name="photo_baseline"),
    path("photos/<uuid:public_id>/remove/", photos.photo_remove, name="photo_remove"),
    path("photos/<uuid:public_id>/reanalyse/", photos.photo_reanalyse, name="photo_reanalyse"),
]

# The clinic's side of the patient portal: invitations and what patients sent.
from .views import portal_admin  # noqa: E402

urlpatterns += [
    path("patients/<uuid:public_id>/portal/", portal_admin.portal_invite, name="portal_invite"),
    path("from-patients/", portal_admin.portal_worklist, name="portal_worklist"),
    path("from-patients/side-effects/<uuid:public_id>/reviewed/", portal_admin.side_effect_reviewed,
         name="portal_side_effect_reviewed"),
    path("from-patients/booking-requests/<uuid:public_id>/done/", portal_admin.booking_request_done,
         name="portal_booking_request_done"),
]

# The maintenance loop: worklist, booking, schedule, calendar feeds.
from .views import booking, day, schedule, worklist  # noqa: E402

urlpatterns += [
    path("worklist/", worklist.worklist, name="worklist"),
    path("worklist/<uuid:public_id>/contact/", worklist.worklist_contact, name="worklist_contact"),
    path("worklist/<uuid:public_id>/early-report/", worklist.worklist_early_report, name="worklist_early_report"),
    path("patients/<uuid:public_id>/book/", booking.book, name="booking"),
    path("appointments/<uuid:public_id>/", booking.appointment_detail, name="appointment"),
    path("appointments/<uuid:public_id>/move/", booking.appointment_move, name="appointment_move"),
    path("appointments/<uuid:public_id>/cancel/", booking.appointment_cancel, name="appointment_cancel"),
    path("appointments/<uuid:public_id>/calendar.ics", booking.appointment_ics, name="appointment_ics"),
    path("schedule/", schedule.schedule, name="schedule"),
    path("day/", day.day_view, name="day"),
    path("schedule/hours/", schedule.schedule_hours, name="schedule_hours"),
    path("schedule/feed/", schedule.schedule_feed, name="schedule_feed"),
    path("calendar/<str:token>.ics", schedule.calendar_feed, name="calendar_feed"),
]

# The clinic's own wear-off medians (the manager).
from .views import calibration  # noqa: E402

urlpatterns += [
    path("forecast/calibration/", calibration.calibration_page, name="calibration"),
    path("forecast/calibration/fit/", calibration.calibration_fit, name="calibration_fit"),
    path("forecast/calibration/<int:pk>/apply/", calibration.calibration_apply, name="calibration_apply"),
]

# How the forecasts did on the clinic's own patients (the manager, as calibration).
from .views import track_record  # noqa: E402

urlpatterns += [
    path("forecast/track-record/", track_record.track_record_page, name="track_record"),
    path("forecast/track-record/score/", track_record.track_record_score, name="track_record_score"),
]

# Your account (every staff member) and the clinic's settings (the manager).
from .views import account, clinic  # noqa: E402

urlpatterns += [
    path("me/", account.your_account, name="your_account"),
    path("clinic/", clinic.clinic_settings, name="clinic_settings"),
    path("clinic/contact/", clinic.clinic_contact, name="clinic_contact"),
    path("clinic/two-step/", clinic.clinic_two_step, name="clinic_two_step"),
    path("clinic/staff/<int:membership_id>/reset-two-step/", clinic.clinic_two_step_reset,
         name="clinic_two_step_reset"),
]

# The clinic's staff (the manager): adding people, roles, leaving (web/views/staff.py).
from .views import staff  # noqa: E402

urlpatterns += [
    path("clinic/staff/new/", staff.staff_add, name="clinic_staff_add"),
    path("clinic/staff/<int:membership_id>/", staff.staff_member, name="clinic_staff_member"),
    path("clinic/staff/<int:membership_id>/deactivate/", staff.staff_deactivate, name="clinic_staff_deactivate"),
    path("clinic/staff/<int:membership_id>/reactivate/", staff.staff_reactivate, name="clinic_staff_reactivate"),
    path("clinic/staff/<int:membership_id>/link/", staff.staff_new_link, name="clinic_staff_new_link"),
]
