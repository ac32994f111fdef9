"""Whatever the operator types, the parsers either return a value in range or explain why not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlops_tui.tui.screens.dialogs import parse_matchers
from mlops_tui.tui.validate import (
    InvalidInput,
    nearest_reachable,
    parse_comment,
    parse_duration,
    parse_image,
    parse_replicas,
    parse_weight,
    replicas_warning,
)


@given(st.text(max_size=12), st.integers(min_value=1, max_value=1000))
def test_replicas_are_a_whole_number_within_the_cap_or_refused(text, cap):
    try:
        value = parse_replicas(text, cap)
    except InvalidInput as exc:
        assert str(exc)
    else:
        assert 0 <= value <= cap and str(value) == text.strip().lstrip("0").rjust(1, "0")


@given(st.text(max_size=8))
def test_weights_are_between_0_and_100_or_refused(text):
    try:
        value = parse_weight(text)
    except InvalidInput as exc:
        assert str(exc)
    else:
        assert 0 <= value <= 100


@given(st.text(max_size=12))
def test_durations_are_positive_and_at_most_a_week_or_refused(text):
    try:
        seconds = parse_duration(text)
    except InvalidInput as exc:
        assert str(exc)
    else:
        assert 0 < seconds <= 7 * 86400


@given(st.text(max_size=40))
def test_matchers_and_images_never_crash(text):
    for parse in (parse_matchers, parse_image, parse_comment):
        try:
            parse(text)
        except InvalidInput as exc:
            assert str(exc)


@pytest.mark.parametrize("text,seconds", [("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("1d", 86400), ("45", 2700)])
def test_durations_operators_type(text, seconds):
    assert parse_duration(text) == seconds


def test_messages_say_what_was_wrong():
    with pytest.raises(InvalidInput, match="over the cap of 10"):
        parse_replicas("11", 10)
    with pytest.raises(InvalidInput, match="from 0 to 100"):
        parse_weight("150")
    assert replicas_warning(7, 3) == "7 is more than twice the current 3"
    assert replicas_warning(6, 3) == ""
    assert nearest_reachable(40, (0, 33, 67, 100)) == 33
    assert parse_image("proptechusa/valuation-model:v2.2") == "proptechusa/valuation-model:v2.2"
    with pytest.raises(InvalidInput):
        parse_image("not an image")
