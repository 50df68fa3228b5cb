from llmos.goals import normalize


def test_same_template_different_slots_share_a_signature():
    a = normalize("Write a haiku about git into projects/demo/haiku.md")
    b = normalize("write a haiku about git into projects/other/poem.md.")
    assert a.template == "write a haiku about git into {path1}" and a.signature == b.signature
    assert a.slots == {"path1": "projects/demo/haiku.md"} and b.slots == {"path1": "projects/other/poem.md"}


def test_quoted_urls_numbers_dates():
    g = normalize('Fetch https://example.com/a?b=1 and save "the title" as notes.md on 2026-01-05, top 10')
    assert g.slots == {
        "text1": "the title",
        "url1": "https://example.com/a?b=1",
        "path1": "notes.md",
        "date1": "2026-01-05",
        "num1": "10",
    }
    assert "{url1}" in g.template and "{num1}" in g.template


def test_different_work_differs():
    assert normalize("Write a haiku into a.md").signature != normalize("Delete a.md").signature


def test_short_values_are_slots_where_they_stand_in_the_goal():
    room = normalize("Write the note for room 4")
    assert room.template == "write the note for room {num1}" and room.slots == {"num1": "4"}
    stub = normalize("Write x.md under projects/two")
    assert stub.template == "write {path1} under {path2}" and stub.slots == {"path1": "x.md", "path2": "projects/two"}
    letter = normalize('Grade essay "b" into projects/grades/b.md')
    assert letter.slots == {"text1": "b", "path1": "projects/grades/b.md"}
    # a digit inside a word is part of the words: room3 and room4 are different goals, never one template
    assert normalize("Write the note for room3").signature != normalize("Write the note for room4").signature
