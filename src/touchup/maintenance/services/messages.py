"""What a reminder says. Short, and nothing clinical beyond what the patient needs: no
product, dose, area or diagnosis (messages cross email and SMS providers and lock
screens), the clinic's name and a link to sign in for the rest; the clinic's phone number
where the patient may need to call (touchup.core.contact words it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from touchup.clinic.links import public_base_url
from touchup.core.contact import call_the_clinic
from touchup.core.photo_rules import watch_views

from ..models import Reminder, ReminderStep


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def portal_link(page: str = "") -> str:
    """The portal page a message is about, so one tap (and a sign-in, which comes back
    to it) lands where the patient answers or books, not on the portal's front page."""
    return f"{public_base_url()}/portal/{page}"


# The page each step's link opens (the wear-off watch's: watch_page).
_PAGE = {
    ReminderStep.AFTERCARE: "aftercare/",
    ReminderStep.CHECKIN_PEAK: "diary/",
    ReminderStep.MAINTENANCE: "book/",
}


def watch_page(area: str, areas: Iterable[str] = ()) -> str:
    """The page the wear-off watch's messages open, for a treatment of `areas` whose watch
    follows `area` (its leading area). Where photos measure the treated areas, the photo
    diary, asking for the view of each of them (core.photo_rules.watch_views): a photo read
    against the patient's untreated one says how much effect is left, which a yes/no answer
    cannot (docs/forecast.md, variant "watch_photo"); the page takes the views in turn and
    asks the yes/no question too. One view: `photos/?view=frown`; several:
    `photos/?ask=brows_raised,frown`, the page opening on the first not yet taken today.
    The views go in the link's query string, never in the words: "frown" beside the
    clinic's name on a lock screen would say what was treated. No area a photo measures
    (migraine, dystonia): the diary."""
    views = watch_views(area, areas)
    if not views:
        return "diary/"
    if len(views) == 1:
        return f"photos/?{urlencode({'view': views[0]})}"
    return f"photos/?{urlencode({'ask': ','.join(views)}, safe=',')}"


def _weekday(day: dt.date) -> str:
    return day.strftime("%A")


def _sentence(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:]


def compose(reminder: Reminder, *, clinic_name: str, given_name: str, treated_on: dt.date,
            clinic_phone: str = "", areas: Iterable[str] = ()) -> Message:
    """The reminder's words. `clinic_phone`: the clinic's number for patients ("" while it
    has none: the words then say "who to call" and "call us", as before there was one).
    `areas`: the treatment's areas (the wear-off watch asks for a photo of each a photo
    measures; without them, of the reminder's area alone)."""
    step = reminder.step
    link = portal_link(_PAGE.get(step, ""))
    hello = f"Hello {given_name},"
    if step == ReminderStep.AFTERCARE:
        resume = treated_on + dt.timedelta(days=2)
        # The day's one message about warning signs: someone who notices one tonight needs
        # the number in hand, not behind a sign-in.
        call = (f"Your full aftercare sheet and the warning signs: {link}\nIf you notice one, "
                f"{call_the_clinic(clinic_phone)} (trouble swallowing, speaking or breathing: your "
                "local emergency number)." if clinic_phone
                else f"Your full aftercare sheet and who to call: {link}")
        return Message(
            f"{clinic_name}: this evening and the next two days",
            f"{hello}\nthank you for your visit today. Until {_weekday(resume)}: no strenuous exercise, "
            "sauna or massage of the treated skin, and don't press or rub it. "
            f"{call}\n— {clinic_name}",
        )
    if step == ReminderStep.CHECKIN_PEAK:
        return Message(
            f"{clinic_name}: how is it going?",
            f"{hello}\nit has been a little while since your visit. How is it going? "
            f"Two taps tell us: {link}\n— {clinic_name}",
        )
    if step in (ReminderStep.CHECKIN_BEFORE_WINDOW, ReminderStep.CHECKIN_WATCH):
        # The watch asks the same question each week until the answer is yes; where
        # photos measure the treated areas, it asks for today's photos as well, all of
        # them in this one message (the page lists them; the words name none).
        views = watch_views(reminder.area, areas)
        page = watch_page(reminder.area, areas)
        ask = ("Let us know" if not views else "Take today's photo and let us know" if len(views) == 1
               else f"Take today's {len(views)} photos and let us know")
        return Message(
            f"{clinic_name}: a quick check-in",
            f"{hello}\nis the effect of your last treatment starting to wear off? "
            f"{ask}: {portal_link(page)}\n— {clinic_name}",
        )
    if step == ReminderStep.MAINTENANCE:
        return Message(
            f"{clinic_name}: time to book your next visit",
            f"{hello}\nthis is a good time to book your next visit. "
            f"{_sentence(call_the_clinic(clinic_phone)) if clinic_phone else 'Call us'} or book here: {link}"
            f"\n— {clinic_name}",
        )
    raise ValueError(f"unknown reminder step {step!r}")
