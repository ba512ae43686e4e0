"""Build a plausible demo union in bulk: the engine behind `manage.py seed_demo`.

Everything comes from one seeded random generator, so a seed (and the day it runs, since dates count
back from today) always gives the same union. Members are generated and written in chunks, so memory
stays flat however many are asked for. On PostgreSQL rows go in with COPY; elsewhere with bulk_create.
This writes rows directly instead of through crm.services on purpose: the services audit and check
one member at a time, and a million of them would take hours. The invariants the services keep
(branch follows workplace, consent has a source, SMS consent needs a mobile) are kept here too and
checked by tests/crm/test_seed_demo.py.
"""

from __future__ import annotations

import datetime
import itertools
import time
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from random import Random
from types import SimpleNamespace

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max, Model
from django.utils import timezone
from django.utils.text import slugify

from crm.management import demo_data as data
from crm.models import (
    Assessment,
    AuditEntry,
    Branch,
    Campaign,
    ClosureRequest,
    Conversation,
    DuesAccount,
    DuesPayment,
    Employer,
    EqualitiesAccess,
    EqualitiesAnswers,
    ImportJob,
    ImportRow,
    ImportSource,
    InboundText,
    Member,
    MembershipSnapshot,
    Message,
    MessageAttachment,
    Position,
    ProviderEvent,
    Region,
    Sector,
    Segment,
    SmsOptOut,
    StripeEvent,
    Tag,
    User,
    Workplace,
)
from crm.services import next_membership_number

DEMO_PASSWORD = "quorum-demo"
DEMO_USERNAMES = ("admin", "organiser", "branchsec", "rep", "member", "scrutineer")
CHUNK_SIZE = 50_000
MAX_BRANCHES = 150
MIN_WORKPLACES = 36
ORGANISER_REGION = "yorkshire-humber"

# Emptied before anything else by --flush: messages, campaigns and dues point at members, and campaigns at users,
# segments, elections and events, which all go after them. Subscription rates are settings, not data: kept.
CRM_ACTIVITY_MODELS: tuple[type[Model], ...] = (
    MessageAttachment,
    Message,
    Campaign,
    InboundText,
    SmsOptOut,
    ProviderEvent,
    StripeEvent,
    DuesPayment,
    DuesAccount,
)

# The crm tables seed_demo fills (and --flush empties), children first.
CRM_DATA_MODELS: tuple[type[Model], ...] = (
    # Organising: saved filters name branches, and conversations, assessments and equalities answers hang on members.
    Segment.shared_with.through,
    Segment,
    EqualitiesAccess,
    EqualitiesAnswers,
    Assessment,
    Conversation,
    ImportRow,
    ImportJob,
    ImportSource,
    ClosureRequest,
    Member.tags.through,
    Position,
    AuditEntry,
    MembershipSnapshot,
    Member,
    Tag,
    Workplace,
    Employer,
    Branch,
    Region,
)

# The columns generated for each member, in the order of the generated row tuples.
MEMBER_COLUMNS = (
    "id",
    "membership_number",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
    "branch_id",
    "workplace_id",
    "employer_id",
    "sector",
    "category",
    "status",
    "joined_on",
    "status_changed_on",
    "has_arrears",
    "email_consent",
    "email_consent_source",
    "email_consent_at",
    "sms_consent",
    "sms_consent_source",
    "sms_consent_at",
    "notes",
    "created_at",
)
POSITION_COLUMNS = ("member_id", "kind", "workplace_id", "branch_id", "region_id", "started_on", "ended_on")
MEMBER_TAG_COLUMNS = ("member_id", "tag_id")


def _plain(choices) -> SimpleNamespace:
    """An enum's members as plain strings: the generator compares these millions of times, and an
    enum member's comparison runs in Python, several times slower than a string's."""
    return SimpleNamespace(**{member.name: member.value for member in choices})


Category = _plain(Member.Category)
Status = _plain(Member.Status)
Kind = Position.Kind
SUPPLY_SECTOR = Sector.SUPPLY.value

# Membership category mix, and where each category works.
CATEGORY_WEIGHTS = [
    (Category.TEACHER, 53),
    (Category.SUPPORT_STAFF, 15),
    (Category.LEADER, 5),
    (Category.LECTURER, 8),
    (Category.SUPPLY, 6),
    (Category.STUDENT, 4),
    (Category.RETIRED, 9),
]
SCHOOL_CATEGORIES = {Category.TEACHER, Category.LEADER, Category.SUPPORT_STAFF}
# Cumulative status probabilities by category; the rest of the working-age mix is "deceased".
STATUS_CUTS = {
    Category.RETIRED: ((0.02, Status.APPLICANT), (0.89, Status.ACTIVE), (0.92, Status.LAPSED), (0.96, Status.RESIGNED)),
    Category.STUDENT: ((0.25, Status.APPLICANT), (0.95, Status.ACTIVE), (0.98, Status.LAPSED), (1.0, Status.RESIGNED)),
    None: ((0.03, Status.APPLICANT), (0.85, Status.ACTIVE), (0.925, Status.LAPSED), (0.998, Status.RESIGNED)),
}
CONSENT_SOURCES = [
    (Member.ConsentSource.JOIN_FORM.value, 50),
    (Member.ConsentSource.MEMBER_PORTAL.value, 20),
    (Member.ConsentSource.IMPORT.value, 15),
    (Member.ConsentSource.PAPER_FORM.value, 10),
    (Member.ConsentSource.CONVERSATION.value, 5),
]
THIRTY_YEARS = 30 * 365


@dataclass
class Login:
    username: str
    role: str
    sees: str


@dataclass
class SeedSummary:
    seed: int
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    members_by_status: dict[str, int] = field(default_factory=dict)
    in_arrears: int = 0
    logins: list[Login] = field(default_factory=list)


@dataclass
class _Workplace:
    id: int
    branch: int  # index into the builder's branch list
    employer_id: int
    sector: str
    staff: int


@dataclass
class _Branch:
    id: int
    region_id: int
    region_code: str
    town: str
    postcode_area: str


def _cumulative(weights: Iterable[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def existing_crm_data() -> dict[str, int]:
    """Rows already present that seed_demo would collide with: crm data, and users with demo usernames."""
    found = {model._meta.verbose_name_plural: model.objects.count() for model in (Region, Branch, Employer, Member)}
    found["demo users"] = User.objects.filter(username__in=DEMO_USERNAMES).count()
    return {name: n for name, n in found.items() if n}


def _points_at(model: type[Model], others: set) -> bool:
    return any(
        f.is_relation and f.concrete and f.related_model in others and f.related_model is not model
        for f in model._meta.get_fields()
    )


def _models_depending_on_crm_data() -> list[type[Model]]:
    """Models outside crm (events, elections...) with a relation to crm data, directly or through another such
    model (a ballot through its election): they must go first, each before the models it points at (PROTECT)."""
    targets = set(CRM_DATA_MODELS)
    dependants: list[type[Model]] = []
    candidates = [m for m in apps.get_models() if m._meta.app_label != "crm" and m is not User]
    while True:
        found = [m for m in candidates if m not in dependants and _points_at(m, targets | set(dependants))]
        if not found:
            break
        dependants += found
    ordered: list[type[Model]] = []
    remaining = list(dependants)
    while remaining:
        # Next: a model no other remaining model points at (a cycle, which PROTECT would not allow, ends the sort).
        free = [m for m in remaining if not any(_points_at(other, {m}) for other in remaining if other is not m)]
        for model in free or remaining:
            ordered.append(model)
            remaining.remove(model)
    return ordered


def flush_crm_data() -> int:
    """Delete all crm data and the demo users. Other users are kept, with their scope links cleared;
    a rep must be a member, so other reps become plain members. Returns how many users were kept."""
    with transaction.atomic():
        _empty_tables([model._meta.db_table for model in CRM_ACTIVITY_MODELS])
        User.objects.filter(username__in=DEMO_USERNAMES).delete()
        User.objects.filter(role=User.Role.REP).update(role=User.Role.MEMBER)
        User.objects.exclude(member=None).update(member=None)
        User.regions.through.objects.all().delete()
        User.branches.through.objects.all().delete()
        for model in _models_depending_on_crm_data():
            model.objects.all().delete()
        _empty_tables([model._meta.db_table for model in CRM_DATA_MODELS])
        return User.objects.count()


def _empty_tables(tables: list[str]) -> None:
    """Empty the tables (children first), all rows at once."""
    if connection.vendor == "postgresql":
        _truncate_on_postgresql(tables)
    else:
        with connection.cursor() as cursor:
            # Plain DELETEs: the ORM's delete() would fetch every primary key to cascade by hand.
            for table in tables:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")  # noqa: S608 (model tables)


def _truncate_on_postgresql(tables: list[str]) -> None:
    """TRUNCATE the tables: seconds for a million members, where DELETE checks every row's references.

    PostgreSQL truncates a referenced table only together with the tables referencing it. Those we
    have just emptied are truncated too; any that keep rows (the users) have their foreign key lifted
    for the truncate and put back after, when no kept row points at the truncated data any more."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending on the tables we alter
        targets = list(tables)
        lifted: list[tuple[str, str, str]] = []
        while True:
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE contype = 'f' AND confrelid = ANY(%s::regclass[]) AND NOT conrelid = ANY(%s::regclass[])",
                [targets, targets],
            )
            added = False
            for table, name, definition in cursor.fetchall():
                if (table, name, definition) in lifted:
                    continue
                cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")  # noqa: S608 (from pg_constraint)
                if cursor.fetchone()[0]:
                    lifted.append((table, name, definition))
                elif table not in targets:
                    targets.append(table)
                    added = True
            if not added:
                break
        quote = connection.ops.quote_name
        for table, name, _ in lifted:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
        cursor.execute(f"TRUNCATE {', '.join(quote(t) if t in tables else t for t in targets)} RESTART IDENTITY")
        for table, name, definition in lifted:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")


class _Writer:
    """Writes generated row tuples: COPY on PostgreSQL, bulk_create batches elsewhere."""

    def __init__(self) -> None:
        self.use_copy = connection.vendor == "postgresql"

    def write(self, model: type[Model], columns: Sequence[str], rows: Sequence[tuple]) -> None:
        if not rows:
            return
        if self.use_copy:
            self._copy(model, columns, rows)
        else:
            model.objects.bulk_create((model(**dict(zip(columns, row, strict=True))) for row in rows), batch_size=2000)

    def _copy(self, model: type[Model], columns: Sequence[str], rows: Sequence[tuple]) -> None:
        opts = model._meta
        by_attname = {f.attname: f for f in opts.concrete_fields}
        # Fields added to the model later than this generator get their defaults, so COPY keeps working.
        extras = [f for f in opts.concrete_fields if f.attname not in columns and not f.primary_key]
        extra_values = tuple(f.get_db_prep_save(f.get_default(), connection) for f in extras)
        names = [by_attname[c].column for c in columns] + [f.column for f in extras]
        sql = "COPY {} ({}) FROM STDIN".format(
            connection.ops.quote_name(opts.db_table), ", ".join(connection.ops.quote_name(n) for n in names)
        )
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            if extra_values:
                for row in rows:
                    copy.write_row(row + extra_values)
            else:
                for row in rows:
                    copy.write_row(row)


@contextmanager
def _indexes_rebuilt_after(models: Sequence[type[Model]], progress: Callable[[str], None]) -> Iterator[None]:
    """On PostgreSQL, drop these tables' secondary indexes and foreign keys while they are loaded, then
    recreate them from their saved definitions: one sorted build and one validating join each, instead
    of a million index insertions and deferred checks. Must run inside the loading transaction, so a
    failure rolls the drops back too. Primary keys and unique constraints stay, and still check every row."""
    if connection.vendor != "postgresql":
        yield
        return
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the structure's deferred checks before altering
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [tables],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])",
            [tables],
        )
        foreign_keys = cursor.fetchall()
        for table, name, _ in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}")
    progress(
        f"rebuilt {len(indexes)} indexes and {len(foreign_keys)} foreign keys in {time.monotonic() - started:.1f} s"
    )


class DemoUnionBuilder:
    """Generates and writes the demo union. build() runs in one transaction (a savepoint inside a caller's)."""

    def __init__(
        self,
        *,
        members: int,
        seed: int = 1,
        today: datetime.date | None = None,
        progress: Callable[[str], None] | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.n_members = members
        self.seed = seed
        self.rng = Random(seed)
        self.today = today or timezone.localdate()
        self.progress = progress or (lambda message: None)
        self.chunk_size = chunk_size
        self.writer = _Writer()
        self.summary = SeedSummary(seed=seed)
        self.branches: list[_Branch] = []
        self.workplaces: list[_Workplace] = []
        self.regions: dict[str, Region] = {}
        self.agency_ids: list[int] = []
        self.tag_ids: list[int] = []
        # Filled while members are generated: who could hold a position, and counts for snapshots.
        self.workplace_candidates: dict[int, list[tuple[int, datetime.date]]] = defaultdict(list)
        self.branch_candidates: dict[int, list[tuple[int, datetime.date]]] = defaultdict(list)
        self.branch_status_counts: Counter[tuple[int, str]] = Counter()

    # ----------------------------------------------------------------- orchestration

    def build(self) -> SeedSummary:
        started = time.monotonic()
        with transaction.atomic():
            self._build_structure()
            with _indexes_rebuilt_after((Member, Member.tags.through, Position), self.progress):
                self._build_members()
                positions = self._build_positions()
            self._build_snapshots()
            self._reset_sequences()
            self._build_users(positions)
            commit_started = time.monotonic()
        self.progress(f"committed in {time.monotonic() - commit_started:.1f} s")
        if connection.vendor == "postgresql":
            # Fresh statistics for the planner, and a visibility map so index-only scans can skip the heap.
            # VACUUM cannot run inside a transaction (a test's, say): ANALYZE alone can.
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            vacuum_started = time.monotonic()
            with connection.cursor() as cursor:
                for model in (*CRM_DATA_MODELS, User):
                    cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
            self.progress(f"{command} took {time.monotonic() - vacuum_started:.1f} s")
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def _reset_sequences(self) -> None:
        # Members were written with explicit ids; move the id sequence past them.
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Member]):
                cursor.execute(sql)

    # ----------------------------------------------------------------- structure

    def _place(self) -> str:
        rng = self.rng
        return rng.choice(data.PLACE_PREFIXES) + rng.choice(data.PLACE_SUFFIXES)

    def _postcode(self, area: str) -> str:
        rng = self.rng
        letters = data.POSTCODE_LETTERS
        return f"{area}{rng.randint(1, 20)} {rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"

    def _branch_count(self) -> int:
        towns = sum(len(towns) for _, _, towns in data.REGIONS)
        wanted = round(0.15 * self.n_members**0.5)
        return max(2 * len(data.REGIONS), min(wanted, MAX_BRANCHES, towns))

    def _build_structure(self) -> None:
        rng = self.rng
        regions = Region.objects.bulk_create(Region(name=name, code=code) for name, code, _ in data.REGIONS)
        self.regions = {r.code: r for r in regions}

        # Towns are taken a rank at a time across regions, so every region gets its biggest towns first.
        wanted = self._branch_count()
        picked: list[tuple[str, str, str, int]] = []  # region code, town, postcode area, rank in region
        for rank in range(max(len(towns) for _, _, towns in data.REGIONS)):
            for _, code, towns in data.REGIONS:
                if rank < len(towns) and len(picked) < wanted:
                    picked.append((code, *towns[rank], rank))
        branch_rows = Branch.objects.bulk_create(
            Branch(region=self.regions[code], name=town, code=slugify(town)) for code, town, _, _ in picked
        )
        self.branches = [
            _Branch(id=b.id, region_id=b.region_id, region_code=code, town=town, postcode_area=area)
            for b, (code, town, area, _) in zip(branch_rows, picked, strict=True)
        ]
        branch_weights = [3 if rank < 3 else 2 if rank < 8 else 1 for *_, rank in picked]

        # Employers: a council per branch, academy trusts per region, agencies; colleges and
        # independent schools employ their own staff and are added with their workplaces.
        n_workplaces = max(MIN_WORKPLACES, self.n_members // 25)
        employer_kinds: dict[str, str] = {}
        councils = []
        for branch in self.branches:
            if branch.region_code in data.LONDON_REGIONS:
                name = f"London Borough of {branch.town}"
            else:
                name = f"{branch.town} Council"
            employer_kinds[name] = Employer.Kind.LOCAL_AUTHORITY
            councils.append(name)
        region_codes = [code for _, code, _ in data.REGIONS]
        trusts_by_region: dict[str, list[str]] = defaultdict(list)
        for i in range(max(len(region_codes), n_workplaces // 60)):
            name = self._unique_name(
                employer_kinds,
                lambda: rng.choice(data.TRUST_TEMPLATES).format(place=self._place(), saint=rng.choice(data.SAINTS)),
            )
            employer_kinds[name] = Employer.Kind.ACADEMY_TRUST
            trusts_by_region[region_codes[i % len(region_codes)]].append(name)
        for name in data.SUPPLY_AGENCIES:
            employer_kinds[name] = Employer.Kind.AGENCY

        # Workplaces: every branch gets at least one, the rest go to bigger towns more often.
        kinds = data.WORKPLACE_KINDS
        kind_cw = _cumulative(share for _, share, _, _ in kinds)
        branch_cw = _cumulative(branch_weights)
        names_in_branch: dict[int, set[str]] = defaultdict(set)
        specs = []  # (branch index, name, sector, employer name, staff, postcode)
        has_college = False
        for i in range(n_workplaces):
            b = i if i < len(self.branches) else bisect_right(branch_cw, rng.random() * branch_cw[-1])
            sector, _, (low, high), templates = kinds[bisect_right(kind_cw, rng.random() * kind_cw[-1])]
            if i == n_workplaces - 1 and not has_college:
                sector, _, (low, high), templates = next(k for k in kinds if k[0] == Sector.FURTHER_EDUCATION)
            has_college = has_college or sector in data.COLLEGE_SECTORS
            branch = self.branches[b]

            def make_name(templates=templates, branch=branch):
                return rng.choice(templates).format(
                    place=self._place(), saint=rng.choice(data.SAINTS), town=branch.town
                )

            name = self._unique_name(names_in_branch[b], make_name)
            names_in_branch[b].add(name)
            if sector in data.COLLEGE_SECTORS or sector == Sector.INDEPENDENT:
                employer = name if name not in employer_kinds else f"{name}, {branch.town}"
                employer = self._unique_name(employer_kinds, lambda employer=employer: employer)
                employer_kinds[employer] = (
                    Employer.Kind.INDEPENDENT if sector == Sector.INDEPENDENT else Employer.Kind.COLLEGE
                )
            else:
                academy_share = {"primary": 0.45, "secondary": 0.8, "special": 0.5}.get(sector, 0.1)
                trusts = trusts_by_region.get(branch.region_code)
                employer = rng.choice(trusts) if trusts and rng.random() < academy_share else councils[b]
            staff = rng.randint(low, high)
            specs.append((b, name, sector, employer, staff, self._postcode(branch.postcode_area)))

        employers = Employer.objects.bulk_create(Employer(name=n, kind=k) for n, k in employer_kinds.items())
        employer_ids = {e.name: e.id for e in employers}
        self.agency_ids = [employer_ids[name] for name in data.SUPPLY_AGENCIES]
        workplace_rows = Workplace.objects.bulk_create(
            (
                Workplace(
                    name=name,
                    branch_id=self.branches[b].id,
                    employer_id=employer_ids[employer],
                    sector=sector,
                    eligible_staff=staff,
                    postcode=postcode,
                )
                for b, name, sector, employer, staff, postcode in specs
            ),
            batch_size=2000,
        )
        self.workplaces = [
            _Workplace(id=w.id, branch=spec[0], employer_id=w.employer_id, sector=w.sector, staff=w.eligible_staff)
            for w, spec in zip(workplace_rows, specs, strict=True)
        ]
        tags = Tag.objects.bulk_create(Tag(name=name) for name in data.TAGS)
        self.tag_ids = [t.id for t in tags]
        self.summary.counts.update(
            regions=len(regions),
            branches=len(self.branches),
            employers=len(employers),
            workplaces=len(self.workplaces),
            tags=len(tags),
        )
        self.progress(
            f"structure: {len(regions)} regions, {len(self.branches)} branches, "
            f"{len(employers):,} employers, {len(self.workplaces):,} workplaces"
        )

    @staticmethod
    def _unique_name(taken, make: Callable[[], str]) -> str:
        for _ in range(50):
            name = make()
            if name not in taken:
                return name
        base = make()
        return next(f"{base} {n}" for n in itertools.count(2) if f"{base} {n}" not in taken)

    # ----------------------------------------------------------------- members

    def _build_members(self) -> None:
        started = time.monotonic()
        first_id = (Member.objects.aggregate(top=Max("id"))["top"] or 0) + 1
        first_number = int(next_membership_number()[1:])
        if first_number + self.n_members > 10_000_000:
            raise ValueError("The Q0000001 series has room for under ten million members.")
        self.created_at = timezone.now()
        reported = 0
        for start in range(0, self.n_members, self.chunk_size):
            size = min(self.chunk_size, self.n_members - start)
            rows, tag_rows = self._member_chunk(start, size, first_id, first_number)
            self.writer.write(Member, MEMBER_COLUMNS, rows)
            self.writer.write(Member.tags.through, MEMBER_TAG_COLUMNS, tag_rows)
            done = start + size
            if done // 100_000 > reported or done == self.n_members:
                reported = done // 100_000
                self.progress(
                    f"members: {done:,} / {self.n_members:,} ({100 * done // self.n_members}%), "
                    f"{time.monotonic() - started:.1f} s"
                )
        self.summary.counts["members"] = self.n_members
        self.summary.members_by_status = {
            status: sum(n for (_, s), n in self.branch_status_counts.items() if s == status)
            for status in Member.Status.values
        }

    def _prepare_member_tables(self) -> None:
        """Cumulative weights, computed once, for the per-chunk draws."""
        if hasattr(self, "_tables"):
            return
        workplaces = self.workplaces
        rng = self.rng
        # How well organised each workplace is: members go to a workplace in proportion to staff × this.
        weights = [w.staff * (0.25 + 0.7 * rng.random()) for w in workplaces]
        schools = [i for i, w in enumerate(workplaces) if w.sector in data.SCHOOL_SECTORS]
        colleges = [i for i, w in enumerate(workplaces) if w.sector in data.COLLEGE_SECTORS]
        surnames = data.surname_weights()
        staff_by_branch = Counter()
        for w in workplaces:
            staff_by_branch[w.branch] += w.staff
        self._tables = {
            "schools": schools,
            "school_cw": _cumulative(weights[i] for i in schools),
            "colleges": colleges,
            "college_cw": _cumulative(weights[i] for i in colleges),
            "branch_cw": _cumulative(staff_by_branch[b] + 1 for b in range(len(self.branches))),
            "categories": [c for c, _ in CATEGORY_WEIGHTS],
            "category_cw": _cumulative(w for _, w in CATEGORY_WEIGHTS),
            "surnames": [n for n, _ in surnames],
            "surname_cw": _cumulative(w for _, w in surnames),
            "female": [n for n, _ in data.FEMALE_FIRST_NAMES],
            "female_cw": _cumulative(w for _, w in data.FEMALE_FIRST_NAMES),
            "male": [n for n, _ in data.MALE_FIRST_NAMES],
            "male_cw": _cumulative(w for _, w in data.MALE_FIRST_NAMES),
            "sources": [s for s, _ in CONSENT_SOURCES],
            "source_cw": _cumulative(w for _, w in CONSENT_SOURCES),
        }

    def _member_chunk(self, start: int, size: int, first_id: int, first_number: int) -> tuple[list, list]:
        self._prepare_member_tables()
        t = self._tables
        rng = self.rng
        rand = rng.random

        # Random.randint and Random.choice cost microseconds each in pure Python; these cost a tenth of that.
        def randint(low: int, high: int) -> int:
            return low + int(rand() * (high - low + 1))

        def choice(seq: Sequence):
            return seq[int(rand() * len(seq))]

        today = self.today
        ordinal_today = today.toordinal()
        fromordinal = datetime.date.fromordinal
        utc = datetime.UTC
        created_at = self.created_at
        branches = self.branches
        workplaces = self.workplaces
        agency_ids = self.agency_ids
        tag_ids = self.tag_ids
        streets = data.STREETS
        letters = data.POSTCODE_LETTERS
        domains = data.EMAIL_DOMAINS
        blocks = data.MOBILE_BLOCKS
        counts = self.branch_status_counts
        wp_candidates = self.workplace_candidates
        branch_candidates = self.branch_candidates
        has_colleges = bool(t["colleges"])

        # Draws made a chunk at a time (much faster than one call per member), then consumed in order.
        categories = rng.choices(t["categories"], cum_weights=t["category_cw"], k=size)
        surnames = rng.choices(t["surnames"], cum_weights=t["surname_cw"], k=size)
        female = rng.choices(t["female"], cum_weights=t["female_cw"], k=size)
        male = rng.choices(t["male"], cum_weights=t["male_cw"], k=size)
        schools = iter(rng.choices(t["schools"], cum_weights=t["school_cw"], k=size))
        colleges = iter(rng.choices(t["colleges"], cum_weights=t["college_cw"], k=size)) if has_colleges else None
        home_branches = rng.choices(range(len(branches)), cum_weights=t["branch_cw"], k=size)
        sources = rng.choices(t["sources"], cum_weights=t["source_cw"], k=size)

        rows = []
        tag_rows = []
        for j in range(size):
            member_id = first_id + start + j
            category = categories[j]
            first_name = female[j] if rand() < 0.74 else male[j]
            last_name = surnames[j]

            # Where they work. Support staff are mostly in schools, some in colleges.
            workplace = None
            if category == Category.LECTURER or (category == Category.SUPPORT_STAFF and rand() < 0.12):
                if has_colleges:
                    workplace = workplaces[next(colleges)]
                else:
                    category = Category.TEACHER
            if workplace is None and category in SCHOOL_CATEGORIES:
                workplace = workplaces[next(schools)]
            if workplace is not None:
                b = workplace.branch
                workplace_id, employer_id, sector = workplace.id, workplace.employer_id, workplace.sector
            else:
                b = home_branches[j]
                workplace_id = None
                if category == Category.SUPPLY:
                    employer_id, sector = choice(agency_ids), SUPPLY_SECTOR
                else:
                    employer_id, sector = None, ""
            branch = branches[b]

            # Status and its dates, counted back from today.
            r = rand()
            cuts = STATUS_CUTS.get(category, STATUS_CUTS[None])
            status = Status.DECEASED
            for cut, value in cuts:
                if r < cut:
                    status = value
                    break
            if category == Category.STUDENT:
                joined_ago = randint(0, 3 * 365)
            elif category == Category.RETIRED:
                joined_ago = randint(12 * 365, THIRTY_YEARS)
            elif rand() < 0.02:
                joined_ago = randint(0, 29)
            else:
                joined_ago = int(THIRTY_YEARS * rand() ** 1.5)
            if status == Status.APPLICANT:
                joined_on = None
                changed_ago = randint(0, 60)
            else:
                joined_on = fromordinal(ordinal_today - joined_ago)
                if status == Status.ACTIVE:
                    changed_ago = joined_ago
                elif status == Status.LAPSED:
                    changed_ago = randint(0, 29) if rand() < 0.2 else randint(30, 3 * 365)
                else:
                    changed_ago = randint(0, 5 * 365)
                changed_ago = min(changed_ago, joined_ago)
            status_changed_on = fromordinal(ordinal_today - changed_ago)
            has_arrears = rand() < 0.025 if status == Status.ACTIVE else status == Status.LAPSED and rand() < 0.2

            # Contact details. Emails use reserved example domains only.
            if rand() < 0.97:
                local = f"{first_name}.{last_name}" if rand() < 0.7 else f"{first_name[0]}{last_name}"
                local = local.lower().replace("'", "").replace(" ", "")
                if rand() < 0.4:
                    local += str(randint(1, 99))
                email = f"{local}@{choice(domains)}"
            else:
                email = ""
            if rand() < (0.6 if category == Category.RETIRED else 0.9):
                mobile = f"+44{choice(blocks)}{randint(0, 99_999_999):08d}"
            else:
                mobile = ""
            address_line1 = f"{randint(1, 180)} {choice(streets)}"
            address_line2 = f"Flat {randint(1, 24)}" if rand() < 0.08 else ""
            postcode = f"{branch.postcode_area}{randint(1, 20)} {randint(1, 9)}{choice(letters)}{choice(letters)}"

            # Consent, stamped with where and when it was given (on joining, or on applying).
            consented_on = ordinal_today - (joined_ago if joined_on else changed_ago)
            consent_at = datetime.datetime.fromordinal(consented_on).replace(tzinfo=utc) + datetime.timedelta(
                seconds=randint(8 * 3600, 20 * 3600)
            )
            email_consent = bool(email) and rand() < 0.8
            sms_consent = bool(mobile) and rand() < 0.55
            source = sources[j]

            rows.append(
                (
                    member_id,
                    f"Q{first_number + start + j:07d}",
                    first_name,
                    last_name,
                    email,
                    mobile,
                    address_line1,
                    address_line2,
                    branch.town,
                    postcode,
                    branch.id,
                    workplace_id,
                    employer_id,
                    sector,
                    category,
                    status,
                    joined_on,
                    status_changed_on,
                    has_arrears,
                    email_consent,
                    source if email_consent else "",
                    consent_at if email_consent else None,
                    sms_consent,
                    source if sms_consent else "",
                    consent_at if sms_consent else None,
                    "",
                    created_at,
                )
            )
            if rand() < 0.25:
                first_tag = randint(0, len(tag_ids) - 1)
                tag_rows.append((member_id, tag_ids[first_tag]))
                if rand() < 0.3:
                    tag_rows.append((member_id, tag_ids[(first_tag + randint(1, len(tag_ids) - 1)) % len(tag_ids)]))

            counts[branch.id, status] += 1
            if status == Status.ACTIVE and not has_arrears:
                if workplace_id is not None and len(wp_candidates[workplace_id]) < 4:
                    wp_candidates[workplace_id].append((member_id, joined_on))
                if len(branch_candidates[b]) < 10:
                    branch_candidates[b].append((member_id, joined_on))
            elif has_arrears:
                self.summary.in_arrears += 1
        return rows, tag_rows

    # ----------------------------------------------------------------- positions

    def _position_dates(self, joined_on: datetime.date, *, ended: bool) -> tuple[datetime.date, datetime.date | None]:
        """A start on or after joining; an end (for a past holder) before today."""
        rng = self.rng
        served = (self.today - joined_on).days
        if ended:
            start_ago = rng.randint(min(served, 365), min(served, 8 * 365))
            end_ago = rng.randint(1, start_ago) if start_ago else 0
            return self.today - datetime.timedelta(days=start_ago), self.today - datetime.timedelta(days=end_ago)
        start_ago = rng.randint(0, min(served, 6 * 365))
        return self.today - datetime.timedelta(days=start_ago), None

    def _build_positions(self) -> list[tuple]:
        rng = self.rng
        rows: list[tuple] = []
        kinds_at_workplace = (
            (Kind.WORKPLACE_REP, 0.6, 0),
            (Kind.HEALTH_SAFETY_REP, 0.3, 1),
            (Kind.LEARNING_REP, 0.12, 2),
            (Kind.EQUALITY_REP, 0.1, 3),
        )
        for workplace in self.workplaces:
            candidates = self.workplace_candidates.get(workplace.id, [])
            if not candidates:
                continue
            for kind, share, slot in kinds_at_workplace:
                if rng.random() >= share:
                    continue
                member_id, joined_on = candidates[slot % len(candidates)]
                started_on, _ = self._position_dates(joined_on, ended=False)
                rows.append((member_id, kind, workplace.id, None, None, started_on, None))
                if kind == Kind.WORKPLACE_REP and len(candidates) > 1 and rng.random() < 0.3:
                    # A previous rep, whose term ended before the current one began.
                    member_id, joined_on = candidates[-1]
                    started, ended = self._position_dates(joined_on, ended=True)
                    ended = min(ended, started_on)
                    if started <= ended:
                        rows.append((member_id, kind, workplace.id, None, None, started, ended))

        regional: dict[int, list[tuple[int, datetime.date]]] = defaultdict(list)
        for b, branch in enumerate(self.branches):
            candidates = self.branch_candidates.get(b, [])
            if not candidates:
                continue
            member_id, joined_on = candidates[0]
            started_on, _ = self._position_dates(joined_on, ended=False)
            rows.append((member_id, Kind.BRANCH_SECRETARY, None, branch.id, None, started_on, None))
            for member_id, joined_on in candidates[1 : 1 + rng.randint(2, 5)]:
                started, ended = self._position_dates(joined_on, ended=rng.random() < 0.25)
                rows.append((member_id, Kind.BRANCH_OFFICER, None, branch.id, None, started, ended))
            regional[branch.region_id].extend(candidates[-2:])
        for region_id, candidates in regional.items():
            for i, (member_id, joined_on) in enumerate(candidates[:4]):
                started, ended = self._position_dates(joined_on, ended=i == 3)
                rows.append((member_id, Kind.REGIONAL_OFFICER, None, None, region_id, started, ended))

        self.writer.write(Position, POSITION_COLUMNS, rows)
        self.summary.counts["positions"] = len(rows)
        self.progress(f"positions: {len(rows):,}")
        return rows

    # ----------------------------------------------------------------- snapshots

    def _build_snapshots(self) -> None:
        """Fortnightly counts over the last 90 days, drifting towards today's real figures."""
        rng = self.rng
        snapshots = []
        for days_ago in range(90, -1, -15):
            taken_on = self.today - datetime.timedelta(days=days_ago)
            for (branch_id, status), now in sorted(self.branch_status_counts.items()):
                drift = 0.03 * days_ago / 90 if status == Status.ACTIVE else -0.05 * days_ago / 90
                noise = 0 if days_ago == 0 else rng.uniform(-0.004, 0.004)
                members = max(0, round(now * (1 - drift + noise)))
                snapshots.append(
                    MembershipSnapshot(taken_on=taken_on, branch_id=branch_id, status=status, members=members)
                )
        MembershipSnapshot.objects.bulk_create(snapshots, batch_size=2000)
        self.summary.counts["snapshots"] = len(snapshots)

    # ----------------------------------------------------------------- users

    def _build_users(self, positions: list[tuple]) -> None:
        password = make_password(DEMO_PASSWORD)  # hashed once: six hashes would cost seconds for nothing
        region = self.regions[ORGANISER_REGION]
        home = next(b for b in self.branches if b.region_id == region.id)
        today = self.today

        def current(row: tuple) -> bool:
            return row[5] <= today and (row[6] is None or row[6] >= today)

        secretary = next(
            (r[0] for r in positions if r[1] == Kind.BRANCH_SECRETARY and r[3] == home.id and current(r)), None
        )
        # The demo rep: preferably in the organiser's home branch, at a workplace with colleagues to see.
        home_index = self.branches.index(home)
        home_workplaces = {w.id for w in self.workplaces if w.branch == home_index}
        reps = [r for r in positions if r[1] == Kind.WORKPLACE_REP and current(r) and r[0] != secretary]
        reps.sort(key=lambda r: (r[2] not in home_workplaces, len(self.workplace_candidates[r[2]]) < 2))
        if not reps:
            raise ValueError("No workplace rep was generated; ask for more members.")
        rep_member, _, rep_workplace = reps[0][:3]
        # The demo member: a colleague of the rep (so the rep sees them), holding no position if possible.
        holders = {r[0] for r in positions}
        taken = {secretary, rep_member}
        colleagues = [m for m, _ in self.workplace_candidates[rep_workplace] if m not in taken]
        if not colleagues:
            colleagues = [m for cands in self.workplace_candidates.values() for m, _ in cands if m not in taken]
        colleagues.sort(key=lambda m: m in holders)
        colleague = colleagues[0]
        people = Member.objects.in_bulk([m for m in (secretary, rep_member, colleague) if m])

        def user(username: str, role: str, member_id: int | None = None, **extra) -> User:
            person = people.get(member_id)
            return User(
                username=username,
                role=role,
                password=password,
                member_id=member_id,
                first_name=person.first_name if person else username.title(),
                last_name=person.last_name if person else "Demo",
                email=f"{username}@example.org",
                **extra,
            )

        users = User.objects.bulk_create(
            [
                user("admin", User.Role.NATIONAL_ADMIN, is_superuser=True, is_staff=True),
                user("organiser", User.Role.ORGANISER),
                user("branchsec", User.Role.ORGANISER, secretary),
                user("rep", User.Role.REP, rep_member),
                user("member", User.Role.MEMBER, colleague),
                user("scrutineer", User.Role.SCRUTINEER),
            ]
        )
        by_name = {u.username: u for u in users}
        by_name["organiser"].regions.add(region)
        by_name["branchsec"].branches.add(home.id)
        workplace_name = Workplace.objects.get(pk=rep_workplace).name
        secretary_note = f" (its branch secretary, {people[secretary].full_name})" if secretary else ""
        self.summary.logins = [
            Login("admin", "national admin, superuser", "every member"),
            Login("organiser", "organiser", f"{region.name} region"),
            Login("branchsec", "organiser", f"{home.town} branch{secretary_note}"),
            Login("rep", "rep", f"{workplace_name} (workplace rep {people[rep_member].full_name})"),
            Login("member", "member", f"only their own record ({people[colleague].membership_number})"),
            Login("scrutineer", "scrutineer", "no member data"),
        ]
        self.summary.counts["users"] = len(users)
