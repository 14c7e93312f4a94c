"""Number agreement in plain-English meanings ("1 referral", "2 referrals")."""

from __future__ import annotations

from earlywarning.wording import age_in_words, agree_number, fill_meaning
from hypothesis import given
from hypothesis import strategies as st

TEMPLATE = "{value} {referral|referrals} of a {sibling|sibling}, {person|people} now"


def test_one_takes_the_singular():
    assert agree_number(TEMPLATE, 1) == "{value} referral of a sibling, person now"
    assert agree_number(TEMPLATE, 1.0) == "{value} referral of a sibling, person now"


@given(st.one_of(st.integers(), st.floats(allow_nan=False)).filter(lambda v: v != 1))
def test_anything_else_takes_the_plural(value):
    assert agree_number(TEMPLATE, value) == "{value} referrals of a sibling, people now"


def test_templates_without_choices_and_odd_values_are_left_alone():
    assert agree_number("{value} years: the child's age", 1) == "{value} years: the child's age"
    assert agree_number(TEMPLATE, None) == "{value} referrals of a sibling, people now"


def test_fill_meaning_is_the_one_rule_for_dictionary_and_reasons():
    assert fill_meaning("{value} {plan|plans} ever", 1) == "1 plan ever"
    assert fill_meaning("{value} {plan|plans} ever", 3) == "3 plans ever"
    assert fill_meaning("{value} {plan|plans} ever", 0) == "no plans ever"
    assert fill_meaning("{value:.0%} of sessions missed", 0) == "0% of sessions missed"
    assert fill_meaning("{value:.0%} of sessions missed", 0.25) == "25% of sessions missed"
    assert fill_meaning("{value} days", 2.5, lambda v: f"<{v}>") == "<2.5> days"
    assert fill_meaning("Deprivation decile", 3) == "Deprivation decile: 3"


def test_ages_are_said_in_months_under_two_and_whole_years_after():
    said = [fill_meaning("the child is aged {value:age}", v)
            for v in (0.01, 1 / 12, 0.75, 1.99, 2.0, 16.58)]
    assert said == ["the child is aged under 1 month", "the child is aged 1 month",
                    "the child is aged 9 months", "the child is aged 23 months",
                    "the child is aged 2 years", "the child is aged 16 years"]
    assert fill_meaning("aged {value:age}", "not a number") == "aged not a number"


@given(st.floats(0, 25, allow_nan=False))
def test_an_age_is_never_said_older_than_it_is_nor_a_unit_younger(years):
    words = age_in_words(years).removeprefix("under ")
    n, unit = words.split(" ")
    said = (1 if unit.startswith("month") else 12) * int(n) / 12
    if age_in_words(years).startswith("under"):
        assert years < 1 / 12
    else:
        step = 1 / 12 if unit.startswith("month") else 1
        assert said - 1e-6 <= years < said + step
