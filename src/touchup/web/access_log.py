"""The web server's access log (`touchup serve`): one line per request, and nothing in it
that identifies a patient or opens a door.

A line is the client address (client_ip.py: behind trusted proxies, the address they
forwarded), the time, the method, the path, the protocol, the status,
the bytes sent and the time taken. Left out on purpose:

- the query string: filters (`/worklist/?…`), `next=` and whatever a form sent by GET;
- the Referer, which is the previous page's full address, query string and all;
- the user agent (it says nothing an admin needs, and fingerprints people);
- secrets that travel in the path: the calendar feed's token, a patient's invitation
  token and allauth's password-reset and email-confirmation keys. Any URL argument named
  in log_paths.SECRET_ARGUMENTS is written as `…`, so a new route with a `token` is covered too.

Paths otherwise name objects by their opaque public ids, never by names (urls.py).
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from touchup.clinic.client_ip import client_ip

from .log_paths import redacted

# client, time, "METHOD /path PROTOCOL", status, bytes, milliseconds: no %(q)s, %(r)s, %(f)s or %(a)s
FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
class AccessLogger(Logger):
    """gunicorn's logger, with the path of each access line passed through `redacted`."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = redacted(atoms.get("U") or "")
        # The client, not the TLS proxy in front, when TOUCHUP_TRUSTED_PROXIES says so.
        atoms["h"] = client_ip(environ) or atoms.get("h") or "-"
        # Only FORMAT's atoms are written; these are blanked in case a format asks for them.
        for name in ("r", "q", "f", "a"):
            atoms[name] = "-"
        return atoms
