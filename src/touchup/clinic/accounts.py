"""Account rules: staff and patients are invited by the clinic; nobody signs up alone.
Too many failed sign-ins answer 429 (signin_limits.py)."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from django.urls import reverse

from . import signin_audit, signin_limits
from .access import membership_of
from .client_ip import client_ip
from .links import public_base_url, request_base_url
from .models import Patient


class ClosedSignupAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):  # noqa: ARG002 - allauth's signature
        return False

    def get_login_redirect_url(self, request):
        """Patients who sign in on the staff login land in their portal, not on a 403."""
        if getattr(request.user, "patient", None) is not None and not request.user.memberships.exists():
            return "/portal/"
        return super().get_login_redirect_url(request)

    def get_client_ip(self, request):
        """The address the sign-in limits count: the audit trail's (client_ip.py). allauth's
        own reading of X-Forwarded-For answers a server error when the header has fewer
        entries than TRUSTED_PROXY_COUNT; ours falls back to the socket's address."""
        return client_ip(request.META) or super().get_client_ip(request)

    def send_password_reset_mail(self, user, email, context):
        """A patient's reset link opens the portal's page (its layout, back to its sign-in),
        whichever sign-in page they asked from; staff keep allauth's /accounts/ page."""
        if _is_patient_account(user):
            path = reverse("portal:password_reset_from_key", kwargs={"uidb36": context["uid"], "key": context["key"]})
            request = context.get("request")
            base = request_base_url(request) if request is not None else public_base_url()
            context = {**context, "password_reset_url": base + path}
        return super().send_password_reset_mail(user, email, context)

    def send_mail(self, template_prefix, email, context):
        """allauth's emails (password reset, unknown address) greet from the server's host
        name ("Hello from 127.0.0.1:8000!"); ours name the reader's clinic where the account
        is known (templates account/email/*, subjects without allauth's "[host]" prefix)."""
        return super().send_mail(template_prefix, email, {**context, "clinic_name": _clinic_name(context.get("user"))})

    def pre_authenticate(self, request, **credentials):
        # Kept for validation_error below: which username the limits refused.
        self._touchup_credentials = credentials
        super().pre_authenticate(request, **credentials)

    def validation_error(self, code, *args):
        """allauth refuses an attempt over the limits with a form error (200); answer 429
        instead, and audit the lockout once. This is the one place both the password step
        (pre_authenticate) and the code step (allauth.mfa) ask for that error."""
        if code == "too_many_login_attempts" and context.request is not None:
            raise ImmediateHttpResponse(self._refused(context.request))
        return super().validation_error(code, *args)

    def _refused(self, request):
        credentials = getattr(self, "_touchup_credentials", None)
        if credentials is not None:
            key = self._get_login_attempts_cache_key(request, **credentials)
            user = signin_audit.account_named(credentials.get("username"))
            return signin_limits.refuse(request, key=key, user=user)
        # The code step: allauth counts wrong codes per account under this key
        # (allauth.mfa.base.internal.flows.check_rate_limit).
        stage = getattr(request, "_login_stage", None)
        user = stage.login.user if stage is not None else getattr(request, "user", None)
        if user is None or not getattr(user, "pk", None):
            return signin_limits.throttled_response(request)
        return signin_limits.refuse(request, key=f"mfa-auth-user-{user.pk}", user=user, limit_kind="mfa_code")


def _is_patient_account(user) -> bool:
    """A patient's own account: a Patient is linked to it and it has no staff membership."""
    return membership_of(user) is None and Patient.objects.filter(user=user).exists()


def _clinic_name(user) -> str:
    """The clinic of a staff member or a patient, for an email's greeting; "" if none."""
    if user is None or not getattr(user, "pk", None):
        return ""
    m = membership_of(user)
    if m is not None:
        return m.clinic.name
    patient = Patient.objects.filter(user=user).select_related("clinic").first()
    return patient.clinic.name if patient is not None else ""
