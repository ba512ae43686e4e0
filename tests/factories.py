"""factory_boy factories for the union's structure, members and users."""

import datetime

import factory

from crm.models import Branch, Employer, Member, Position, Region, User, Workplace


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    name = factory.Sequence(lambda n: f"Region {n}")
    code = factory.Sequence(lambda n: f"region-{n}")


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch

    region = factory.SubFactory(RegionFactory)
    name = factory.Sequence(lambda n: f"Branch {n}")
    code = factory.Sequence(lambda n: f"branch-{n}")


class EmployerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Employer

    name = factory.Sequence(lambda n: f"Employer {n}")
    kind = Employer.Kind.LOCAL_AUTHORITY


class WorkplaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workplace

    name = factory.Sequence(lambda n: f"School {n}")
    branch = factory.SubFactory(BranchFactory)
    employer = factory.SubFactory(EmployerFactory)
    sector = "primary"
    eligible_staff = 40


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    membership_number = factory.Sequence(lambda n: f"T{n:07d}")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = factory.Sequence(lambda n: f"Last{n}")
    email = factory.LazyAttribute(lambda m: f"{m.first_name.lower()}.{m.last_name.lower()}@example.org")
    workplace = factory.SubFactory(WorkplaceFactory)
    branch = factory.LazyAttribute(lambda m: m.workplace.branch if m.workplace else BranchFactory())
    employer = factory.LazyAttribute(lambda m: m.workplace.employer if m.workplace else None)
    sector = factory.LazyAttribute(lambda m: m.workplace.sector if m.workplace else "supply")
    category = Member.Category.TEACHER
    status = Member.Status.ACTIVE
    joined_on = datetime.date(2020, 9, 1)


class PositionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Position

    member = factory.SubFactory(MemberFactory)
    kind = Position.Kind.WORKPLACE_REP
    workplace = factory.LazyAttribute(lambda p: p.member.workplace)
    started_on = datetime.date(2024, 1, 1)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = User.Role.MEMBER
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()
