"""Link the wrinkle_index observations written before Observation.photo existed to the
photo they were measured on, so removing a photo or withdrawing its clinical consent
takes its measurements out of the series. A row is linked only when everything matches
(patient, the area the view measures, the day taken, source "photo", and the very value
in the photo's stored analysis); anything else is left as it was."""

from django.db import migrations

# touchup.clinic.services.photos.VIEW_AREAS as it stood when this migration was written.
VIEW_AREAS = {"frown": "glabella", "brows_raised": "forehead", "smile_squint": "crows_feet",
              "neck_tensed": "platysma"}


def link(apps, schema_editor):
    Photo = apps.get_model("clinic", "Photo")
    Observation = apps.get_model("clinic", "Observation")
    for photo in Photo.objects.filter(analysis_status="done", view__in=list(VIEW_AREAS)).iterator():
        area = VIEW_AREAS[photo.view]
        measured = ((photo.analysis or {}).get("regions") or {}).get(area)
        if not measured or measured.get("wrinkle_index") is None:
            continue
        obs = (
            Observation.objects.filter(
                patient_id=photo.patient_id, area=area, observed_on=photo.taken_on, kind="wrinkle_index",
                source="photo", photo__isnull=True, value=float(measured["wrinkle_index"]),
            ).order_by("pk").first()
        )
        if obs is not None:
            obs.photo_id = photo.pk
            obs.save(update_fields=["photo"])


class Migration(migrations.Migration):

    dependencies = [
        ("clinic", "0006_photo_consent_and_removal"),
    ]

    operations = [
        migrations.RunPython(link, migrations.RunPython.noop),
    ]
