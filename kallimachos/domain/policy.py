"""Library policies as data: the typed shape of ``policies/<CODE>.toml``.

Every number, period, rate and switch in ``RULES.md`` lives in a policy file and reaches the
code as one of the frozen dataclasses below; circulation and ILL code reads them and never
branches on a library code. The loader (``kallimachos.policies``) validates the files against
these classes and cross-checks references between them.

Tree of the model::

    PolicySet
    ├── MemberLibrary            role = "member"
    │   ├── branches             Branch (code, name)
    │   ├── categories           {code: CategoryPolicy}      limits, loan period, renewals, fines
    │   ├── collections          CollectionPolicies          loanable + own loan period
    │   ├── item_flags           ItemFlagPolicies            high_demand, damaged, unprocessed
    │   ├── renewals / blocks / fines / replacement / holds / branch_lending
    │   ├── exceptional_loans    ExceptionalLoanPolicy | None
    │   ├── calendar             CalendarPolicy              holidays, closures, academic periods
    │   ├── inventory            InventoryPolicy             announced inventory closures
    │   ├── ill_requesting       IllRequestingPolicy         the library as borrower
    │   └── ill_supplying        IllSupplyingPolicy          the library as lender
    └── ExternalSupplier         role = "external_supplier"  mediated, by citation, no holdings

Units are in the field names: ``*_days`` are calendar days, ``*_working_days`` are days the
library is open (Monday-Friday minus holidays and closures), ``*_months`` are calendar months.
Money is ``Decimal`` in the library's currency; rates are fractions (``0.15`` is 15 %).

Every section that implements rules names them (``rule``/``rules``), and ``cite`` says which
rule a refusal based on a particular key must name; see :meth:`RuleRefs.rule_for`.
"""

import calendar as _calendar
import dataclasses
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Role = Literal["member", "external_supplier"]
Currency = Literal["EUR"]
CollectionCode = Literal[
    "general",
    "reference",
    "restricted_loan",
    "audiovisual",
    "standards",
    "periodicals",
    "grey_literature",
    "rare",
    "special",
]
ItemFlag = Literal["high_demand", "damaged", "unprocessed"]
Payer = Literal["library", "patron"]
IllServiceType = Literal["loan", "copy"]
IllMaterialType = Literal[
    "printed_book",
    "book_chapter",
    "ejournal_article",
    "print_journal_article",
    "doctoral_thesis",
    "conference_proceedings",
    "conference_presentation",
]
DeliveryMethod = Literal["post", "courier", "fax", "email", "download"]
SubmissionChannel = Literal["patron_online", "staff_on_behalf"]
Requirement = Literal[
    "annual_fee_paid",
    "branch_head_approval",
    "police_id_deposited",
    "resides_on_branch_island",
]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
PeriodKind = Literal["winter", "spring", "summer"]
IllStage = Literal["processed", "shipped"]
StaffCancelReason = Literal["details_incomplete_unreachable", "held_locally", "not_found"]
SupplierCancelReason = Literal["on_loan", "lost", "non_lending_collection", "publisher_restriction"]
Rounding = Literal["ROUND_HALF_UP", "ROUND_HALF_EVEN"]
ShippingScope = Literal["domestic", "abroad"]

COLLECTION_CODES: tuple[CollectionCode, ...] = get_args(CollectionCode)
ITEM_FLAGS: tuple[ItemFlag, ...] = get_args(ItemFlag)
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)

RULE_ID = re.compile(r"^[A-Z]+(?:-[A-Za-z0-9]+)+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months, clamped to the last day of a shorter month."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


def _known_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _non_negative(section: object, *names: str) -> None:
    for name in names:
        value = getattr(section, name)
        _require(value is None or value >= 0, f"{name} must not be negative")


class _PolicyData:
    """Base of every policy dataclass: unknown keys are errors when the loader validates.

    ``__pydantic_config__`` is a plain dict that pydantic's ``TypeAdapter`` (in the loader)
    reads; the domain itself never imports pydantic.
    """

    __pydantic_config__: ClassVar[dict[str, object]] = {"extra": "forbid"}


@dataclass(frozen=True, kw_only=True)
class RuleRefs(_PolicyData):
    """The RULES.md IDs a section implements.

    ``rule`` (one ID) and ``rules`` (several) may be combined; ``cite`` maps a key of the
    section to the ID a refusal or event based on that key names, when it is not the first.
    """

    rule: str | None = None
    rules: tuple[str, ...] = ()
    cite: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for rule_id in self.rule_ids:
            _require(bool(RULE_ID.match(rule_id)), f"{rule_id!r} is not a rule ID like 'UOC-5-UG'")
        keys = {f.name for f in dataclasses.fields(self)} - {"rule", "rules", "cite"}
        for key, rule_id in self.cite.items():
            _require(key in keys, f"cite: {key!r} is not a key of this section")
            _require(rule_id in self.rule_ids, f"cite: {rule_id!r} is not in this section's rules")

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """``rule`` followed by ``rules``."""
        return ((self.rule,) if self.rule else ()) + self.rules

    def rule_for(self, key: str) -> str | None:
        """The rule ID to name when a decision rests on ``key`` of this section."""
        if key not in {f.name for f in dataclasses.fields(self)}:
            raise ValueError(f"{type(self).__name__} has no key {key!r}")
        return self.cite.get(key) or next(iter(self.rule_ids), None)


@dataclass(frozen=True, kw_only=True)
class LocalizedText(_PolicyData):
    el: str
    en: str

    def __post_init__(self) -> None:
        _require(bool(self.el.strip() and self.en.strip()), "both el and en must be non-empty")


@dataclass(frozen=True, kw_only=True)
class Branch(_PolicyData):
    code: str
    name: LocalizedText


# --- circulation -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CategoryPolicy(RuleRefs):
    """What one patron category may borrow, for how long, and what lateness costs.

    The loan period is either ``loan_days`` (calendar days from checkout) or, with
    ``due_at_academic_period_end``, the last day of the academic period the loan was made in
    (renewal then moves it to the end of the next period). ``grace_days``: no fine when the item
    is back within that many days after the due date; past that the fine counts every day from
    the due date (see ``FinePolicy.after_grace_counts_from``).
    """

    name: LocalizedText
    max_loans: int
    loan_days: int | None = None
    due_at_academic_period_end: bool = False
    max_renewals: int
    renewal_days: int | None = None
    grace_days: int
    fine_per_day: Decimal
    exceptional_max_loan_months: int | None = None
    requirements: tuple[Requirement, ...] = ()
    loans_end_by_patron_expiry: bool = False
    recall_all_loans_on_leave: bool = False
    inherits_from: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _non_negative(self, "max_loans", "max_renewals", "grace_days", "fine_per_day")
        _require(
            (self.loan_days is None) == self.due_at_academic_period_end,
            "give exactly one of loan_days or due_at_academic_period_end = true",
        )
        _require(self.loan_days is None or self.loan_days > 0, "loan_days must be positive")
        if self.max_renewals and not self.due_at_academic_period_end:
            _require(self.renewal_days is not None, "renewal_days is required with max_renewals")
        if not self.max_renewals or self.due_at_academic_period_end:
            _require(self.renewal_days is None, "renewal_days applies only to renewable loans")
        _require(
            self.exceptional_max_loan_months is None or self.exceptional_max_loan_months > 0,
            "exceptional_max_loan_months must be positive",
        )


@dataclass(frozen=True, kw_only=True)
class CollectionPolicy(RuleRefs):
    """Whether a collection lends at all, and its own loan period if it has one (AEG-6)."""

    loanable: bool
    loan_days: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.loan_days is None or self.loanable, "loan_days needs loanable = true")
        _require(self.loan_days is None or self.loan_days > 0, "loan_days must be positive")


@dataclass(frozen=True, kw_only=True)
class CollectionPolicies(_PolicyData):
    """One entry per collection code of API.md; all nine are required."""

    general: CollectionPolicy
    reference: CollectionPolicy
    restricted_loan: CollectionPolicy
    audiovisual: CollectionPolicy
    standards: CollectionPolicy
    periodicals: CollectionPolicy
    grey_literature: CollectionPolicy
    rare: CollectionPolicy
    special: CollectionPolicy

    def get(self, code: CollectionCode) -> CollectionPolicy:
        policy: CollectionPolicy = getattr(self, code)
        return policy

    def items(self) -> Iterator[tuple[CollectionCode, CollectionPolicy]]:
        return ((code, self.get(code)) for code in COLLECTION_CODES)


@dataclass(frozen=True, kw_only=True)
class ItemFlagPolicy(RuleRefs):
    """What an item flag does to a copy.

    ``loanable = false`` refuses new checkouts. ``shortened_loan_days`` shortens the period of a
    loan of a flagged copy (from checkout, or from the day the flag is set for a copy already out,
    never lengthening it); ``overdue_fine_multiplier`` multiplies the category's daily fine.
    """

    loanable: bool
    shortened_loan_days: int | None = None
    overdue_fine_multiplier: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(
            self.shortened_loan_days is None or self.shortened_loan_days > 0,
            "shortened_loan_days must be positive",
        )
        _require(self.overdue_fine_multiplier >= 1, "overdue_fine_multiplier must be at least 1")


@dataclass(frozen=True, kw_only=True)
class ItemFlagPolicies(_PolicyData):
    high_demand: ItemFlagPolicy
    damaged: ItemFlagPolicy
    unprocessed: ItemFlagPolicy

    def get(self, flag: ItemFlag) -> ItemFlagPolicy:
        policy: ItemFlagPolicy = getattr(self, flag)
        return policy


@dataclass(frozen=True, kw_only=True)
class RenewalPolicy(RuleRefs):
    """How a renewal is computed and when it is refused (the count is per category)."""

    counts_from: Literal["renewal_date", "due_date"]
    blocked_by_waiting_hold: bool
    blocked_for_blocked_patron: bool


@dataclass(frozen=True, kw_only=True)
class BlockPolicy(RuleRefs):
    """When a patron may not borrow (UOC-1) and the sanctions for systematic lateness (AEG-8).

    Borrowing is blocked while the patron has an overdue loan (``block_on_overdue_loans``) or
    open fees above ``max_unpaid_balance`` (``0`` blocks on any debt).
    """

    block_on_overdue_loans: bool
    max_unpaid_balance: Decimal
    systematic_late_suspension_months: int | None = None
    clearance_requires_no_loans_or_fees: bool

    def __post_init__(self) -> None:
        super().__post_init__()
        _non_negative(self, "max_unpaid_balance", "systematic_late_suspension_months")


@dataclass(frozen=True, kw_only=True)
class FinePolicy(RuleRefs):
    """How overdue days are counted; the daily rate is per category (``fine_per_day``)."""

    overdue_days_counted: Literal["calendar_days", "open_days"]
    after_grace_counts_from: Literal["due_date", "end_of_grace"]
    security_gate_fine: Decimal | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _non_negative(self, "security_gate_fine")


@dataclass(frozen=True, kw_only=True)
class ReplacementPolicy(RuleRefs):
    """Inspection, damage and loss (UOC-3, AEG-8).

    A lost or mistreated item may be replaced in kind within ``replace_in_kind_within_days``
    (``None``: no such option) plus ``lost_or_damaged_fine``; otherwise its value is charged,
    ``default_replacement_cost`` when the item record carries none.
    """

    inspect_at_checkout: bool
    inspect_at_return: bool
    damage_at_return_charges_replacement: bool
    replace_in_kind_within_days: int | None = None
    lost_or_damaged_fine: Decimal
    default_replacement_cost: Decimal
    unreplaced_charged_at_value: bool

    def __post_init__(self) -> None:
        super().__post_init__()
        _non_negative(
            self, "replace_in_kind_within_days", "lost_or_damaged_fine", "default_replacement_cost"
        )


@dataclass(frozen=True, kw_only=True)
class HoldPolicy(RuleRefs):
    """Holds and recalls (UOC-4a, UOC-4b); the queue is always first come, first served.

    A hold recalls the loan: the borrower must return within ``recall_return_working_days``
    (the due date only ever moves earlier). A returned item waits ``hold_shelf_days`` from its
    return, then the hold expires.
    """

    holds_only_when_no_copy_available: bool
    recall_on_hold: bool
    recall_return_working_days: int | None = None
    hold_shelf_days: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(
            (self.recall_return_working_days is not None) == self.recall_on_hold,
            "recall_return_working_days is required exactly when recall_on_hold = true",
        )
        _non_negative(self, "recall_return_working_days", "hold_shelf_days")


@dataclass(frozen=True, kw_only=True)
class BranchLendingPolicy(RuleRefs):
    """Lending between the branches of one library (UOC-6)."""

    branch_transfers: bool
    borrow_at_any_branch: bool
    return_to_owning_branch: bool


@dataclass(frozen=True, kw_only=True)
class ExceptionalLoanPolicy(RuleRefs):
    """Longer loans or more items granted case by case (AEG-5).

    The length cap is per category (``exceptional_max_loan_months``).
    """

    granted_by: Literal["branch_head", "library_head"]
    min_clean_record_academic_years: int
    max_extra_loans: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _non_negative(self, "min_clean_record_academic_years", "max_extra_loans")


# --- calendar ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AnnualClosure(_PolicyData):
    """A closure on the same day every year; ``branches`` empty means the whole library."""

    month: int
    day: int
    name: str
    branches: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            date(2000, self.month, self.day)  # a leap year, so 29 February is accepted
        except ValueError as exc:
            raise ValueError(f"no such day: month {self.month}, day {self.day}") from exc

    def on(self, year: int) -> date | None:
        """The closure's date in ``year`` (``None`` for 29 February outside leap years)."""
        try:
            return date(year, self.month, self.day)
        except ValueError:
            return None


@dataclass(frozen=True, kw_only=True)
class Closure(_PolicyData):
    """A one-off closure from ``start`` to ``end`` inclusive."""

    start: date
    end: date
    name: str
    branches: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require(self.start <= self.end, "end must not be before start")


@dataclass(frozen=True, kw_only=True)
class AcademicPeriod(_PolicyData):
    kind: PeriodKind
    start: date
    end: date

    def __post_init__(self) -> None:
        _require(self.start <= self.end, "end must not be before start")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True, kw_only=True)
class CalendarPolicy(RuleRefs):
    """When the library is open: working days are the days it is open.

    Closed: the weekdays in ``closed_weekdays``, the holidays of ``holidays_country`` in
    ``holiday_categories`` (the ``holidays`` package), ``annual_closures``, ``closures`` and
    inventory closures. A due date that falls on a closed day moves per
    ``due_date_on_closed_day``. ``timezone`` (IANA name) decides which calendar day "today"
    is at the library's desk.
    """

    timezone: str
    holidays_country: str
    holiday_categories: tuple[str, ...]
    closed_weekdays: tuple[Weekday, ...]
    annual_closures: tuple[AnnualClosure, ...] = ()
    closures: tuple[Closure, ...] = ()
    due_date_on_closed_day: Literal["next_open_day", "previous_open_day"]
    academic_periods: tuple[AcademicPeriod, ...]

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(bool(_COUNTRY.match(self.holidays_country)), "holidays_country: ISO code like GR")
        _require(_known_timezone(self.timezone), f"timezone: unknown IANA zone {self.timezone!r}")
        _require(bool(self.holiday_categories), "holiday_categories must not be empty")
        _require(len(self.closed_weekdays) < len(WEEKDAYS), "the library must open some day")
        _require(bool(self.academic_periods), "academic_periods must not be empty")
        for earlier, later in itertools.pairwise(self.academic_periods):
            _require(
                earlier.end < later.start,
                f"academic_periods must be in date order without overlap ({later.start})",
            )

    def period_containing(self, day: date) -> AcademicPeriod | None:
        return next((p for p in self.academic_periods if day in p), None)

    def period_after(self, period: AcademicPeriod) -> AcademicPeriod | None:
        return next((p for p in self.academic_periods if p.start > period.end), None)

    def periods_are_contiguous(self) -> bool:
        pairs = itertools.pairwise(self.academic_periods)
        return all((later.start - earlier.end).days == 1 for earlier, later in pairs)


@dataclass(frozen=True, kw_only=True)
class InventoryClosure(_PolicyData):
    """An announced inventory closure: from ``announced_on`` no loan may fall due after
    ``start``, and the library is closed ``start``-``end``."""

    announced_on: date
    start: date
    end: date
    branches: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require(self.announced_on <= self.start <= self.end, "need announced_on <= start <= end")


@dataclass(frozen=True, kw_only=True)
class InventoryPolicy(RuleRefs):
    """Inventory closures (AEG-9): announced ``min_notice_months`` ahead; what is not back by
    the start is declared lost (``unreturned_declared_lost``) and charged."""

    min_notice_months: int
    unreturned_declared_lost: bool
    closures: tuple[InventoryClosure, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        _non_negative(self, "min_notice_months")
        for closure in self.closures:
            _require(
                add_months(closure.announced_on, self.min_notice_months) <= closure.start,
                f"closure starting {closure.start} was announced on {closure.announced_on}, "
                f"less than {self.min_notice_months} months ahead",
            )


# --- interlibrary loan ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Charge(_PolicyData):
    """A supplier's indicative charge: fixed (``minimum == maximum``), a range, or a minimum
    only (``maximum`` omitted: open-ended)."""

    minimum: Decimal
    maximum: Decimal | None = None

    def __post_init__(self) -> None:
        _require(self.minimum >= 0, "minimum must not be negative")
        _require(self.maximum is None or self.maximum >= self.minimum, "maximum below minimum")

    @property
    def estimate(self) -> Decimal:
        """The amount to quote before the supplier answers: the top of the range if known."""
        return self.minimum if self.maximum is None else self.maximum


@dataclass(frozen=True, kw_only=True)
class WorkingDayRange(_PolicyData):
    minimum: int
    maximum: int
    default: int

    def __post_init__(self) -> None:
        _require(0 <= self.minimum <= self.default <= self.maximum, "need min <= default <= max")


@dataclass(frozen=True, kw_only=True)
class IllEligibility(RuleRefs):
    """Who may request ILL and on what conditions (TUC-ILL-1, TUC-ILL-2, CUT-A1, CUT-A2).

    Categories not listed are refused. ``ill_loans_count_toward_loan_limit``: an ILL loan counts
    as a loan in the category's ``max_loans`` and a request that would exceed it is refused.
    """

    categories: tuple[str, ...]
    require_not_held_locally: bool
    refuse_if_blocked: bool
    ill_loans_count_toward_loan_limit: bool


@dataclass(frozen=True, kw_only=True)
class IllCostPolicy(RuleRefs):
    """What a request costs and who pays (CUT-A1-PAY, CUT-A4, CUT-A4-PRE).

    cost = supplier charge + shipping (``shipping_legs`` legs at the ``shipping_per_leg`` rate,
    domestic when the supplier is in the library's country) + service charge
    (``service_charge_rate`` x ``service_charge_base``) + VAT (``vat_rate`` x ``vat_base``);
    the service charge and the VAT are each rounded to ``round_to`` with ``rounding``.
    """

    payer_by_category: Mapping[str, Payer]
    personal_charge_prepaid: bool
    service_charge_rate: Decimal
    service_charge_base: Literal["supplier_charge_and_shipping", "supplier_charge"]
    vat_rate: Decimal
    vat_base: Literal["service_charge", "subtotal"]
    shipping_legs: Mapping[IllServiceType, int]
    shipping_per_leg: Mapping[ShippingScope, Decimal]
    round_to: Decimal
    rounding: Rounding

    def __post_init__(self) -> None:
        super().__post_init__()
        _non_negative(self, "service_charge_rate", "vat_rate")
        _require(self.service_charge_rate <= 1 and self.vat_rate <= 1, "rates are fractions")
        _require(set(self.shipping_legs) == set(get_args(IllServiceType)), "legs for loan, copy")
        _require(set(self.shipping_per_leg) == set(get_args(ShippingScope)), "domestic, abroad")
        _require(self.round_to > 0, "round_to must be positive")


@dataclass(frozen=True, kw_only=True)
class IllCancellationPolicy(RuleRefs):
    """Who may cancel a request and when (CUT-A7-USER, CUT-A7-STAFF, CUT-A7-SUP).

    The patron may cancel until the request reaches ``patron_may_cancel_before``; after that
    they must collect and pay a personal charge, and an unpaid charge suspends borrowing.
    """

    patron_may_cancel_before: IllStage
    after_cutoff_patron_collects_and_pays: bool
    unpaid_charge_suspends_borrowing: bool
    staff_cancel_reasons: tuple[StaffCancelReason, ...]
    supplier_cancel_reasons: tuple[SupplierCancelReason, ...]


@dataclass(frozen=True, kw_only=True)
class IllPickupPolicy(RuleRefs):
    """Collection of arrived material (CUT-A9): uncollected returnables go back
    ``uncollected_return_days_before_supplier_due`` days before the supplier's due date."""

    uncollected_return_days_before_supplier_due: int
    uncollected_charges_patron: bool
    signature_required_for_returnables: bool


@dataclass(frozen=True, kw_only=True)
class IllBorrowedLoanPolicy(RuleRefs):
    """Returnable material borrowed from a supplier (TUC-ILL-6, CUT-A10, CUT-A11).

    The patron's due date is ``patron_due_working_days_before_supplier_due`` working days before
    the supplier's; renewals are asked ``renewal_request_min_days_before_due`` days ahead.
    """

    patron_due_working_days_before_supplier_due: WorkingDayRange
    renewal_request_min_days_before_due: int
    overdue_fine_per_day_per_item: Decimal
    supplier_fines_passed_on: bool
    loss_or_damage_charged_per_supplier_rules: bool
    return_shipping: Mapping[ShippingScope, DeliveryMethod]

    def __post_init__(self) -> None:
        super().__post_init__()
        _non_negative(self, "renewal_request_min_days_before_due", "overdue_fine_per_day_per_item")


@dataclass(frozen=True, kw_only=True)
class IllRequestingPolicy(RuleRefs):
    """The library as a borrower on behalf of its patrons.

    ``requestable`` maps each material type a patron may request to the service types it is
    supplied as (``copy``: the patron keeps it; ``loan``: returned to the supplier).
    ``external_suppliers`` lists the external suppliers tried, in this order.
    """

    submission_channels: tuple[SubmissionChannel, ...]
    forward_within_working_days: int
    accepted_delivery_methods: tuple[DeliveryMethod, ...]
    requestable: Mapping[IllMaterialType, tuple[IllServiceType, ...]]
    external_suppliers: tuple[str, ...]
    eligibility: IllEligibility
    cost: IllCostPolicy
    cancellation: IllCancellationPolicy
    pickup: IllPickupPolicy
    loans: IllBorrowedLoanPolicy

    def __post_init__(self) -> None:
        super().__post_init__()
        _non_negative(self, "forward_within_working_days")
        _require(bool(self.submission_channels), "submission_channels must not be empty")
        _require(all(self.requestable.values()), "each material type needs a service type")


@dataclass(frozen=True, kw_only=True)
class SupplierLoanTerms(RuleRefs):
    """How long the library lends to another library (TUC-SUP-1, CUT-B7, CUT-B8).

    The period (``loan_days`` or ``loan_months``) runs from ``counted_from``; ``due_means`` says
    whether the item must be back at the supplier or only shipped back by the due date.
    """

    loan_days: int | None = None
    loan_months: int | None = None
    counted_from: Literal["request_received", "shipped"]
    due_means: Literal["back_at_supplier", "shipped_back"]
    max_renewals: int
    renewal_days: int | None = None
    renewal_months: int | None = None
    renewal_request_min_days_before_due: int | None = None
    renewal_refused_if_local_hold: bool
    may_recall: bool
    late_fee_per_day_per_item: Decimal
    loss_or_damage_charges_replacement: bool

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(
            (self.loan_days is None) != (self.loan_months is None),
            "give exactly one of loan_days or loan_months",
        )
        renewal = (self.renewal_days is not None) + (self.renewal_months is not None)
        _require(
            renewal == (1 if self.max_renewals else 0),
            "give one of renewal_days or renewal_months exactly when max_renewals > 0",
        )
        _require(
            (self.renewal_request_min_days_before_due is not None) == bool(self.max_renewals),
            "renewal_request_min_days_before_due is required exactly when max_renewals > 0",
        )
        _non_negative(self, "loan_days", "loan_months", "max_renewals", "late_fee_per_day_per_item")


@dataclass(frozen=True, kw_only=True)
class SupplierDelivery(RuleRefs):
    """How supplied material travels (CUT-B6)."""

    methods: Mapping[IllServiceType, tuple[DeliveryMethod, ...]]
    chosen_by: Literal["requesting_library", "supplier"]
    requester_pays_shipping_both_ways: bool


@dataclass(frozen=True, kw_only=True)
class SupplierCancellation(RuleRefs):
    """Cancelling a request addressed to this library (CUT-B5)."""

    requester_may_cancel_before: IllStage
    after_shipping_requester_pays_shipping_both_ways: bool
    staff_cancel_reasons: tuple[SupplierCancelReason, ...]


@dataclass(frozen=True, kw_only=True)
class IllSupplyingPolicy(RuleRefs):
    """The library as a lender to other libraries (TUC-SUP-1, CUT-B1...CUT-B9).

    A copy is supplied only from a collection not in ``non_lending_collections``; a loan also
    needs a ``lendable_material_types`` item and, with ``loans_require_locally_loanable_item``,
    one the library would lend to its own patrons. ``charges`` are per service type offered.
    """

    open_to: Literal["consortium_members", "any_library"]
    max_open_per_requesting_library: int
    service_types: tuple[IllServiceType, ...]
    lendable_material_types: tuple[IllMaterialType, ...]
    loans_require_locally_loanable_item: bool
    non_lending_collections: tuple[CollectionCode, ...]
    copy_requires_copyright_declaration: bool
    charges: Mapping[IllServiceType, Charge]
    loan: SupplierLoanTerms
    delivery: SupplierDelivery
    cancellation: SupplierCancellation

    def __post_init__(self) -> None:
        super().__post_init__()
        _non_negative(self, "max_open_per_requesting_library")
        offered = set(self.service_types)
        _require(set(self.charges) == offered, "charges must list exactly the service_types")
        _require(set(self.delivery.methods) == offered, "delivery.methods: one per service type")


# --- libraries ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MemberLibrary(_PolicyData):
    """A consortium member: its circulation rules and both sides of its ILL."""

    code: str
    role: Literal["member"]
    name: LocalizedText
    country: str
    currency: Currency
    branches: tuple[Branch, ...]
    categories: Mapping[str, CategoryPolicy]
    collections: CollectionPolicies
    item_flags: ItemFlagPolicies
    renewals: RenewalPolicy
    blocks: BlockPolicy
    fines: FinePolicy
    replacement: ReplacementPolicy
    holds: HoldPolicy
    branch_lending: BranchLendingPolicy
    exceptional_loans: ExceptionalLoanPolicy | None = None
    calendar: CalendarPolicy
    inventory: InventoryPolicy
    ill_requesting: IllRequestingPolicy
    ill_supplying: IllSupplyingPolicy

    def __post_init__(self) -> None:
        _require(bool(_COUNTRY.match(self.country)), "country: ISO 3166 code like GR")
        _require(bool(self.branches), "a member library needs at least one branch")
        _require(bool(self.categories), "a member library needs at least one category")

    def category(self, code: str) -> CategoryPolicy:
        try:
            return self.categories[code]
        except KeyError:
            raise KeyError(f"{self.code} has no patron category {code!r}") from None

    @property
    def branch_codes(self) -> tuple[str, ...]:
        return tuple(branch.code for branch in self.branches)


@dataclass(frozen=True, kw_only=True)
class ExternalSupplier(RuleRefs):
    """A supplier outside the union catalogue (CUT-A4): requested by citation, through staff."""

    code: str
    role: Literal["external_supplier"]
    name: LocalizedText
    country: str
    currency: Currency
    request_by: Literal["citation"]
    has_holdings: bool
    mediated_by_staff: bool
    charges: Mapping[IllServiceType, Charge]
    delivery_methods: Mapping[IllServiceType, tuple[DeliveryMethod, ...]]
    allows_renewal: bool

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(bool(_COUNTRY.match(self.country)), "country: ISO 3166 code like GB")
        _require(bool(self.charges), "charges: at least one service type")
        _require(set(self.delivery_methods) == set(self.charges), "one delivery entry per charge")

    @property
    def branches(self) -> tuple[Branch, ...]:
        return ()

    @property
    def service_types(self) -> tuple[IllServiceType, ...]:
        return tuple(self.charges)


LibraryPolicy = MemberLibrary | ExternalSupplier


@dataclass(frozen=True)
class PolicySet:
    """Every library's policy: members first, then external suppliers, each by code."""

    libraries: tuple[LibraryPolicy, ...]

    def __post_init__(self) -> None:
        codes = [library.code for library in self.libraries]
        _require(len(codes) == len(set(codes)), "library codes must be unique")

    def __contains__(self, code: object) -> bool:
        return any(library.code == code for library in self.libraries)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(library.code for library in self.libraries)

    @property
    def members(self) -> tuple[MemberLibrary, ...]:
        return tuple(lib for lib in self.libraries if isinstance(lib, MemberLibrary))

    @property
    def external_suppliers(self) -> tuple[ExternalSupplier, ...]:
        return tuple(lib for lib in self.libraries if isinstance(lib, ExternalSupplier))

    def library(self, code: str) -> LibraryPolicy:
        for library in self.libraries:
            if library.code == code:
                return library
        raise KeyError(f"unknown library code {code!r}")

    def member(self, code: str) -> MemberLibrary:
        library = self.library(code)
        if not isinstance(library, MemberLibrary):
            raise KeyError(f"{code!r} is an external supplier, not a member library")
        return library

    def external_supplier(self, code: str) -> ExternalSupplier:
        library = self.library(code)
        if not isinstance(library, ExternalSupplier):
            raise KeyError(f"{code!r} is a member library, not an external supplier")
        return library

    def branch_owner(self, branch_code: str) -> MemberLibrary:
        for member in self.members:
            if branch_code in member.branch_codes:
                return member
        raise KeyError(f"unknown branch code {branch_code!r}")

    def rule_references(self) -> dict[str, tuple[str, ...]]:
        """Each rule ID named by a policy section -> where (``"UOC: categories.faculty"``)."""
        places: dict[str, list[str]] = {}
        for library in self.libraries:
            for path, rule_id in _rule_refs(library, ""):
                places.setdefault(rule_id, []).append(f"{library.code}: {path or '(top)'}")
        return {rule_id: tuple(where) for rule_id, where in sorted(places.items())}


def _rule_refs(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, RuleRefs):
        for rule_id in dict.fromkeys((*value.rule_ids, *value.cite.values())):
            yield path, rule_id
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            child = getattr(value, f.name)
            yield from _rule_refs(child, f"{path}.{f.name}" if path else f.name)
    elif isinstance(value, Mapping):
        for key, child in value.items():
            yield from _rule_refs(child, f"{path}.{key}")
    elif isinstance(value, tuple):
        for index, child in enumerate(value):
            yield from _rule_refs(child, f"{path}[{index}]")
