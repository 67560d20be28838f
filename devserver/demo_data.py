"""A realistic receivables ledger for the demo: Northwind Supplies, an industrial supplier, and
its ~50 business customers.

Built in two steps so it is easy to test:

1. `build_demo_dataset(seed, today)` is pure Python: the same seed and day always give the
   same plan (customers, contacts, invoices with line items, credit notes, settled payments).
   Dates are relative to `today`, so the aging looks the same whenever the demo is run.
2. `write_demo_dataset(db, plan)` stores it through the portal's own write path: each invoice
   with `issue_invoice` (its lines and `issued` entry), each credit with `issue_credit_note`,
   each settled allocation as a `payment` entry through `post_entry`. Balances are therefore
   kept like everywhere else.

`seed_demo_data` does both, then adds the staff side (`devserver.demo_staff`: members, teams,
routing rules) and the disputes (`devserver.demo_disputes`, routed by those rules), and
refuses a database that already has customers.

The one well-known customer is Acme Corp, whose shared AP mailbox `ap@acme.example` is the
demo clerk: 20 USD invoices in every state (not yet due, overdue in each aging bucket, partly
paid, credited, paid).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, UTC
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.core.clock import Clock
from portal.domain.core.errors import DomainError
from portal.domain.customers.models import Contact, Customer
from portal.domain.core.money import Money, exponent, largest_remainder
from portal.domain.invoicing.models import Invoice
from portal.domain.invoicing.service import NewLine, issue_credit_note, issue_invoice
from portal.domain.ledger.service import post_entry
from portal.domain.ledger.states import EntryKind
from portal.domain.payments.models import Payment, PaymentAllocation
from portal.domain.payments.service import take_payment_references

DEFAULT_SEED = 20260615
INVOICE_COUNT = 1000
DEMO_CUSTOMER_NAME = "Acme Corp"
DEMO_CLERK_EMAIL = "ap@acme.example"
ACME_INVOICE_COUNT = 20

class DemoDataExists(DomainError):
    """The database already holds customers; demo data goes only into an empty one."""


# ---------------------------------------------------------------------------------------------
# The plan: plain, comparable values.


@dataclass(frozen=True)
class PlannedContact:
    email: str
    name: str
    is_ap_mailbox: bool = False


@dataclass(frozen=True)
class PlannedLine:
    sku: str
    description: str
    quantity: Decimal
    unit_price_minor: int
    amount_minor: int


@dataclass(frozen=True)
class PlannedCredit:
    reference: str
    amount_minor: int
    on: date
    reason: str


@dataclass
class PlannedInvoice:
    number: str
    currency: str
    issue_date: date
    due_date: date
    terms: str
    po_number: str | None
    lines: tuple[PlannedLine, ...]
    sent_to: int  # index into the customer's contacts
    notes: str = ""
    credits: list[PlannedCredit] = field(default_factory=list)

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)


@dataclass(frozen=True)
class PlannedAllocation:
    invoice_number: str
    amount_minor: int
    short_pay_reason: str = ""


@dataclass
class PlannedPayment:
    currency: str
    paid_on: date
    method: str
    paid_by: int  # index into the customer's contacts
    po_number: str
    memo: str
    allocations: list[PlannedAllocation]

    @property
    def amount_minor(self) -> int:
        return sum(allocation.amount_minor for allocation in self.allocations)


@dataclass
class PlannedCustomer:
    account_number: str
    name: str
    timezone: str
    since: date
    contacts: tuple[PlannedContact, ...]
    invoices: list[PlannedInvoice] = field(default_factory=list)
    payments: list[PlannedPayment] = field(default_factory=list)


@dataclass
class DemoDataset:
    seed: int
    today: date
    customers: list[PlannedCustomer]

    @property
    def invoices(self) -> list[PlannedInvoice]:
        return [invoice for customer in self.customers for invoice in customer.invoices]


@dataclass(frozen=True)
class DemoSummary:
    customers: int
    contacts: int
    invoices: int
    payments: int
    credit_notes: int
    clerk_email: str

    def __str__(self) -> str:
        return (f"{self.customers} customers, {self.contacts} contacts, {self.invoices} invoices, "
                f"{self.payments} settled payments, {self.credit_notes} credit notes; "
                f"demo clerk: {self.clerk_email}")


# ---------------------------------------------------------------------------------------------
# Who buys from Northwind: name, email domain, time zone, currencies they are billed in.

CUSTOMERS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (DEMO_CUSTOMER_NAME, "acme.example", "America/Chicago", ("USD",)),
    ("Bluewater Marine Supply", "bluewater-marine.example", "America/New_York", ("USD",)),
    ("Cedar Ridge Construction", "cedarridge.example", "America/Denver", ("USD",)),
    ("Harborview Hospital Group", "harborview-health.example", "America/Los_Angeles", ("USD",)),
    ("Kestrel Aerospace Components", "kestrel-aero.example", "America/Los_Angeles", ("USD", "EUR")),
    ("Larkspur Foods", "larkspurfoods.example", "America/Chicago", ("USD",)),
    ("Summit Peak Outfitters", "summitpeak.example", "America/Denver", ("USD",)),
    ("Riverbend Packaging Co.", "riverbend-pack.example", "America/New_York", ("USD",)),
    ("Ironclad Fabrication", "ironclad-fab.example", "America/Chicago", ("USD",)),
    ("Pinecrest School District", "pinecrest-schools.example", "America/New_York", ("USD",)),
    ("Granite State Logistics", "granitestate-logistics.example", "America/New_York", ("USD",)),
    ("Copperline Electric", "copperline.example", "America/Phoenix", ("USD",)),
    ("Redwood Brewing Company", "redwoodbrewing.example", "America/Los_Angeles", ("USD",)),
    ("Silverlake Property Management", "silverlake-pm.example", "America/Los_Angeles", ("USD",)),
    ("Prairie Wind Energy", "prairiewind.example", "America/Chicago", ("USD",)),
    ("Oakmont Medical Supply", "oakmont-med.example", "America/New_York", ("USD",)),
    ("Tidewater Shipyards", "tidewater-ship.example", "America/New_York", ("USD",)),
    ("Blue Heron Hotels", "blueheron-hotels.example", "America/New_York", ("USD",)),
    ("Canyon Creek Mining", "canyoncreek.example", "America/Denver", ("USD",)),
    ("Maple Street Grocers", "maplestreet.example", "America/Chicago", ("USD",)),
    ("Northstar Data Centers", "northstar-dc.example", "America/Chicago", ("USD",)),
    ("Evergreen Landscaping", "evergreen-land.example", "America/Los_Angeles", ("USD",)),
    ("Lakeshore Auto Parts", "lakeshore-auto.example", "America/Detroit", ("USD",)),
    ("Sunbelt Distribution", "sunbelt-dist.example", "America/New_York", ("USD",)),
    ("Coastal Cold Storage", "coastal-cold.example", "America/Los_Angeles", ("USD",)),
    ("Nordlicht Maschinenbau GmbH", "nordlicht.example", "Europe/Berlin", ("EUR",)),
    ("Meridian Freight GmbH", "meridian-freight.example", "Europe/Berlin", ("EUR",)),
    ("Lumière Distribution SARL", "lumiere-distribution.example", "Europe/Paris", ("EUR",)),
    ("Van der Berg Logistiek B.V.", "vanderberg.example", "Europe/Amsterdam", ("EUR",)),
    ("Alpenrose Hotels AG", "alpenrose.example", "Europe/Vienna", ("EUR",)),
    ("Costa Verde Alimentación S.L.", "costaverde.example", "Europe/Madrid", ("EUR",)),
    ("Officine Moretti S.p.A.", "moretti.example", "Europe/Rome", ("EUR",)),
    ("Shannon Medical Devices Ltd", "shannon-med.example", "Europe/Dublin", ("EUR", "GBP")),
    ("Baltic Amber Retail OÜ", "balticamber.example", "Europe/Tallinn", ("EUR",)),
    ("Helsinki Harbour Services Oy", "hhs.example", "Europe/Helsinki", ("EUR",)),
    ("Brabant Bouw B.V.", "brabantbouw.example", "Europe/Amsterdam", ("EUR",)),
    ("Brightwell Retail Ltd", "brightwell.example", "Europe/London", ("GBP", "EUR")),
    ("Thames Valley Engineering Ltd", "thamesvalley-eng.example", "Europe/London", ("GBP",)),
    ("Pennine Building Supplies Ltd", "pennine-building.example", "Europe/London", ("GBP",)),
    ("Clydeside Marine Ltd", "clydeside-marine.example", "Europe/London", ("GBP",)),
    ("Cotswold Catering Group", "cotswold-catering.example", "Europe/London", ("GBP",)),
    ("Severn Health Partners LLP", "severnhealth.example", "Europe/London", ("GBP",)),
    ("Whitby & Sons Hardware Ltd", "whitby-hardware.example", "Europe/London", ("GBP",)),
    ("Northgate Print Works Ltd", "northgate-print.example", "Europe/London", ("GBP",)),
    ("Sakura Precision K.K.", "sakura-precision.example", "Asia/Tokyo", ("JPY",)),
    ("Osaka Denki Trading K.K.", "osaka-denki.example", "Asia/Tokyo", ("JPY",)),
    ("Fujimi Logistics K.K.", "fujimi-logistics.example", "Asia/Tokyo", ("JPY",)),
    ("Hokkaido Fresh Foods K.K.", "hokkaido-fresh.example", "Asia/Tokyo", ("JPY",)),
    ("Kyoto Textile Works K.K.", "kyoto-textile.example", "Asia/Tokyo", ("JPY",)),
    ("Yokohama Port Services K.K.", "yokohama-port.example", "Asia/Tokyo", ("JPY",)),
)

FIRST_NAMES = {
    "anglo": ("Pat", "Jordan", "Morgan", "Casey", "Taylor", "Alex", "Sam", "Jamie", "Riley", "Dana",
              "Chris", "Robin", "Lee", "Avery", "Quinn", "Harper", "Emma", "Oliver", "Priya", "Marcus"),
    "europe": ("Anna", "Lukas", "Sophie", "Jan", "Marie", "Luca", "Elena", "Pieter", "Claire", "Mateo",
               "Ingrid", "Tomás", "Giulia", "Henrik", "Léa", "Sven", "Aoife", "Katrin", "Matteo", "Noor"),
    "japan": ("Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Kenji", "Sakura", "Daiki", "Mei",
              "Takumi", "Yuna", "Kaito", "Rin", "Shota", "Emi"),
}
LAST_NAMES = {
    "anglo": ("Morgan", "Reyes", "Chen", "Patel", "O'Brien", "Walker", "Nguyen", "Brooks", "Foster",
              "Hughes", "Kim", "Russo", "Bennett", "Okafor", "Sullivan", "Whitfield", "Hale", "Ward"),
    "europe": ("Müller", "Schmidt", "Dubois", "de Vries", "Rossi", "García", "Novak", "Lindqvist",
               "Bakker", "Moreau", "Fischer", "Esposito", "Murphy", "Tamm", "Virtanen", "Jansen"),
    "japan": ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura",
              "Kobayashi", "Kato", "Yoshida", "Yamada"),
}

# What Northwind sells: (sku, description, USD list price in cents, unit: "each" or "hour").
CATALOG: dict[str, tuple[tuple[str, str, int, str], ...]] = {
    "safety": (
        ("NW-GLV-100", "Nitrile gloves, box of 100, size L", 1450, "each"),
        ("NW-EYE-AF2", "Safety glasses, anti-fog, clear lens", 895, "each"),
        ("NW-VST-C2", "Hi-vis vest, class 2, yellow", 1275, "each"),
        ("NW-EAR-500", "Foam ear plugs, dispenser refill (500 pairs)", 8900, "each"),
        ("NW-FAK-50", "First aid kit refill, 50-person", 6450, "each"),
        ("NW-HAT-V", "Hard hat, vented, ratchet suspension", 2390, "each"),
    ),
    "packaging": (
        ("NW-BOX-18", "Corrugated boxes 18x12x12 in, bundle of 25", 4125, "each"),
        ("NW-STR-18", "Stretch wrap film 18 in x 1500 ft", 2699, "each"),
        ("NW-TPE-48", "Packing tape 48 mm, case of 36 rolls", 7380, "each"),
        ("NW-LBL-46", "Thermal labels 4x6 in, roll of 500", 1895, "each"),
        ("NW-VOID-P", "Void-fill paper, 15 in x 1200 ft", 5840, "each"),
    ),
    "warehouse": (
        ("NW-SHF-5T", "Steel shelving unit 48x24x72 in, 5 tiers", 21900, "each"),
        ("NW-PJK-WK", "Pallet jack rental, per week", 7500, "each"),
        ("NW-FLT-50", "Floor marking tape 50 mm x 33 m, yellow", 3215, "each"),
        ("NW-BIN-12", "Stackable parts bins, pack of 12", 4660, "each"),
        ("NW-LED-150", "LED high-bay fixture, 150 W", 18950, "each"),
    ),
    "maintenance": (
        ("NW-SVC-FLM", "Forklift preventive maintenance visit", 32500, "each"),
        ("NW-SVC-HR", "Technician labour, per hour", 9500, "hour"),
        ("NW-DGR-5L", "Industrial degreaser, 5 L", 3875, "each"),
        ("NW-HYD-20", "Hydraulic oil ISO 46, 20 L", 11240, "each"),
        ("NW-FLT-AIR", "Compressor air filter element", 5630, "each"),
    ),
    "fasteners": (
        ("NW-BLT-M10", "Hex bolts M10x50, zinc, box of 200", 3490, "each"),
        ("NW-CTY-300", "Cable ties 300 mm, pack of 1000", 2750, "each"),
        ("NW-ANC-12", "Wedge anchors 1/2 in, box of 50", 4180, "each"),
        ("NW-CBL-12", "Electrical cable 12 AWG, 100 m reel", 15800, "each"),
    ),
}
FREIGHT = ("NW-FRT", "Freight and handling", 4500)
# Rough list-price conversions from USD; JPY is rounded to tens of yen.
PRICE_FACTORS = {"USD": Decimal("1"), "EUR": Decimal("0.92"), "GBP": Decimal("0.79"), "JPY": Decimal("150")}
TERMS = (("Net 30", 30, 55), ("Net 60", 60, 20), ("Net 45", 45, 10), ("Net 15", 15, 10), ("Net 90", 90, 5))
PO_STYLES = ("PO-{n:05d}", "45{n:08d}", "{prefix}-PO-{n:04d}", "{prefix}{n:06d}")
CREDIT_REASONS = ("Damaged on delivery", "Price adjustment per contract", "Short shipment",
                  "Returned goods", "Duplicate billing of freight")
SHORT_PAY_REASONS = ("Partial payment, remainder in next payment run", "Disputed quantity on one line held back",
                     "Paying what was received; balance after delivery check")
NOTES = ("Delivered to dock 4.", "Deliver to receiving, building B.", "Call ahead: site closes at 3 pm.",
         "Split shipment, second part to follow.", "")


def _region(currencies: tuple[str, ...]) -> str:
    return {"USD": "anglo", "GBP": "anglo", "EUR": "europe", "JPY": "japan"}[currencies[0]]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _local_part(first: str, last: str) -> str:
    return f"{_ascii(first)}.{_ascii(last).replace(' ', '').replace(chr(39), '')}"


def _price(usd_cents: int, currency: str) -> int:
    """A list price in `currency` minor units from the USD price."""
    major = Decimal(usd_cents) / 100 * PRICE_FACTORS[currency]
    if exponent(currency) == 0:
        return int((major / 10).quantize(Decimal(1), ROUND_HALF_UP) * 10)
    return int((major * 20).quantize(Decimal(1), ROUND_HALF_UP) * 5)  # to 5 cents


def _at(day: date, hour: int = 15) -> datetime:
    return datetime.combine(day, time(hour), UTC)


class _Builder:
    """Holds the random stream and running numbers while one dataset is built."""

    def __init__(self, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        self.today = today

    # -- people and companies -------------------------------------------------------------------

    def contacts(self, name: str, domain: str, region: str, is_demo: bool) -> tuple[PlannedContact, ...]:
        if is_demo:
            return (
                PlannedContact(DEMO_CLERK_EMAIL, "Acme Accounts Payable", is_ap_mailbox=True),
                PlannedContact("pat.morgan@acme.example", "Pat Morgan"),
                PlannedContact("dana.whitfield@acme.example", "Dana Whitfield"),
            )
        rng = self.rng
        people = rng.choice((1, 1, 2, 2, 2, 3, 3))
        has_mailbox = rng.random() < 0.45 or (people == 1 and rng.random() < 0.5)
        used: set[str] = set()
        contacts = []
        while len(contacts) < people:
            first, last = rng.choice(FIRST_NAMES[region]), rng.choice(LAST_NAMES[region])
            email = f"{_local_part(first, last)}@{domain}"
            if email not in used:
                used.add(email)
                contacts.append(PlannedContact(email, f"{first} {last}"))
        if has_mailbox:
            mailbox = rng.choice(("ap", "accounts.payable", "invoices", "payables"))
            contacts.append(PlannedContact(f"{mailbox}@{domain}", f"{name} Accounts Payable", is_ap_mailbox=True))
        return tuple(contacts)

    def po_number(self, style: str, prefix: str) -> str:
        return style.format(n=self.rng.randrange(1, 99_999_999 if style.startswith("45") else 99_999), prefix=prefix)

    # -- invoices -------------------------------------------------------------------------------

    def lines(self, currency: str, categories: tuple[str, ...], size: float) -> tuple[PlannedLine, ...]:
        rng = self.rng
        items = rng.sample(CATALOG[rng.choice(categories)], k=rng.choice((1, 2, 2, 3, 3, 4)))
        lines = []
        for sku, description, usd, unit in items:
            if unit == "hour":
                quantity = Decimal(rng.choice((2, 3, 4, 6, 8, 12, 16))) + rng.choice((Decimal(0), Decimal("0.5")))
            else:
                quantity = Decimal(max(1, int(rng.choice((1, 2, 4, 6, 10, 12, 20, 24, 40)) * size)))
            lines.append((sku, description, quantity, _price(usd, currency)))
        if rng.random() < 0.35:
            lines.append((FREIGHT[0], FREIGHT[1], Decimal(1), _price(FREIGHT[2], currency)))
        return tuple(
            PlannedLine(sku, description, quantity, unit_price,
                        int((quantity * unit_price).quantize(Decimal(1), ROUND_HALF_UP)))
            for sku, description, quantity, unit_price in lines
        )

    def invoice(self, currency: str, issue_date: date, terms: tuple[str, int], categories, size: float,
                po: str | None, contacts: tuple[PlannedContact, ...]) -> PlannedInvoice:
        sent_to = next((i for i, c in enumerate(contacts) if not c.is_ap_mailbox), 0)
        if len(contacts) > 1 and self.rng.random() < 0.3:
            sent_to = self.rng.randrange(len(contacts))
        return PlannedInvoice(
            number="", currency=currency, issue_date=issue_date,
            due_date=issue_date + timedelta(days=terms[1]), terms=terms[0], po_number=po,
            lines=self.lines(currency, categories, size), sent_to=sent_to,
            notes=self.rng.choice(NOTES) if self.rng.random() < 0.2 else "",
        )

    # -- what happened to each invoice ------------------------------------------------------------

    def settle(self, customer: PlannedCustomer, invoice: PlannedInvoice) -> None:
        """Decide, by age, whether the invoice was credited, paid in full, in part or not yet."""
        rng, today = self.rng, self.today
        total = invoice.total_minor
        days_overdue = (today - invoice.due_date).days
        credited = 0
        if rng.random() < 0.07 and (today - invoice.issue_date).days > 5:
            credited = total if rng.random() < 0.12 else max(1, total * rng.choice((5, 10, 15, 20)) // 100)
            self.credit(invoice, credited, rng.choice(CREDIT_REASONS))
        remaining = total - credited
        if remaining == 0:
            return
        if days_overdue < 0:
            paid_share = 0.12
        elif days_overdue <= 30:
            paid_share = 0.35
        elif days_overdue <= 60:
            paid_share = 0.55
        elif days_overdue <= 120:
            paid_share = 0.72
        else:
            paid_share = 0.93
        if rng.random() < paid_share:
            lateness = rng.choice((-12, -5, -2, 0, 0, 3, 7, 10, 18, 25, 40))
            self.pay(customer, invoice, remaining, self.clamp(invoice.due_date + timedelta(days=lateness), invoice))
        elif (today - invoice.issue_date).days > 10 and rng.random() < 0.12:
            part = remaining * rng.choice((25, 40, 50, 60)) // 100
            if part > 0:
                paid_on = self.clamp(invoice.issue_date + timedelta(days=rng.randrange(7, 40)), invoice)
                self.pay(customer, invoice, part, paid_on, short_pay_reason=rng.choice(SHORT_PAY_REASONS))

    def clamp(self, day: date, invoice: PlannedInvoice) -> date:
        """A day between the issue date and yesterday (history, never the future)."""
        return max(invoice.issue_date, min(day, self.today - timedelta(days=1)))

    def credit(self, invoice: PlannedInvoice, amount: int, reason: str, on: date | None = None) -> None:
        on = on or self.clamp(invoice.issue_date + timedelta(days=self.rng.randrange(3, 30)), invoice)
        invoice.credits.append(PlannedCredit(reference="", amount_minor=amount, on=on, reason=reason))

    def pay(self, customer: PlannedCustomer, invoice: PlannedInvoice, amount: int, paid_on: date,
            short_pay_reason: str = "") -> None:
        """One allocation; joins the customer's previous payment when made the same week
        (one remittance often settles several invoices)."""
        rng = self.rng
        allocation = PlannedAllocation(invoice.number, amount, short_pay_reason)
        previous = customer.payments[-1] if customer.payments else None
        if (previous is not None and not short_pay_reason and previous.currency == invoice.currency
                and abs((previous.paid_on - paid_on).days) <= 6 and rng.random() < 0.6
                and all(a.invoice_number != invoice.number for a in previous.allocations)):
            previous.allocations.append(allocation)
            previous.paid_on = max(previous.paid_on, paid_on)
            return
        method = "us_bank_account" if invoice.currency == "USD" and rng.random() < 0.3 else "card"
        customer.payments.append(PlannedPayment(
            currency=invoice.currency, paid_on=paid_on, method=method,
            paid_by=rng.randrange(len(customer.contacts)),
            po_number=(invoice.po_number or "") if rng.random() < 0.5 else "",
            memo=rng.choice(("", "", "Remittance run", f"Payables batch {paid_on:%b %d}", "Per statement")),
            allocations=[allocation],
        ))


def build_demo_dataset(seed: int = DEFAULT_SEED, today: date | None = None, *,
                       invoice_count: int = INVOICE_COUNT) -> DemoDataset:
    """The whole plan, deterministic for (seed, today, invoice_count)."""
    if today is None:
        raise ValueError("build_demo_dataset needs today's date (from the clock)")
    builder = _Builder(seed, today)
    rng = builder.rng
    customers: list[PlannedCustomer] = []
    other_invoices = invoice_count - ACME_INVOICE_COUNT
    weights = [rng.uniform(0.3, 2.2) for _ in CUSTOMERS[1:]]
    counts = largest_remainder(other_invoices, weights)

    for index, (name, domain, tz, currencies) in enumerate(CUSTOMERS):
        is_demo = index == 0
        contacts = builder.contacts(name, domain, _region(currencies), is_demo)
        customer = PlannedCustomer(
            account_number=f"C-{10001 + index}", name=name, timezone=tz,
            since=today - timedelta(days=rng.randrange(500, 3000)), contacts=contacts,
        )
        if is_demo:
            _plan_acme(builder, customer)
        else:
            _plan_customer(builder, customer, currencies, counts[index - 1])
        customers.append(customer)

    _number_everything(customers)
    return DemoDataset(seed=seed, today=today, customers=customers)


def _plan_customer(builder: _Builder, customer: PlannedCustomer, currencies: tuple[str, ...], count: int) -> None:
    rng, today = builder.rng, builder.today
    categories = tuple(rng.sample(sorted(CATALOG), k=rng.choice((1, 2, 2, 3))))
    terms_choices = [(name, days) for name, days, _ in TERMS]
    terms = rng.choices(terms_choices, weights=[w for *_, w in TERMS])[0]
    size = rng.choice((0.5, 1, 1, 1.5, 2, 3))
    prefix = "".join(word[0] for word in customer.name.split()[:3]).upper()
    po_style = rng.choice(PO_STYLES)
    uses_po = rng.random() < 0.85
    for _ in range(count):
        currency = currencies[0] if len(currencies) == 1 or rng.random() < 0.75 else currencies[1]
        issue_date = today - timedelta(days=int(rng.triangular(0, 460, 40)))
        po = builder.po_number(po_style, prefix) if uses_po and rng.random() < 0.9 else None
        customer.invoices.append(builder.invoice(currency, issue_date, terms, categories, size, po, customer.contacts))
    customer.invoices.sort(key=lambda invoice: invoice.issue_date)
    # Numbers are given later, in issue order across all customers; settle() needs a stable
    # handle meanwhile.
    for position, invoice in enumerate(customer.invoices):
        invoice.number = f"{customer.account_number}/{position}"
        builder.settle(customer, invoice)


# Acme's 20 invoices: (days since issue, terms, what happened). Every state the demo shows.
ACME_SCHEDULE = (
    (400, 30, "paid"), (340, 30, "paid"), (300, 30, "paid"), (260, 30, "paid_with_credit"),
    (230, 30, "credited"), (200, 30, "paid"), (170, 30, "paid"), (150, 30, "open"),  # 120 days overdue
    (140, 30, "paid"), (105, 30, "open"),  # 75 days overdue: 61-90
    (85, 30, "partly_paid"),  # 55 days overdue: 31-60
    (78, 30, "open_with_credit"),  # 48 days overdue: 31-60
    (52, 30, "open"), (44, 30, "partly_paid"),  # 22 and 14 days overdue: 1-30
    (33, 30, "open"),  # 3 days overdue
    (25, 30, "open"), (18, 30, "open"), (9, 30, "open"), (4, 30, "open"),  # not yet due
    (60, 30, "paid"),
)


def _plan_acme(builder: _Builder, customer: PlannedCustomer) -> None:
    rng, today = builder.rng, builder.today
    assert len(ACME_SCHEDULE) == ACME_INVOICE_COUNT
    planned = []
    for days_ago, term_days, outcome in ACME_SCHEDULE:
        issue_date = today - timedelta(days=days_ago)
        po = f"ACME-PO-{rng.randrange(1000, 9999)}" if rng.random() < 0.9 else None
        invoice = builder.invoice("USD", issue_date, (f"Net {term_days}", term_days),
                                  ("safety", "packaging", "warehouse"), 1, po, customer.contacts)
        planned.append((invoice, outcome))
    planned.sort(key=lambda pair: pair[0].issue_date)
    for position, (invoice, outcome) in enumerate(planned):
        invoice.number = f"{customer.account_number}/{position}"
        customer.invoices.append(invoice)
        total = invoice.total_minor
        if outcome in ("paid", "paid_with_credit"):
            credit = total // 10 if outcome == "paid_with_credit" else 0
            if credit:
                builder.credit(invoice, credit, "Price adjustment per contract")
            builder.pay(customer, invoice, total - credit, builder.clamp(invoice.due_date + timedelta(days=rng.randrange(-5, 15)), invoice))
        elif outcome == "credited":
            builder.credit(invoice, total, "Returned goods")
        elif outcome == "partly_paid":
            builder.pay(customer, invoice, total // 2, builder.clamp(invoice.due_date - timedelta(days=3), invoice),
                        short_pay_reason=SHORT_PAY_REASONS[0])
        elif outcome == "open_with_credit":
            builder.credit(invoice, total * 15 // 100, "Damaged on delivery")


def _number_everything(customers: list[PlannedCustomer]) -> None:
    """Invoice numbers run in issue order across customers (INV-2026-00042); credit notes too."""
    invoices = sorted(
        (invoice for customer in customers for invoice in customer.invoices),
        key=lambda invoice: (invoice.issue_date, invoice.number),
    )
    renumbered: dict[str, str] = {}
    per_year: dict[int, int] = {}
    for invoice in invoices:
        year = invoice.issue_date.year
        per_year[year] = per_year.get(year, 0) + 1
        renumbered[invoice.number] = f"INV-{year}-{per_year[year]:05d}"
        invoice.number = renumbered[invoice.number]
    credits = sorted(
        ((credit.on, invoice.number, i, invoice) for invoice in invoices for i, credit in enumerate(invoice.credits)),
    )
    for sequence, (on, _number, i, invoice) in enumerate(credits, start=1):
        credit = invoice.credits[i]
        invoice.credits[i] = PlannedCredit(f"CN-{on.year}-{sequence:04d}", credit.amount_minor, credit.on, credit.reason)
    for customer in customers:
        for payment in customer.payments:
            payment.allocations = [
                PlannedAllocation(renumbered[a.invoice_number], a.amount_minor, a.short_pay_reason)
                for a in payment.allocations
            ]


# ---------------------------------------------------------------------------------------------
# Writing it


def write_demo_dataset(db: Session, plan: DemoDataset) -> DemoSummary:
    """Store the plan; the caller commits. Every date comes from the plan, so no clock."""
    counts = {"contacts": 0, "invoices": 0, "payments": 0, "credit_notes": 0}
    customers: list[tuple[PlannedCustomer, Customer, list[Contact]]] = []
    for planned in plan.customers:
        customer = Customer(account_number=planned.account_number, name=planned.name,
                            timezone=planned.timezone, created_at=_at(planned.since, 9))
        contacts = [
            Contact(customer=customer, email=c.email, name=c.name, is_ap_mailbox=c.is_ap_mailbox,
                    created_at=_at(planned.since, 9))
            for c in planned.contacts
        ]
        db.add(customer)
        db.add_all(contacts)
        customers.append((planned, customer, contacts))
        counts["contacts"] += len(contacts)
    db.flush()

    invoices_by_number: dict[str, Invoice] = {}
    for planned, customer, contacts in customers:
        for p in planned.invoices:
            invoices_by_number[p.number] = issue_invoice(
                db, customer_id=customer.id, number=p.number, po_number=p.po_number, currency=p.currency,
                issue_date=p.issue_date, due_date=p.due_date, terms=p.terms, total_minor=p.total_minor,
                sent_to_contact_id=contacts[p.sent_to].id, notes=p.notes, at=_at(p.issue_date, 8),
                lines=[NewLine(line.description, line.quantity, line.unit_price_minor,
                               amount_minor=line.amount_minor, sku=line.sku) for line in p.lines],
            )
    counts["invoices"] = len(invoices_by_number)

    payments: list[tuple[PlannedPayment, Payment]] = []
    for planned, customer, contacts in customers:
        for number, p in enumerate(planned.payments, start=1):
            key = f"demo-{planned.account_number}-{number}"
            settled_at = _at(p.paid_on, 16)
            payment = Payment(
                customer_id=customer.id, contact_id=contacts[p.paid_by].id, currency=p.currency,
                amount_minor=p.amount_minor, method=p.method, status="succeeded", request_key=key,
                idempotency_key=key, stripe_payment_intent_id=None, po_number=p.po_number, memo=p.memo,
                created_at=settled_at - timedelta(minutes=5), updated_at=settled_at, settled_at=settled_at,
            )
            payment.allocations = [
                PaymentAllocation(invoice_id=invoices_by_number[a.invoice_number].id, amount_minor=a.amount_minor,
                                  short_pay_reason=a.short_pay_reason)
                for a in p.allocations
            ]
            payments.append((p, payment))
    # References numbered in the order the payments were made, per year, as live ones are.
    by_year: dict[int, list[Payment]] = {}
    for _p, payment in sorted(payments, key=lambda pair: pair[1].created_at):
        by_year.setdefault(payment.created_at.year, []).append(payment)
    for year, made in by_year.items():
        for payment, reference in zip(made, take_payment_references(db, year, len(made)), strict=True):
            payment.reference = reference
    db.add_all([payment for _p, payment in payments])
    db.flush()
    counts["payments"] = len(payments)

    # Credits and settlements are posted in the order they happened.
    postings: list[tuple[datetime, int, Invoice, PlannedCredit | tuple[Payment, PlannedAllocation]]] = []
    for planned, _customer, _contacts in customers:
        for p in planned.invoices:
            invoice = invoices_by_number[p.number]
            for credit in p.credits:
                postings.append((_at(credit.on, 11), invoice.id, invoice, credit))
                counts["credit_notes"] += 1
    for p, payment in payments:
        for allocation in p.allocations:
            invoice = invoices_by_number[allocation.invoice_number]
            postings.append((payment.settled_at, invoice.id, invoice, (payment, allocation)))
    postings.sort(key=lambda posting: posting[:2])
    for at, _invoice_id, invoice, what in postings:
        if isinstance(what, PlannedCredit):
            issue_credit_note(db, invoice_id=invoice.id, at=at, amount=Money(what.amount_minor, invoice.currency),
                              reference=f"{what.reference}: {what.reason}"[:120])
        else:
            payment, allocation = what
            post_entry(db, invoice_id=invoice.id, kind=EntryKind.PAYMENT, amount_minor=-allocation.amount_minor,
                       payment_id=payment.id, reference=f"Payment {payment.public_id}", at=at)
    return DemoSummary(customers=len(customers), clerk_email=DEMO_CLERK_EMAIL, **counts)


def seed_demo_data(db: Session, clock: Clock, seed: int = DEFAULT_SEED) -> DemoSummary:
    """Fill an empty database with the demo ledger; the caller commits.

    Raises `DemoDataExists` when any customer is already there: demo data never mixes with
    real (or earlier demo) data.
    """
    existing = db.scalar(select(func.count()).select_from(Customer))
    if existing:
        raise DemoDataExists(f"The database already has {existing} customers; demo data was not added.")
    from devserver.demo_ach import write_demo_ach
    from devserver.demo_disputes import write_demo_disputes
    from devserver.demo_followup_sources import write_demo_followup_sources
    from devserver.demo_outbox import write_demo_dead_letters
    from devserver.demo_followups import write_demo_followups
    from devserver.demo_plans import write_demo_plans
    from devserver.demo_promises import write_demo_promises
    from devserver.demo_reminders import write_demo_reminders
    from devserver.demo_staff import seed_demo_staff

    plan = build_demo_dataset(seed, clock.now().date())
    summary = write_demo_dataset(db, plan)
    # Teams, staff and routing rules first, so the disputes are routed as live ones are.
    seed_demo_staff(db, clock)
    write_demo_disputes(db, clock)
    write_demo_promises(db, clock)
    write_demo_ach(db, clock)
    write_demo_reminders(db, clock)
    write_demo_plans(db, clock)
    write_demo_followup_sources(db, clock)
    write_demo_dead_letters(db, clock)
    write_demo_followups(db, clock)
    return summary
