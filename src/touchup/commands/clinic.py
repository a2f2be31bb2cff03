"""`touchup clinic create`: the first run of a clinic's own install. It makes the clinic
and its first manager, who sets their password from a one-time link (or types one on
standard input): Touchup has no default account. Then the manager adds the staff from the
Clinic page. See docs/using-touchup.md, "Setting up a clinic"."""

from __future__ import annotations

import argparse
import sys

from ._django import setup

# The service's field names, as the options that set them.
OPTION = {"name": "--name", "slug": "--slug", "time_zone": "--time-zone", "manager": "--manager",
          "manager_name": "--manager-name", "manager_email": "--manager-email", "password": "--password-stdin",
          "phone": "--phone"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clinic", help="set up a clinic and its first manager")
    actions = p.add_subparsers(dest="clinic_command", metavar="ACTION")
    actions.required = True
    c = actions.add_parser(
        "create", help="create a clinic and its first manager (no password: a one-time link sets it)",
        description="Create a clinic and its first manager. The manager's account has no password: the "
                    "command prints a one-time link (valid 72 hours; its address starts with "
                    "TOUCHUP_PUBLIC_URL) where they choose one, or reads one from standard input with "
                    "--password-stdin. Exit 2, with nothing written, on bad input.")
    c.add_argument("--name", required=True, help="the clinic's name, as staff and patients see it")
    c.add_argument("--slug", required=True, help="a short unique code: letters, digits, - and _")
    c.add_argument("--time-zone", default="UTC", help="the clinic's time zone, e.g. Europe/London (default UTC)")
    c.add_argument("--phone", default="", help="the clinic's phone number for patients, e.g. "
                   '"020 7946 0000" (optional: shown wherever patients are told to call the clinic)')
    c.add_argument("--manager", required=True, metavar="USERNAME", help="the first manager's username")
    c.add_argument("--manager-name", default="", metavar='"GIVEN FAMILY"', help="the first manager's name")
    c.add_argument("--manager-email", default="", metavar="EMAIL", help="the first manager's email address")
    c.add_argument("--password-stdin", action="store_true",
                   help="read the manager's password from standard input instead of printing a link")
    c.set_defaults(func=run_create)


def _read_password() -> str:
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("Password for the manager: ")
    return sys.stdin.readline().rstrip("\r\n")


def run_create(args: argparse.Namespace) -> int:
    given, _, family = args.manager_name.strip().partition(" ")
    password = _read_password() if args.password_stdin else None
    setup()
    from touchup.clinic.errors import InvalidInput
    from touchup.clinic.services.staff import clinic_create

    try:
        made = clinic_create(
            name=args.name, slug=args.slug, time_zone=args.time_zone, manager_username=args.manager,
            manager_given_name=given, manager_family_name=family.strip(), manager_email=args.manager_email,
            password=password, phone=args.phone)
    except InvalidInput as exc:
        if exc.field == "password" and not password:
            exc.message = "is empty (give it on standard input)"
        print(f"touchup clinic create: {OPTION.get(exc.field, exc.field)}: {exc.message}; nothing was created",
              file=sys.stderr)
        return 2
    clinic, member = made.clinic, made.membership
    print(f"created clinic {clinic.name} ({clinic.slug}, time zone {clinic.time_zone}) "
          f"with manager {member.user.get_username()}")
    if made.link is None:
        print("The manager signs in with the password given.")
    else:
        print(f"The manager sets their password with this link (it works once, until "
              f"{made.link.expires_at:%Y-%m-%d %H:%M} UTC):")
        print(f"  {made.link.link}")
        print("Hand it over privately: whoever opens it first chooses the password.")
    return 0
