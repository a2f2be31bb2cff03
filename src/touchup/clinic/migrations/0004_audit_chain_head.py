"""Create the audit chain's head row up front, so concurrent first writers never race to
insert it (they would on PostgreSQL: two inserts of pk 1)."""

from django.db import migrations

GENESIS = "0" * 64


def create_head(apps, schema_editor):
    Head = apps.get_model("clinic", "AuditChainHead")
    Head.objects.get_or_create(pk=1, defaults={"last_id": 0, "last_hash": GENESIS})


class Migration(migrations.Migration):
    dependencies = [("clinic", "0003_perf_indexes")]
    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
