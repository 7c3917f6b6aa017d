"""Counts drawn in a figure (evaluation/stats/figure_protection.py): what a reader can work out from the facts
that tie a figure's numbers together, and what a figure hides so that no small count can be.

Each expected pin is worked out by hand in the docstring (the integer programs are not the oracle).
"""
from __future__ import annotations

from evaluation.core.disclosure import COMPLEMENT_MARK
from evaluation.stats.figure_protection import Relation, pinned_cells, protect_cells, reader_bounds


def test_what_a_reader_knows_of_a_cell_from_what_it_shows():
    """A number exactly; <11 is 1 to 10; * at least 11; a cell left out any count."""
    assert reader_bounds("1,234", 11) == (1234.0, 1234.0)
    assert reader_bounds("<11", 11) == (1.0, 10.0)
    assert reader_bounds("<5", 5) == (1.0, 4.0)
    assert reader_bounds(COMPLEMENT_MARK, 11) == (11.0, None)
    assert reader_bounds("", 11) == (0.0, None)


def test_relations_round_trip_through_the_counts_record():
    r = Relation({"ar": 1, "ev": 1, "n": -1}, "~=", 0.0, "at risk + events = n")
    assert Relation.from_json(r.to_json()) == r


def test_a_count_recovered_from_the_numbers_table_is_protected():
    """The audit's example: n = 22 (in the legend), and at the last tick at risk 0, events 17, censored 5.

    Primary suppression only: 22 = 0 + 17 + censored, so censored = 5. After protection events shows "*"
    (a count of at least 11; zeros are never hidden) and censored "<11" (1 to 10): 22 = 0 + e + c with e >= 11
    and 1 <= c <= 10 allows c = 1 (e = 21) ... c = 10 (e = 12), so neither is pinned.
    """
    at_last_tick = [Relation({"ar": 1, "ev": 1, "ce": 1, "n": -1}, "~=", 0.0, "at risk + events + censored = n")]
    truth = {"n": 22, "ar": 0, "ev": 17, "ce": 5}
    assert pinned_cells({"n": "22", "ar": "0", "ev": "17", "ce": "<11"}, at_last_tick, 11) == [("ce", 5)]
    shown = protect_cells(truth, at_last_tick, 11, locked={"n"})
    assert shown == {"n": "22", "ar": "0", "ev": COMPLEMENT_MARK, "ce": "<11"}
    assert pinned_cells(shown, at_last_tick, 11) == []
    assert pinned_cells(shown, at_last_tick, 11, truth) == []


def test_a_tie_at_one_tick_does_not_hide_a_recovery_at_another():
    """The demo's blood-pressure advanced track: 22 patients, one censored at day 0 (at risk 22 + censored 1 = 23,
    not 22: a tie), and at day 450 at risk 0, events 17, censored <11. A reader drops the day-0 sum (it cannot
    hold) but still takes 22 = 0 + 17 + c at day 450: c = 5."""
    relations = [Relation({"ar0": 1, "ev0": 1, "ce0": 1, "n": -1}, "~="),
                 Relation({"ar450": 1, "ev450": 1, "ce450": 1, "n": -1}, "~="),
                 Relation({"ce0": 1, "ce450": -1}, "<=")]
    shown = {"n": "22", "ar0": "22", "ev0": "0", "ce0": "<11", "ar450": "0", "ev450": "17", "ce450": "<11"}
    assert pinned_cells(shown, relations, 11) == [("ce450", 5)]
    # with events at day 450 hidden: 22 = 0 + e + c, e >= 11, c >= ce0 >= 1 leaves c anywhere in 1..10
    assert pinned_cells({**shown, "ev450": COMPLEMENT_MARK}, relations, 11) == []


def test_a_left_out_cell_between_equal_neighbours_is_pinned():
    """A cell drawn blank still obeys the figure's facts: with a <= b <= c (cumulative counts never fall),
    3 <= b <= 3 puts b at 3, a small count; between 0 and 12 it can be 0 to 12; between 12 and 12 it is 12,
    which is no small count."""
    relations = [Relation({"a": 1, "b": -1}, "<="), Relation({"b": 1, "c": -1}, "<=")]
    assert pinned_cells({"a": "3", "b": "", "c": "3"}, relations, 11) == [("b", 3)]
    assert pinned_cells({"a": "0", "b": "", "c": "12"}, relations, 11) == []
    assert pinned_cells({"a": "12", "b": "", "c": "12"}, relations, 11) == []
