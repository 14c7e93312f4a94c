"""Number agreement in plain-English meanings ("1 referral", "2 referrals")."""

from __future__ import annotations

from earlywarning.wording import agree_number, fill_meaning
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
    assert fill_meaning("{value:.0%} of sessions missed", 0.25) == "25% of sessions missed"
    assert fill_meaning("{value} days", 2.5, lambda v: f"<{v}>") == "<2.5> days"
    assert fill_meaning("Deprivation decile", 3) == "Deprivation decile: 3"
