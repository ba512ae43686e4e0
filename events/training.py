"""Which courses each rep position needs. Course codes refer to Course.code; the standard courses are
created by the events app's first migration, so the mapping always names courses that exist."""

from __future__ import annotations

from crm.models import Position

FOUNDATION = "foundation"

# The union's rep training programme: every position starts with the foundation course, then the
# course for its own role. Held in code (not a table) so a change is reviewed like any other rule.
REQUIRED_COURSES: dict[str, tuple[str, ...]] = {
    Position.Kind.WORKPLACE_REP: (FOUNDATION,),
    Position.Kind.HEALTH_SAFETY_REP: (FOUNDATION, "health-safety-1"),
    Position.Kind.LEARNING_REP: (FOUNDATION, "learning-rep"),
    Position.Kind.EQUALITY_REP: (FOUNDATION, "equality-rep"),
    Position.Kind.BRANCH_SECRETARY: (FOUNDATION, "branch-officer"),
    Position.Kind.BRANCH_OFFICER: (FOUNDATION, "branch-officer"),
    Position.Kind.REGIONAL_OFFICER: (FOUNDATION, "branch-officer"),
}

# The standard programme: (code, title, prerequisite codes). Used by the first migration.
STANDARD_COURSES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (FOUNDATION, "Rep foundation", ()),
    ("health-safety-1", "Health and safety stage 1", (FOUNDATION,)),
    ("health-safety-2", "Health and safety stage 2", ("health-safety-1",)),
    ("learning-rep", "Learning rep", (FOUNDATION,)),
    ("equality-rep", "Equality rep", (FOUNDATION,)),
    ("branch-officer", "Branch officer", (FOUNDATION,)),
)


def required_course_codes(kind: str) -> tuple[str, ...]:
    return REQUIRED_COURSES.get(kind, ())


def add_standard_courses(course_model) -> None:
    """Create the standard courses and their prerequisites where missing (the first migration calls this with
    its historical model; tests whose database was emptied call it with the real one)."""
    for code, title, prerequisites in STANDARD_COURSES:
        course, _ = course_model.objects.get_or_create(code=code, defaults={"title": title})
        course.prerequisites.add(*course_model.objects.filter(code__in=prerequisites))
