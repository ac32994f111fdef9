"""The column layout as a pure function: what an 80-column services table keeps, cuts and drops."""

from __future__ import annotations

from mlops_tui.tui.keyed_table import CELL_PADDING, fit, squeeze
from mlops_tui.tui.panes.services import COLUMNS

# The seed fleet's natural widths, plus the 48-column canary cell of the issue.
NATURAL = {"state": 12, "name": 24, "cluster": 6, "ready": 5, "version": 7, "canary": 48, "alerts": 6,
           "bluegreen": 20, "namespace": 10, "kind": 7, "autoscaler": 18, "gpus": 3, "action": 11}


def layout(room: int) -> dict[str, int]:
    shown, widths = fit(COLUMNS, [NATURAL[c.key] for c in COLUMNS], room)
    return {COLUMNS[i].key: widths[i] for i in shown}


def test_at_80_columns_the_decision_columns_fit_and_only_they_are_shown():
    for room in (78, 76):  # the pane's inside, without and with a vertical scrollbar
        shown = layout(room)
        assert list(shown) == ["state", "name", "cluster", "ready", "version", "canary", "alerts"]
        assert sum(shown.values()) + 2 * CELL_PADDING * len(shown) <= room
        assert shown["state"] == 12 and shown["ready"] == 5 and shown["canary"] >= 6 and shown["name"] >= 20


def test_with_room_the_others_follow_in_order_and_nothing_is_cut():
    shown = layout(240)
    assert shown == {c.key: NATURAL[c.key] for c in COLUMNS}
    # Less room: the optional columns that do not fit give way, the kept ones stay whole.
    shown = layout(180)
    assert list(shown)[:7] == ["state", "name", "cluster", "ready", "version", "canary", "alerts"]
    assert all(shown[key] == NATURAL[key] for key in shown) and "bluegreen" in shown and "action" not in shown


def test_without_room_at_all_every_kept_column_still_shows_and_fits():
    shown = layout(50)
    assert len(shown) == 7 and sum(shown.values()) + 2 * CELL_PADDING * 7 <= 50 + 7  # at least a cell each
    assert max(shown, key=shown.__getitem__) in ("name", "state")


def test_squeeze_cuts_the_widest_first_and_says_when_even_the_floors_do_not_fit():
    assert squeeze([30, 10, 4], [8, 8, 4], 30) == [16, 10, 4]
    assert squeeze([30, 10, 4], [8, 8, 4], 19) is None
