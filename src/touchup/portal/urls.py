"""Patient portal, mounted at /portal/. Objects by opaque public_id only."""

from django.urls import path, re_path

from .views import account, booking, care, diary, pages, photos, results, settings

app_name = "portal"

urlpatterns = [
    path("", pages.home, name="home"),
    path("login/", account.portal_login, name="login"),
    path("join/<str:token>/", account.join, name="join"),
    # A forgotten password, in the portal's layout (views/account.py); allauth's key format.
    path("password/reset/", account.password_reset, name="password_reset"),
    path("password/reset/done/", account.password_reset_done, name="password_reset_done"),
    path("password/reset/key/done/", account.password_reset_from_key_done, name="password_reset_from_key_done"),
    re_path(r"^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$", account.password_reset_from_key,
            name="password_reset_from_key"),
    path("learn/", pages.learn_index, name="learn_index"),
    path("learn/<slug:indication>/", pages.learn, name="learn"),
    path("screening/", care.screening, name="screening"),
    path("screening/done/", care.screening_done, name="screening_done"),
    path("aftercare/", care.aftercare_index, name="aftercare_index"),
    path("aftercare/<uuid:public_id>/", care.aftercare, name="aftercare"),
    path("side-effects/", care.side_effect_list, name="side_effects"),
    path("side-effects/new/", care.side_effect_new, name="side_effect_new"),
    path("diary/", diary.diary, name="diary"),
    path("diary/checkin/", diary.checkin, name="checkin"),
    path("diary/headache/", diary.headache, name="headache"),
    path("diary/symptoms/", diary.symptoms, name="symptoms"),
    path("photos/", photos.photos, name="photos"),
    path("photos/<uuid:public_id>/", photos.photo, name="photo"),
    path("photos/<uuid:public_id>/consent/", photos.photo_consent, name="photo_consent"),
    path("results/", results.results, name="results"),
    path("settings/", settings.settings, name="settings"),
    path("settings/record.json", settings.record_export, name="record_export"),
    path("book/", booking.book, name="book"),
    path("book/request/", booking.request_call, name="request_call"),
    path("visits/<uuid:public_id>/", booking.visit, name="visit"),
    path("visits/<uuid:public_id>/calendar.ics", booking.visit_ics, name="visit_ics"),
    path("visits/<uuid:public_id>/cancel/", booking.visit_cancel, name="visit_cancel"),
    path("visits/<uuid:public_id>/move/", booking.visit_move, name="visit_move"),
]
