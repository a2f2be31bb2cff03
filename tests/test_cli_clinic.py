"""`touchup clinic create`: the first run of a clinic's own install (docs/using-touchup.md,
"Setting up a clinic"). In-process through touchup.cli.main, on the test database."""

import io
import re

import pytest
from django.contrib.auth import get_user_model

from touchup.cli import main
from touchup.clinic.models import AuditEvent, Clinic, Membership, PasswordLink

pytestmark = pytest.mark.django_db

STRONG = "a long new password for mona"
ARGS = ["clinic", "create", "--name", "Gamma Skin", "--slug", "gamma", "--time-zone", "Europe/London",
        "--manager", "gina", "--manager-name", "Gina Grey", "--manager-email", "gina@example.org"]


def counts():
    return (Clinic.objects.count(), get_user_model().objects.count(), Membership.objects.count(),
            PasswordLink.objects.count(), AuditEvent.objects.count())


def run(capsys, *args, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def link_in(out):
    return re.search(r"http://\S+/accounts/welcome/\S+/", out).group(0)


def test_creates_the_clinic_and_its_manager_with_no_password_and_a_link(capsys, client, monkeypatch):
    monkeypatch.setenv("TOUCHUP_PUBLIC_URL", "http://touchup.gamma.test:8000/")
    code, out, err = run(capsys, *ARGS)
    assert code == 0, err
    clinic = Clinic.objects.get(slug="gamma")
    assert (clinic.name, clinic.time_zone, clinic.require_two_step) == ("Gamma Skin", "Europe/London", False)
    member = Membership.objects.select_related("user").get(clinic=clinic)
    user = member.user
    assert (member.role, member.active, member.is_doctor) == ("manager", True, False)
    assert (user.username, user.first_name, user.last_name, user.email) == ("gina", "Gina", "Grey", "gina@example.org")
    assert not user.has_usable_password()  # no default account (ASVS 6.3.2)
    assert "created clinic Gamma Skin (gamma, time zone Europe/London) with manager gina" in out
    link = link_in(out)
    assert link.startswith("http://touchup.gamma.test:8000/accounts/welcome/")
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert token not in str(list(PasswordLink.objects.values()))  # only its hash is kept

    # Audited with no person as actor (the terminal), ids and codes only.
    event = AuditEvent.objects.get(action="clinic.create")
    assert event.actor_id is None and event.actor_label == "" and event.clinic_id_ref == clinic.pk
    assert event.detail == {"membership": member.pk, "user": user.pk, "role": "manager", "password": "link",
                            "via": "command"}
    made = AuditEvent.objects.get(action="staff.password_link")
    assert made.actor_id is None and made.detail["user"] == user.pk and made.detail["via"] == "command"
    assert "gina" not in str(list(AuditEvent.objects.values_list("detail", flat=True)))

    # The link works once: the manager chooses a password, is signed in, reaches the Clinic page.
    path = link.replace("http://touchup.gamma.test:8000", "")
    assert client.get(path).status_code == 200
    r = client.post(path, {"password1": STRONG, "password2": STRONG})
    assert r.status_code == 302 and r["Location"] == "/"
    assert client.get("/clinic/").status_code == 200
    user.refresh_from_db()
    assert user.check_password(STRONG)
    client.logout()
    again = client.get(path)
    assert again.status_code == 410 and "already been used" in again.content.decode()
    assert client.post(path, {"password1": "another long password 9", "password2": "another long password 9"}
                       ).status_code == 410
    user.refresh_from_db()
    assert user.check_password(STRONG)


def test_password_stdin_sets_it_and_prints_no_link(capsys, monkeypatch, client):
    code, out, err = run(capsys, *ARGS, "--password-stdin", stdin=STRONG + "\n", monkeypatch=monkeypatch)
    assert code == 0, err
    assert "/accounts/welcome/" not in out and "signs in with the password given" in out
    user = get_user_model().objects.get(username="gina")
    assert user.check_password(STRONG)
    assert not PasswordLink.objects.exists()
    assert AuditEvent.objects.get(action="clinic.create").detail["password"] == "stdin"
    assert client.login(username="gina", password=STRONG)


def test_the_time_zone_defaults_to_utc(capsys):
    code, _, err = run(capsys, "clinic", "create", "--name", "Delta", "--slug", "delta", "--manager", "dee")
    assert code == 0, err
    assert Clinic.objects.get(slug="delta").time_zone == "UTC"
    assert get_user_model().objects.get(username="dee").first_name == ""


def test_phone_gives_the_clinics_number_for_patients(capsys):
    code, _, err = run(capsys, "clinic", "create", "--name", "Delta", "--slug", "delta", "--manager", "dee",
                       "--phone", "020  7946 0000")
    assert code == 0, err
    assert Clinic.objects.get(slug="delta").phone == "020 7946 0000"
    before = counts()
    code, out, err = run(capsys, "clinic", "create", "--name", "Eta", "--slug", "eta", "--manager", "eve",
                         "--phone", "reception")
    assert code == 2 and "--phone: must be a phone number: 6 to 15 digits" in err and "nothing was created" in err
    assert counts() == before


@pytest.fixture
def existing(django_user_model):
    """A clinic and a person already there (the slug and username a second run would reuse)."""
    clinic = Clinic.objects.create(name="Gamma Skin", slug="gamma")
    django_user_model.objects.create_user(username="Gina", password=STRONG)
    return clinic


@pytest.mark.parametrize(("change", "words"), [
    ({"--slug": "gamma"}, "--slug: 'gamma' is taken by another clinic"),
    ({"--slug": "Gamma"}, "--slug: 'Gamma' is taken by another clinic"),
    ({"--slug": "gamma clinic"}, "--slug: use only letters, digits, - and _"),
    ({"--time-zone": "Europe/Londres"}, "--time-zone: 'Europe/Londres' is not a time zone name"),
    ({"--manager": "gina"}, "--manager: 'gina' is taken: choose another"),  # "Gina" exists
    ({"--manager": "gina lee"}, "--manager: use only letters, digits and @ . + - _"),
    ({"--manager-email": "gina@"}, "--manager-email: is not an email address"),
    ({"--name": " "}, "--name: is required"),
])
def test_each_bad_field_is_named_exit_2_and_nothing_is_written(capsys, existing, change, words):
    args = list(ARGS)
    args[args.index("--slug") + 1] = "epsilon"  # free, unless the case changes it
    args[args.index("--manager") + 1] = "gina2"
    for option, value in change.items():
        args[args.index(option) + 1] = value
    before = counts()
    code, out, err = run(capsys, *args)
    assert code == 2
    assert words in err and "nothing was created" in err, err
    assert out == ""
    assert counts() == before


def test_a_weak_password_on_stdin_is_refused_and_nothing_is_written(capsys, monkeypatch):
    before = counts()
    code, _, err = run(capsys, *ARGS, "--password-stdin", stdin="gammaskin\n", monkeypatch=monkeypatch)
    assert code == 2 and "--password-stdin: This password is too short" in err
    code, _, err = run(capsys, *ARGS, "--password-stdin", stdin="\n", monkeypatch=monkeypatch)
    assert code == 2 and "--password-stdin: is empty" in err
    assert counts() == before


def test_the_subcommand_is_listed_with_its_options(capsys):
    with pytest.raises(SystemExit):
        main(["clinic", "create", "--help"])
    text = capsys.readouterr().out
    for option in ("--name", "--slug", "--time-zone", "--manager", "--manager-name", "--manager-email",
                   "--password-stdin", "--phone", "TOUCHUP_PUBLIC_URL"):
        assert option in text
