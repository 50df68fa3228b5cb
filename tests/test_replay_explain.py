"""Explaining an argument across source runs: slots found by position, constants proven, the rest refused."""

import pytest

from llmos.modes.explain import Slotted, Unexplained, derive, describe, fill_tree

ROOM3, ROOM5, ROOM4 = {"num1": "3"}, {"num1": "5"}, {"num1": "4"}


def test_a_one_digit_slot_inside_a_word_is_found_by_position():
    tree = derive(["projects/room3/note.txt", "projects/room5/note.txt"], [ROOM3, ROOM5], ROOM4, "path")
    assert tree == Slotted("projects/room{num1}/note.txt") and fill_tree(tree, ROOM4) == "projects/room4/note.txt"
    # the same digit elsewhere stays text when the other run keeps it: "floor 3" is not the room
    tree = derive(["room 3, floor 3", "room 5, floor 3"], [ROOM3, ROOM5], ROOM4, "content")
    assert fill_tree(tree, ROOM4) == "room 4, floor 3"


def test_one_run_cannot_tell_a_slot_from_text():
    with pytest.raises(Unexplained, match="ways that differ for this goal"):
        derive(["projects/room3/note.txt"], [ROOM3], ROOM4, "path")


def test_values_no_substitution_reproduces_are_unexplained():
    stub = [{"path1": "x.md", "path2": "projects/two"}, {"path1": "z.md", "path2": "projects/two"}]
    with pytest.raises(Unexplained, match="not made from the goal's slot values"):  # "x" read off the file name
        derive(["x", "z"], stub, {"path1": "y.md", "path2": "projects/two"}, "content")
    table = [{"num1": "2"}, {"num1": "3"}]
    rows = ["".join(f"{n} x {k} = {n * k}\n" for k in range(1, 4)) for n in (2, 3)]
    with pytest.raises(Unexplained):  # computed from the slot, not copied
        derive(rows, table, {"num1": "4"}, "content")


def test_constants_numbers_and_structures():
    assert derive(["projects", "projects"], [ROOM3, ROOM5], ROOM4, "path") == "projects"
    assert fill_tree(derive([3, 5], [ROOM3, ROOM5], ROOM4, "n"), ROOM4) == 4  # numbers stay numbers
    tree = derive([{"a": [1, "room 3"]}, {"a": [1, "room 5"]}], [ROOM3, ROOM5], ROOM4, "args")
    assert fill_tree(tree, ROOM4) == {"a": [1, "room 4"]}
    assert describe(tree, 2) == {"a": [{"constant": 2}, {"from": "room {num1}"}]}
    for bad in ([{"a": 1}, {"b": 1}], [[1], [1, 2]], [True, False]):
        with pytest.raises(Unexplained):
            derive(bad, [ROOM3, ROOM5], ROOM4, "args")


def test_two_slots_with_one_value_are_told_apart_by_another_run():
    runs = [{"num1": "3", "num2": "3"}, {"num1": "4", "num2": "5"}]
    tree = derive(["copy 3 from 3", "copy 4 from 5"], runs, {"num1": "7", "num2": "8"}, "content")
    assert tree == Slotted("copy {num1} from {num2}")


def test_a_tool_takes_the_reading_that_uses_the_slots_and_keeps_the_others():
    runs = [{"text1": "1", "path1": "projects/n1/note.md"}, {"text1": "2", "path1": "projects/n2/note.md"}]
    generic = {"text1": "\0text1\0", "path1": "\0path1\0"}
    tree = derive(["projects/n1/note.md", "projects/n2/note.md"], runs, generic, "path", tool=True)
    assert tree == Slotted("{path1}", alternatives=("projects/n{text1}/note.md",))
    with pytest.raises(Unexplained):  # for a goal, the same two readings are an ambiguity
        derive(["projects/n1/note.md", "projects/n2/note.md"], runs, {"text1": "7", "path1": "a/b.md"}, "path")


def test_many_short_values_in_a_long_text_stay_fast():
    ones = "1 " * 3000
    tree = derive([ones, ones.replace("1", "2")], [{"num1": "1"}, {"num1": "2"}], {"num1": "3"}, "content")
    assert fill_tree(tree, {"num1": "3"}) == ones.replace("1", "3")
