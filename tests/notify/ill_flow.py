"""One interlibrary loan, step by step, as the e2e ILL scenarios drive it through GraphQL.

A UOC postgraduate borrows a book only CUT holds (CUT-B7, CUT-A11, TUC-ILL-4, CUT-A9);
CUT recalls it (CUT-A10); it goes back.  Each step returns its business time, so a test
can run the notification worker at the same instant.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from strawberry import relay

from kallimachos.domain.clock import parse_business_time
from tests.conftest import token_for
from tests.e2e.circulation_support import Desk
from tests.e2e.test_ill import ACT, PROCESS, SUPPLY, _db_id, at, book_held_only_by, request, step

PATRON = "UOC-POSTGR-006"
PATRON_MAIL = "uoc-postgr-006@demo.invalid"
MONDAY = date(2026, 11, 23)


class IllLoan:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.staff = token_for("staff", library="UOC")
        self.partner = token_for("partner", library="CUT")
        self.rid = ""
        self.supplier_due = date.min
        self.pickup_deadline = date.min

    @property
    def barcode(self) -> str:
        return f"ILL-{_db_id(self.rid)}"

    @property
    def db_id(self) -> int:
        return int(_db_id(self.rid))

    async def _step(
        self, query: str, day: date, token: str, **variables: object
    ) -> dict[str, object]:
        done = await step(self.desk, query, day, token, id=self.rid, **variables)
        assert done["userErrors"] == [], done["userErrors"]
        assert isinstance(done, dict)
        return done

    async def requested(self) -> datetime:
        work = relay.to_base64("Work", await book_held_only_by(self.desk.settings, "CUT"))
        made = await request(self.desk, PATRON, "UOC-HER", MONDAY, work=work)
        assert made["outcome"] == "INTERLIBRARY_LOAN"
        assert made["illRequest"]["supplier"]["code"] == "CUT"
        self.rid = made["illRequest"]["id"]
        return parse_business_time(at(MONDAY))

    async def processed(self) -> datetime:
        await self._step(PROCESS, MONDAY, self.staff)
        return parse_business_time(at(MONDAY))

    async def will_supply(self) -> datetime:
        day = MONDAY + timedelta(days=1)
        await self._step(SUPPLY, day, self.partner, s="WILL_SUPPLY")
        return parse_business_time(at(day))

    async def shipped(self) -> datetime:
        day = MONDAY + timedelta(days=2)
        done = await self._step(SUPPLY, day, self.partner, s="LOANED")
        request_row = done["illRequest"]
        assert isinstance(request_row, dict)
        self.supplier_due = date.fromisoformat(str(request_row["supplierDueDate"]))
        return parse_business_time(at(day))

    async def received(self) -> datetime:
        day = MONDAY + timedelta(days=4)
        done = await self._step(ACT, day, self.staff, a="RECEIVED")
        request_row = done["illRequest"]
        assert isinstance(request_row, dict)
        self.pickup_deadline = date.fromisoformat(str(request_row["pickupDeadline"]))
        return parse_business_time(at(day))

    async def lent(self) -> datetime:
        day = MONDAY + timedelta(days=5)
        done = await self.desk.check_out(self.barcode, PATRON, "UOC-HER", at(day))
        assert done["userErrors"] == []
        return parse_business_time(at(day))

    async def recalled(self, due: date) -> datetime:
        day = MONDAY + timedelta(days=7)
        done = await self._step(SUPPLY, day, self.partner, s="RECALLED", due=due.isoformat())
        request_row = done["illRequest"]
        assert isinstance(request_row, dict)
        assert request_row["status"] == "RECALLED"
        return parse_business_time(at(day))

    async def returned(self) -> datetime:
        day = MONDAY + timedelta(days=9)
        done = await self.desk.check_in(self.barcode, "UOC-HER", at(day))
        assert done["userErrors"] == []
        return parse_business_time(at(day))

    async def shipped_back(self) -> datetime:
        day = MONDAY + timedelta(days=10)
        await self._step(ACT, day, self.staff, a="SHIPPED_RETURN")
        return parse_business_time(at(day))

    async def completed(self) -> datetime:
        day = MONDAY + timedelta(days=12)
        done = await self._step(SUPPLY, day, self.partner, s="LOAN_COMPLETED")
        request_row = done["illRequest"]
        assert isinstance(request_row, dict)
        assert request_row["status"] == "COMPLETED"
        return parse_business_time(at(day))
