"""The browser tests' live server survives a page that loads many photos at once.

On in-memory SQLite every live-server thread shares the test's one connection; without
tests/conftest.py's one-request-at-a-time server, parallel photo requests there answer 500
("cannot open savepoint - SQL statements in progress"), which once failed CI through a
browser test's console errors.
"""

import datetime as dt
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.photos import images
from tests.photos.conftest import media  # noqa: F401 - fixture


def test_parallel_photo_requests_all_succeed(live_server, patient, clinician, media):  # noqa: F811
    from django.test import Client

    from touchup.clinic.services.photos import photo_upload

    photos = [
        photo_upload(actor=clinician, patient=patient, view="frown", consent_clinical=True,
                     upload=images.jpeg(images.shifted(dx=i)), taken_on=dt.date.today())
        for i in range(3)
    ]
    client = Client()
    client.force_login(clinician)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    def status(url):
        try:
            return urllib.request.urlopen(urllib.request.Request(url, headers={"Cookie": cookie})).status
        except urllib.error.HTTPError as exc:
            return exc.code

    urls = [f"{live_server.url}/photos/{p.public_id}/file/?thumb=1" for p in photos] * 20
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(status, urls))
    assert codes == [200] * len(urls)
