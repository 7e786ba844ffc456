"""What a patron reads: one Greek and one English text per kind of notice.

A patron's ``language`` chooses the text (Greek unless it says English).  Templates are
``str.format`` strings over already formatted facts; a paragraph that needs a fact the
notice lacks (a deadline, a title) is left out rather than printed half empty.  Dates and
amounts are written the way each language writes them: ``Δευτέρα 30/11/2026`` and
``2,50 €``; ``Monday 30 November 2026`` and ``€2.50``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Final, Literal

Language = Literal["el", "en"]


class Notice(StrEnum):
    """The kinds of e-mail a patron receives."""

    HOLD_READY = "hold_ready"  # UOC-4b: waiting on the hold shelf until a deadline
    LOAN_RECALLED = "loan_recalled"  # UOC-4a: recalled, with the new due date
    ILL_ARRIVED = "ill_arrived"  # TUC-ILL-4, CUT-A9: collect by the pickup deadline
    ILL_COPY_ARRIVED = "ill_copy_arrived"  # TUC-ILL-3: a copy, the patron's to keep
    ILL_RECALLED = "ill_recalled"  # CUT-A10: the supplier recalled it
    ILL_OVERDUE = "ill_overdue"  # past the supplier's due date
    ILL_CANCELLED = "ill_cancelled"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    FEE_ASSESSED = "fee_assessed"


@dataclass(frozen=True, kw_only=True)
class Facts:
    """What a notice says, before it is put into words."""

    patron_name: str
    library_el: str
    library_en: str
    title: str | None = None
    branch: str | None = None
    on: date | None = None
    amount: Decimal | None = None
    currency: str = "EUR"
    fee_kind: str | None = None
    rule: str | None = None


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


@dataclass(frozen=True)
class Template:
    """``subject`` and ``body`` with ``{if_<fact>}`` slots filled by ``optional[fact]``."""

    subject: str
    body: str
    optional: dict[str, str] = field(default_factory=dict)


_FRAME: Final[dict[Language, Template]] = {
    "el": Template(
        subject="",
        body=(
            "Αγαπητέ/ή {name},\n\n{text}\n\n{library}\n"
            "{if_rule}Αυτό το μήνυμα στάλθηκε αυτόματα· παρακαλούμε μην απαντάτε σε αυτό.\n"
        ),
        optional={"rule": "Κανόνας δανεισμού: {rule}\n"},
    ),
    "en": Template(
        subject="",
        body=(
            "Dear {name},\n\n{text}\n\n{library}\n"
            "{if_rule}This message was sent automatically; please do not reply to it.\n"
        ),
        optional={"rule": "Lending rule: {rule}\n"},
    ),
}

TEMPLATES: Final[dict[tuple[Notice, Language], Template]] = {
    (Notice.HOLD_READY, "el"): Template(
        "Η κράτησή σας είναι έτοιμη για παραλαβή: {title}",
        "Το τεκμήριο «{title}» που κρατήσατε σας περιμένει{if_branch}.\n"
        "{if_on}Μετά την ημερομηνία αυτή η κράτηση λήγει και το τεκμήριο διατίθεται στον "
        "επόμενο αναγνώστη ή επιστρέφει στο ράφι.",
        {"branch": " στο σημείο εξυπηρέτησης {branch}", "on": "Παραλάβετέ το έως και {on}. "},
    ),
    (Notice.HOLD_READY, "en"): Template(
        "Your hold is ready for pickup: {title}",
        "“{title}”, which you placed a hold on, is waiting for you{if_branch}.\n"
        "{if_on}After that the hold expires and the item goes to the next reader or back "
        "to the shelf.",
        {"branch": " at {branch}", "on": "Please collect it by {on}. "},
    ),
    (Notice.LOAN_RECALLED, "el"): Template(
        "Ανάκληση δανεισμού: επιστροφή έως {on}",
        "Το τεκμήριο «{title}» που έχετε δανειστεί το ζήτησε άλλος αναγνώστης και "
        "ανακαλείται.\nΗ νέα ημερομηνία επιστροφής είναι {on}. Παρακαλούμε επιστρέψτε το "
        "έως τότε.",
    ),
    (Notice.LOAN_RECALLED, "en"): Template(
        "Recall: please return by {on}",
        "“{title}”, which you have on loan, has been requested by another reader and is "
        "recalled.\nThe new due date is {on}. Please return it by then.",
    ),
    (Notice.ILL_ARRIVED, "el"): Template(
        "Το τεκμήριο διαδανεισμού έφτασε: {title}",
        "Το τεκμήριο «{title}» που ζητήσατε μέσω διαδανεισμού έφτασε και σας "
        "περιμένει{if_branch}.\n{if_on}Κατά την παραλαβή θα μάθετε την ακριβή ημερομηνία "
        "επιστροφής.",
        {
            "branch": " στο σημείο εξυπηρέτησης {branch}",
            "on": "Παραλάβετέ το έως και {on}· αν δεν το παραλάβετε, επιστρέφεται στη "
            "βιβλιοθήκη που το διέθεσε και χρεώνεστε τα έξοδα αποστολής και διάθεσης.\n",
        },
    ),
    (Notice.ILL_ARRIVED, "en"): Template(
        "Your interlibrary loan has arrived: {title}",
        "“{title}”, which you requested through interlibrary loan, has arrived and is "
        "waiting for you{if_branch}.\n{if_on}When you collect it you will learn the exact "
        "return date.",
        {
            "branch": " at {branch}",
            "on": "Please collect it by {on}; if it is not collected, it goes back to the "
            "lending library and you are charged its fee and the shipping.\n",
        },
    ),
    (Notice.ILL_COPY_ARRIVED, "el"): Template(
        "Το αντίγραφο που ζητήσατε έφτασε: {title}",
        "Το αντίγραφο «{title}» που ζητήσατε μέσω διαδανεισμού έφτασε. Είναι δικό σας· "
        "δεν χρειάζεται να το επιστρέψετε.",
    ),
    (Notice.ILL_COPY_ARRIVED, "en"): Template(
        "Your copy has arrived: {title}",
        "The copy of “{title}” you requested through interlibrary loan has arrived. It is "
        "yours to keep.",
    ),
    (Notice.ILL_RECALLED, "el"): Template(
        "Ανάκληση διαδανεισμού: επιστροφή έως {on}",
        "Η βιβλιοθήκη που διέθεσε το «{title}» το ανακάλεσε.\nΠαρακαλούμε επιστρέψτε το έως {on}.",
    ),
    (Notice.ILL_RECALLED, "en"): Template(
        "Interlibrary loan recalled: please return by {on}",
        "The library that lent “{title}” has recalled it.\nPlease return it by {on}.",
    ),
    (Notice.ILL_OVERDUE, "el"): Template(
        "Εκπρόθεσμος διαδανεισμός: {title}",
        "Η προθεσμία της βιβλιοθήκης που διέθεσε το «{title}» έχει λήξει. Παρακαλούμε "
        "επιστρέψτε το το συντομότερο.",
    ),
    (Notice.ILL_OVERDUE, "en"): Template(
        "Interlibrary loan overdue: {title}",
        "The lending library's due date for “{title}” has passed. Please return it as soon "
        "as possible.",
    ),
    (Notice.ILL_CANCELLED, "el"): Template(
        "Ακύρωση αιτήματος διαδανεισμού: {title}",
        "Το αίτημα διαδανεισμού σας για το «{title}» ακυρώθηκε.",
    ),
    (Notice.ILL_CANCELLED, "en"): Template(
        "Interlibrary loan request cancelled: {title}",
        "Your interlibrary loan request for “{title}” has been cancelled.",
    ),
    (Notice.DUE_SOON, "el"): Template(
        "Υπενθύμιση: επιστροφή έως {on}",
        "Το τεκμήριο «{title}» που έχετε δανειστεί πρέπει να επιστραφεί έως {on}. Αν οι "
        "κανόνες το επιτρέπουν, μπορείτε να ανανεώσετε τον δανεισμό.",
    ),
    (Notice.DUE_SOON, "en"): Template(
        "Reminder: due back by {on}",
        "“{title}”, which you have on loan, is due back by {on}. If the rules allow it, you "
        "can renew the loan.",
    ),
    (Notice.OVERDUE, "el"): Template(
        "Εκπρόθεσμος δανεισμός: {title}",
        "Η προθεσμία επιστροφής του «{title}» ήταν {on}. Παρακαλούμε επιστρέψτε το το "
        "συντομότερο· ενδέχεται να χρεωθεί πρόστιμο καθυστέρησης.",
    ),
    (Notice.OVERDUE, "en"): Template(
        "Overdue: {title}",
        "“{title}” was due back on {on}. Please return it as soon as possible; a late fine "
        "may apply.",
    ),
    (Notice.FEE_ASSESSED, "el"): Template(
        "Νέα χρέωση στον λογαριασμό σας: {amount}",
        "Στον λογαριασμό σας καταχωρίστηκε χρέωση {amount} ({fee_kind}){if_title}.\n"
        "Μπορείτε να την εξοφλήσετε στο γκισέ δανεισμού.",
        {"title": " για το «{title}»"},
    ),
    (Notice.FEE_ASSESSED, "en"): Template(
        "New charge on your account: {amount}",
        "A charge of {amount} ({fee_kind}){if_title} has been added to your account.\n"
        "You can pay it at the circulation desk.",
        {"title": " for “{title}”"},
    ),
}

FEE_KINDS: Final[dict[str, tuple[str, str]]] = {
    "overdue": ("πρόστιμο καθυστέρησης", "late return fine"),
    "replacement": ("κόστος αντικατάστασης", "replacement cost"),
    "lost_or_damaged": ("χρέωση απώλειας ή φθοράς", "lost or damaged item charge"),
    "security_gate": ("πρόστιμο συστήματος ασφαλείας", "security gate fine"),
    "ill_charge": ("χρέωση διαδανεισμού", "interlibrary loan charge"),
    "ill_late_return": (
        "πρόστιμο καθυστερημένης επιστροφής διαδανεισμού",
        "interlibrary loan late return fee",
    ),
    "ill_replacement": ("κόστος αντικατάστασης διαδανεισμού", "interlibrary loan replacement"),
    "ill_uncollected": (
        "χρέωση για τεκμήριο διαδανεισμού που δεν παραλήφθηκε",
        "uncollected interlibrary loan charge",
    ),
}

_WEEKDAYS: Final[dict[Language, tuple[str, ...]]] = {
    "el": ("Δευτέρα", "Τρίτη", "Τετάρτη", "Πέμπτη", "Παρασκευή", "Σάββατο", "Κυριακή"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS_EN: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_TITLE_IN_SUBJECT = 80


def language_of(value: str | None) -> Language:
    """English for ``en``/``en-GB``/``EN``...; Greek for everything else (the default)."""
    return "en" if (value or "").strip().lower()[:2] == "en" else "el"


def format_date(day: date, language: Language) -> str:
    weekday = _WEEKDAYS[language][day.weekday()]
    if language == "el":
        return f"{weekday} {day.day:02d}/{day.month:02d}/{day.year}"
    return f"{weekday} {day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def format_amount(amount: Decimal, currency: str, language: Language) -> str:
    cents = amount.quantize(Decimal("0.01"))
    if language == "el":
        text = f"{cents:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
        return f"{text} €" if currency == "EUR" else f"{text} {currency}"
    return f"€{cents:,.2f}" if currency == "EUR" else f"{cents:,.2f} {currency}"


def fee_kind_name(kind: str | None, language: Language) -> str:
    names = FEE_KINDS.get(kind or "")
    if names is None:
        return (kind or "").replace("_", " ") or ("χρέωση" if language == "el" else "charge")
    return names[0] if language == "el" else names[1]


def _short(title: str) -> str:
    return title if len(title) <= _TITLE_IN_SUBJECT else title[: _TITLE_IN_SUBJECT - 1] + "…"


def render(notice: Notice, language: Language, facts: Facts) -> Rendered:
    """The subject and plain-text body of ``notice`` for a patron reading ``language``."""
    values: dict[str, str] = {
        "name": facts.patron_name,
        "library": facts.library_el if language == "el" else facts.library_en,
        "title": facts.title or ("(χωρίς τίτλο)" if language == "el" else "(untitled)"),
        "branch": facts.branch or "",
        "on": format_date(facts.on, language) if facts.on else "",
        "amount": (
            format_amount(facts.amount, facts.currency, language)
            if facts.amount is not None
            else ""
        ),
        "fee_kind": fee_kind_name(facts.fee_kind, language),
        "rule": facts.rule or "",
    }
    present = {
        "title": facts.title is not None,
        "branch": facts.branch is not None,
        "on": facts.on is not None,
        "rule": facts.rule is not None,
    }
    template = TEMPLATES[(notice, language)]
    text = _fill(template, values, present)
    subject_values = {**values, "title": _short(values["title"])}
    frame = _FRAME[language]
    body = _fill(frame, {**values, "text": text}, present)
    return Rendered(subject=template.subject.format_map(subject_values), body=body)


def _fill(template: Template, values: dict[str, str], present: dict[str, bool]) -> str:
    slots = {
        f"if_{name}": fragment.format_map(values) if present.get(name) else ""
        for name, fragment in template.optional.items()
    }
    return template.body.format_map({**values, **slots})
