"""`touchup audit verify`: walk the hash chain and say where it breaks.
`touchup audit unclaimed`: the events no clinic's audit page lists (no clinic: sign-in
attempts on usernames that are no account, lockouts of an address), for whoever runs the
server."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from ._django import setup


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="check the audit trail")
    actions = p.add_subparsers(dest="audit_command", metavar="ACTION")
    actions.required = True
    v = actions.add_parser("verify", help="detect edited, inserted or deleted audit events")
    v.set_defaults(func=run_verify)
    u = actions.add_parser(
        "unclaimed", help="list the events of no clinic (unknown usernames, address lockouts)",
        description="The events no clinic's audit page lists, because they belong to no clinic: "
                    "failed sign-ins with usernames that are no account, and lockouts of an address. "
                    "They hold no patient data and nothing anyone typed. Oldest first.")
    u.add_argument("--since", type=_day, default=None, metavar="YYYY-MM-DD",
                   help="from this day on (UTC; default: the last 7 days)")
    u.add_argument("--json", action="store_true", help="one JSON object per line")
    u.set_defaults(func=run_unclaimed)


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def run_verify(args: argparse.Namespace) -> int:
    setup()
    from touchup.clinic.audit import verify

    result = verify()
    if result.ok:
        print(f"audit trail intact: {result.events} events")
        return 0
    print(f"audit trail BROKEN: {result.problem} (checked {result.events} events before it)", file=sys.stderr)
    return 1


def run_unclaimed(args: argparse.Namespace) -> int:
    setup()
    from django.utils import timezone

    from touchup.clinic.models import AuditEvent
    from touchup.core.audit_actions import words

    since = args.since or (timezone.now() - dt.timedelta(days=7)).date()
    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
    # An event with a patient always has the patient's clinic; the guard keeps it so.
    events = (AuditEvent.objects.filter(clinic_id_ref__isnull=True, patient_id_ref__isnull=True, at__gte=start)
              .order_by("id").values("at", "action", "outcome", "actor_label", "ip", "detail").iterator())
    count = 0
    for e in events:
        count += 1
        at = e["at"].astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if args.json:
            print(json.dumps({"at": at, "action": e["action"], "what": words(e["action"]),
                              "outcome": e["outcome"], "username": e["actor_label"], "ip": e["ip"],
                              "detail": e["detail"]}, sort_keys=True))
        else:
            detail = " ".join(f"{k}={v}" for k, v in sorted((e["detail"] or {}).items()))
            print(f"{at}  {e['ip'] or '-':<15}  {e['action']:<16}  {words(e['action']) or e['action']}"
                  + (f"  [{detail}]" if detail else ""))
    if not args.json:
        print(f"{count} event{'s' if count != 1 else ''} of no clinic since {since.isoformat()} (UTC)",
              file=sys.stderr)
    return 0
