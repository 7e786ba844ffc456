"""Where a patron's request for a work should go: discover and request in one round trip (CONS-2).

The sources, best first:

1. **LOCAL_PICKUP** - an available copy at the patron's pickup branch (their home branch
   unless they chose another) that the library lends (UOC-1b, AEG-2).
2. **BRANCH_TRANSFER** - an available copy at another branch of the home library, sent to the
   pickup branch, where the library's policy lends between branches (UOC-6).
3. **HOLD** - the home library has copies it lends, but none is available now: join the queue.
4. **INTERLIBRARY_LOAN** - a partner library of the union catalogue whose own rules let it
   supply (TUC-SUP-1, CUT-B1, CUT-B2, CUT-B3), in rota order: a copy available now first,
   then the cheaper, then the one with fewer open requests from the patron's library; each
   with the reason for its place. Partners whose rules refuse are skipped, with the reason.
5. **EXTERNAL_SUPPLIER** - the library's external suppliers in its policy's order, by
   citation, when the work is not in the union catalogue or no partner can supply it now.

Interlibrary loan and external suppliers are offered only to a patron who may request them
(TUC-ILL-1, CUT-A1, CUT-A2), for requestable material (CUT-A3), and not for material the
library holds (TUC-ILL-2, CUT-A2); otherwise the refusals say why and only the local options
remain. A copy request (``copy`` service) is never a local option: the patron consults the
library's own copy. :func:`choose` takes the first option: what ``requestItem`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Final

from kallimachos.domain.blocks import PatronFacts
from kallimachos.domain.errors import Refusal
from kallimachos.domain.ill_costs import CostBreakdown, estimate_cost, max_cost_refusal
from kallimachos.domain.ill_errors import IllDeliveryMethodRefused
from kallimachos.domain.ill_terms import (
    delivery_methods,
    eligibility_refusals,
    holds_locally,
    plural,
    requestable_refusals,
    suppliable_copies,
    supplier_refusals,
)
from kallimachos.domain.loanability import CopyFacts, loanability
from kallimachos.domain.policy import (
    IllMaterialType,
    IllServiceType,
    LibraryPolicy,
    MemberLibrary,
    Payer,
    PolicySet,
    add_months,
)

__all__ = [
    "ROUTING_RULE",
    "HeldCopy",
    "RequestKind",
    "RequestOption",
    "Routing",
    "RoutingPatron",
    "SkippedSource",
    "choose",
    "request_options",
]

ROUTING_RULE: Final = "CONS-2"
"""The order of the sources: enforced here for every library (see ``rules_in_code``)."""


class RequestKind(StrEnum):
    """The kinds of source, in the order CONS-2 tries them."""

    LOCAL_PICKUP = "LOCAL_PICKUP"
    BRANCH_TRANSFER = "BRANCH_TRANSFER"
    HOLD = "HOLD"
    INTERLIBRARY_LOAN = "INTERLIBRARY_LOAN"
    EXTERNAL_SUPPLIER = "EXTERNAL_SUPPLIER"


@dataclass(frozen=True, kw_only=True)
class RoutingPatron:
    """The patron asking: library, home branch, chosen pickup branch, and their facts.

    ``open_ill_loan_requests``: their loan requests not yet on loan (CUT-A2 counts them).
    """

    library: str
    home_branch: str
    facts: PatronFacts
    pickup_branch: str | None = None
    open_ill_loan_requests: int = 0

    @property
    def pickup(self) -> str:
        return self.pickup_branch or self.home_branch


@dataclass(frozen=True, kw_only=True)
class HeldCopy:
    """One copy of the work in the union catalogue: where it is, its facts, its hold queue."""

    library: str
    branch: str
    copy: CopyFacts
    hold_queue: int = 0

    @property
    def available(self) -> bool:
        """On the shelf and not set aside for anyone."""
        return self.copy.status == "AVAILABLE" and self.hold_queue == 0


@dataclass(frozen=True, kw_only=True)
class RequestOption:
    """One way to get the work (API ``RequestOption``), ranked from 1 (best).

    ``loan_days``: how long the patron may expect to keep it (the library's own loan period,
    or the lending library's for an interlibrary loan; ``None`` for a copy kept for good, or
    where the supplier sets it in its answer). ``rule``: the rule behind the option.
    """

    kind: RequestKind
    library: str
    branch: str | None
    estimated_cost: CostBreakdown | None
    payer: Payer | None
    loan_days: int | None
    rank: int
    reason: str
    rule: str | None = None


@dataclass(frozen=True, kw_only=True)
class SkippedSource:
    """A partner or external supplier left out, and every reason why."""

    library: str
    kind: RequestKind
    refusals: tuple[Refusal, ...]


@dataclass(frozen=True, kw_only=True)
class Routing:
    """The options, best first; why interlibrary loan is not offered at all (``refusals``);
    and the sources skipped for their own rules (``skipped``)."""

    options: tuple[RequestOption, ...]
    refusals: tuple[Refusal, ...]
    skipped: tuple[SkippedSource, ...]


@dataclass(frozen=True)
class _Candidate:
    kind: RequestKind
    library: str
    branch: str | None
    reason: str
    rule: str | None
    cost: CostBreakdown | None = None
    payer: Payer | None = None
    loan_days: int | None = None
    available: bool = True


def choose(options: Sequence[RequestOption]) -> RequestOption | None:
    """The option ``requestItem`` takes: the best ranked, or ``None`` when there is none."""
    return min(options, key=lambda option: option.rank, default=None)


def request_options(
    policies: PolicySet,
    *,
    patron: RoutingPatron,
    copies: Sequence[HeldCopy],
    service_type: IllServiceType,
    material_type: IllMaterialType | None,
    today: date,
    open_requests: Mapping[str, int] | None = None,
    max_cost: Decimal | None = None,
) -> Routing:
    """Every way ``patron`` can get the work, best first (CONS-2).

    ``copies``: every copy of the work in the union catalogue (none: requested by citation).
    ``open_requests``: per supplier code, the patron's library's requests open there (CUT-B2).
    ``max_cost``: the most the patron will pay (ISO 18626 maximumCosts).
    """
    home = policies.member(patron.library)
    own = [c for c in copies if c.library == home.code]
    local = _local(home, patron, own, today) if service_type == "loan" else []
    refusals = (
        *eligibility_refusals(
            home,
            patron=patron.facts,
            today=today,
            service_type=service_type,
            held_locally=holds_locally(c.copy for c in own),
            open_ill_loan_requests=patron.open_ill_loan_requests,
        ),
        *requestable_refusals(home, material_type=material_type, service_type=service_type),
    )
    skipped: list[SkippedSource] = []
    partners: list[_Candidate] = []
    external: list[_Candidate] = []
    if not refusals:
        context = _Context(home, patron, service_type, material_type, today, max_cost)
        partners = _partners(policies, context, copies, open_requests or {}, skipped)
        if not any(c.available for c in partners):
            external = _external(policies, context, skipped)
    ranked = [*local, *partners, *external]
    options = tuple(
        RequestOption(
            kind=c.kind,
            library=c.library,
            branch=c.branch,
            estimated_cost=c.cost,
            payer=c.payer,
            loan_days=c.loan_days,
            rank=rank,
            reason=c.reason,
            rule=c.rule,
        )
        for rank, c in enumerate(ranked, start=1)
    )
    return Routing(options=options, refusals=tuple(refusals), skipped=tuple(skipped))


# --- the home library ----------------------------------------------------------------------


def _local(
    home: MemberLibrary, patron: RoutingPatron, own: Sequence[HeldCopy], today: date
) -> list[_Candidate]:
    """Pickup here, a transfer from another branch (UOC-6), or a hold (UOC-4a)."""
    lendable = [c for c in own if loanability(home, c.copy).loanable]
    category = patron.facts.category
    days = _local_loan_days(home, category, today)
    here = [c for c in lendable if c.branch == patron.pickup and c.available]
    if here:
        reason = f"available now at {patron.pickup}"
        pickup = _Candidate(
            RequestKind.LOCAL_PICKUP, home.code, patron.pickup, reason, ROUTING_RULE, loan_days=days
        )
        return [pickup]
    transfers: list[_Candidate] = []
    lending = home.branch_lending
    if lending.branch_transfers:
        elsewhere: dict[str, int] = {}
        for c in lendable:
            if c.branch != patron.pickup and c.available:
                elsewhere[c.branch] = elsewhere.get(c.branch, 0) + 1
        for branch, count in sorted(elsewhere.items(), key=lambda item: (-item[1], item[0])):
            reason = f"{count} available at {branch}, sent to {patron.pickup} for pickup"
            rule = lending.rule_for("branch_transfers") or ROUTING_RULE
            kind = RequestKind.BRANCH_TRANSFER
            transfers.append(_Candidate(kind, home.code, branch, reason, rule, loan_days=days))
    if transfers or not lendable or any(c.available for c in lendable):
        return transfers
    queue = sum(c.hold_queue for c in lendable)
    reason = f"all {len(lendable)} lendable copies are out; {queue} already waiting"
    holds = home.holds
    rule = holds.rule_for("holds_only_when_no_copy_available") or ROUTING_RULE
    return [_Candidate(RequestKind.HOLD, home.code, patron.pickup, reason, rule, loan_days=days)]


def _local_loan_days(home: MemberLibrary, category: str, today: date) -> int | None:
    policy = home.category(category)
    if policy.loan_days is not None:
        return policy.loan_days
    period = home.calendar.period_containing(today)
    return (period.end - today).days if period is not None else None


# --- partners and external suppliers --------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    home: MemberLibrary
    patron: RoutingPatron
    service_type: IllServiceType
    material_type: IllMaterialType | None
    today: date
    max_cost: Decimal | None

    def cost(self, supplier: LibraryPolicy) -> CostBreakdown:
        category = self.patron.facts.category
        return estimate_cost(self.home, supplier, service_type=self.service_type, category=category)


def _partners(
    policies: PolicySet,
    ctx: _Context,
    copies: Sequence[HeldCopy],
    open_requests: Mapping[str, int],
    skipped: list[SkippedSource],
) -> list[_Candidate]:
    """Partner members that hold the work and whose rules let them supply, in rota order."""
    found: list[tuple[tuple[int, Decimal, int, str], _Candidate]] = []
    for supplier in policies.members:
        theirs = [c for c in copies if c.library == supplier.code]
        if supplier.code == ctx.home.code or not theirs:
            continue
        open_here = open_requests.get(supplier.code, 0)
        refused = supplier_refusals(
            ctx.home,
            supplier,
            service_type=ctx.service_type,
            material_type=ctx.material_type,
            open_requests=open_here,
            copies=[c.copy for c in theirs],
        ) or _delivery_refusals(ctx, supplier)
        cost = ctx.cost(supplier) if not refused else None
        if cost is not None and (too_much := max_cost_refusal(ctx.home, cost, ctx.max_cost)):
            refused += (too_much,)
        if refused or cost is None:
            skipped.append(SkippedSource(library=supplier.code, kind=_ILL, refusals=refused))
            continue
        usable = suppliable_copies(supplier, [c.copy for c in theirs], ctx.service_type)
        pool = [c for c in theirs if c.copy in usable]
        ready = [c for c in pool if c.available]
        branch = (ready or pool)[0].branch
        limit = supplier.ill_supplying.max_open_per_requesting_library
        reason = "; ".join(
            (
                f"available now at {branch}" if ready else "all copies out: supplied when back",
                _cost_words(cost),
                f"{open_here} of {limit} requests from {ctx.home.code} open there",
            )
        )
        candidate = _Candidate(
            _ILL,
            supplier.code,
            branch,
            reason,
            next(iter(supplier.ill_supplying.rule_ids), None) or ROUTING_RULE,
            cost=cost,
            payer=cost.payer,
            loan_days=_supplier_loan_days(supplier, ctx),
            available=bool(ready),
        )
        key = (0 if ready else 1, cost.total, open_here, supplier.code)
        found.append((key, candidate))
    return [candidate for _, candidate in sorted(found, key=lambda item: item[0])]


def _external(policies: PolicySet, ctx: _Context, skipped: list[SkippedSource]) -> list[_Candidate]:
    """The library's external suppliers, in its policy's order, by citation (CUT-A4)."""
    found: list[_Candidate] = []
    for code in ctx.home.ill_requesting.external_suppliers:
        supplier = policies.external_supplier(code)
        refused = supplier_refusals(
            ctx.home, supplier, service_type=ctx.service_type, material_type=ctx.material_type
        ) or _delivery_refusals(ctx, supplier)
        cost = ctx.cost(supplier) if not refused else None
        if cost is not None and (too_much := max_cost_refusal(ctx.home, cost, ctx.max_cost)):
            refused += (too_much,)
        if refused or cost is None:
            skipped.append(SkippedSource(library=code, kind=_EXTERNAL, refusals=refused))
            continue
        reason = f"by citation, through staff; {_cost_words(cost)}"
        rule = supplier.rule_for("request_by")
        found.append(
            _Candidate(
                _EXTERNAL, code, None, reason, rule, cost=cost, payer=cost.payer, available=False
            )
        )
    return found


_ILL = RequestKind.INTERLIBRARY_LOAN
_EXTERNAL = RequestKind.EXTERNAL_SUPPLIER


def _delivery_refusals(ctx: _Context, supplier: LibraryPolicy) -> tuple[Refusal, ...]:
    """No delivery method both sides use for the service (CUT-A8, CUT-B6)."""
    if delivery_methods(ctx.home, supplier, ctx.service_type):
        return ()
    sent = plural(ctx.service_type)
    message = f"{supplier.code} sends {sent} by no method {ctx.home.code} accepts."
    rule = ctx.home.ill_requesting.rule_for("accepted_delivery_methods")
    return (IllDeliveryMethodRefused(message=message, rule=rule),)


def _supplier_loan_days(supplier: MemberLibrary, ctx: _Context) -> int | None:
    """The lending library's loan period (TUC-SUP-1, CUT-B7); a copy is kept for good."""
    if ctx.service_type != "loan":
        return None
    terms = supplier.ill_supplying.loan
    if terms.loan_months is not None:
        return (add_months(ctx.today, terms.loan_months) - ctx.today).days
    return terms.loan_days


def _cost_words(cost: CostBreakdown) -> str:
    estimate = "at least " if cost.at_least else ""
    payer = f", paid by the {cost.payer}" if cost.payer else ""
    return f"estimated {estimate}{cost.total:.2f} {cost.currency}{payer}"
