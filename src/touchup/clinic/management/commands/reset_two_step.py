"""`touchup manage reset_two_step USERNAME`: remove a staff member's authenticator app and
recovery codes when no manager can do it from the Clinic page (the manager's own phone is
lost, or the clinic has a single manager). Audited like the page's reset, with no actor:
the operator at the terminal."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from touchup.clinic.models import Membership
from touchup.clinic.services.two_step import two_step_reset


class Command(BaseCommand):
    help = "Reset a staff member's two-step sign-in (a lost phone): they sign in with their password and set it up again."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        member = Membership.objects.filter(user=user).order_by("-active", "pk").first() if user else None
        if member is None:
            # Patients reset their own from the clinic (a staff member), never from here.
            raise CommandError(f"{username!r} is not a staff member of any clinic.")
        removed = two_step_reset(actor=None, member=member, via="command")
        if removed:
            self.stdout.write(f"Two-step sign-in reset for {username}: they sign in with their password and set it up again.")
        else:
            self.stdout.write(f"{username} had no two-step sign-in: nothing changed.")
