"""Every CSV Quorum writes neutralises cells a spreadsheet would run as a formula (OWASP "CSV injection"):
text starting with = + - @ tab or carriage return gets a leading apostrophe, in every export."""

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.csvfiles import FORMULA_STARTS, neutralise, unneutralise
from crm.models import Member
from crm.selectors.imports import member_export_lines
from elections.counting import Profile, count
from elections.counting.report import to_csv
from events.exports import csv_text

# Text as people (or attackers) type it into a name: anything printable, starting with a formula character.
hostile = st.builds(
    lambda start, rest: start + rest,
    st.sampled_from(FORMULA_STARTS),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40),
)
any_text = st.one_of(hostile, st.text(max_size=40))
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def is_safe(cell: str) -> bool:
    return not cell.startswith(FORMULA_STARTS)


@PROPERTY
@given(any_text)
def test_neutralised_text_never_starts_a_formula_and_reads_back_unchanged(text):
    assert is_safe(neutralise(text))
    assert unneutralise(neutralise(text)) == text


@PROPERTY
@given(hostile, hostile)
def test_the_member_export_neutralises_every_cell(union, first_name, last_name):
    member = union.members.oak
    Member.objects.filter(pk=member.pk).update(first_name=first_name[:100], last_name=last_name[:100])
    exported = "".join(member_export_lines(Member.objects.filter(pk=member.pk)))
    assert all(is_safe(cell) for cell in cells(exported))
    assert first_name[:100] in {unneutralise(cell) for cell in cells(exported)}


@PROPERTY
@given(st.lists(any_text, min_size=1, max_size=6))
def test_the_event_registration_list_neutralises_every_cell(row):
    assert all(is_safe(cell) for cell in cells(csv_text(["heading"] * len(row), [row])))


# Candidate names are stripped and must not be blank: a formula character and then something visible.
candidate_names = st.builds(
    lambda start, rest: start + rest,
    st.sampled_from("=+-@"),
    st.text(st.characters(categories=("L", "N", "P")), min_size=1),
)


@PROPERTY
@given(st.lists(candidate_names, min_size=2, max_size=4, unique=True))
def test_the_count_csv_neutralises_candidate_names(names):
    profile = Profile.from_ballots(names, [[names[0]], [names[1]], [names[0]]], seats=1)
    rows = list(csv.reader(io.StringIO(to_csv(count(profile, method="fptp").to_dict()))))
    labels = [row[0] for row in rows[1:]]
    assert all(is_safe(label) for label in labels)
