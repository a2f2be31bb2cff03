"""Account rules: staff and patients are invited by the clinic; nobody signs up alone."""

from allauth.account.adapter import DefaultAccountAdapter


class ClosedSignupAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):  # noqa: ARG002 - allauth's signature
        return False
