"""Account rules: staff and patients are invited by the clinic; nobody signs up alone."""

from allauth.account.adapter import DefaultAccountAdapter


class ClosedSignupAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):  # noqa: ARG002 - allauth's signature
        return False

    def get_login_redirect_url(self, request):
        """Patients who sign in on the staff login land in their portal, not on a 403."""
        if getattr(request.user, "patient", None) is not None and not request.user.memberships.exists():
            return "/portal/"
        return super().get_login_redirect_url(request)
