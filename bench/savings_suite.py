"""The goal families of ``bench/savings.py``: each is a function of the instance number that returns the goal
and the model's replies for it (the scripted backend plays them), so every run is deterministic.

Honest families repeat one kind of work with new slot values: a replay must serve them. The adversarial
half (issue 18) holds near-duplicates a replay must not serve (same words, different target; a slot that
changes meaning; content the model wrote; a family with a single prior run) and paraphrases of honest
goals, which may be reused only if the result is what the model would have done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

NAMES = (
    "ada grace alan edsger barbara ken dennis linus margaret donald frances john leslie tony niklaus "
    "robin fran radia shafi silvio judea butler whitfield martin"
).split()


def c(name: str, **args) -> dict:
    return {"tool_calls": [{"name": name, "args": args}]}


Plan = Callable[[int], tuple[str, list[dict]]]


@dataclass(frozen=True)
class Family:
    plan: Plan
    kind: str  # honest | same-words | meaning | model-words | single-prior | paraphrase
    replay_ok: bool  # may a zero-token run serve it (if its files are the model's)?
    instances: int = 0  # 0: the suite's --instances

    @property
    def name(self) -> str:
        return self.plan.__name__


# -- honest families: the same work with new values ------------------------------------------------
def project(i: int):
    n, p = NAMES[i], f"projects/app-{NAMES[i]}"
    return (
        f'Create project {p}/ with a README titled "{n} tracker"',
        [
            c("list_dir", path="projects"),
            c("write_file", path=f"{p}/README.md", content=f"# {n} tracker\n\nStatus: new\n"),
            c("write_file", path=f"{p}/TODO.md", content=f"# TODO for {n} tracker\n\n- [ ] first release\n"),
            c("finish", result=f"created {p}/ with README.md and TODO.md"),
        ],
    )


def haiku(i: int):
    t, p = f"{NAMES[i]} in autumn", f"projects/poems/{NAMES[i]}.md"
    return (
        f'Write a haiku about "{t}" into {p} following projects/shared/style.md',
        [
            c("read_file", path="projects/shared/style.md"),
            c("write_file", path=p, content=f"{t}\nleaves fall on the keyboard\nthe build is still green\n"),
            c("finish", result=f"wrote a haiku about {t} to {p}"),
        ],
    )


def meeting(i: int):
    d, p = (date(2026, 3, 1) + timedelta(days=i)).isoformat(), f"projects/meetings/{i + 10:02d}.md"
    return (
        f"Add meeting notes for {d} into {p}",
        [
            c("list_dir", path="projects"),
            c("write_file", path=p, content=f"# Meeting {d}\n\n## Attendees\n\n## Decisions\n\n## Actions\n"),
            c("finish", result=f"meeting notes for {d} in {p}"),
        ],
    )


def expense(i: int):
    amount, what, p = 12 + 7 * i, f"lunch with {NAMES[i]}", f"projects/expenses/e{i}.md"
    return (
        f'Record an expense of {amount} for "{what}" in {p}',
        [
            c("write_file", path=p, content=f"amount: {amount}\nfor: {what}\ncurrency: EUR\n"),
            c("read_file", path=p),
            c("finish", result=f"recorded {amount} EUR for {what}"),
        ],
    )


def email(i: int):
    to, p = f"{NAMES[i]}@example.com", f"projects/mail/{NAMES[i]}.md"
    return (
        f'Draft a welcome email to "{to}" into {p} and sign it with projects/shared/email-footer.md',
        [
            c("read_file", path="projects/shared/email-footer.md"),
            c(
                "write_file",
                path=p,
                content=f"To: {to}\nSubject: Welcome\n\nHello {to},\n\nwelcome aboard.\n-- \nSent by llmos\n",
            ),
            c("finish", result=f"drafted a welcome email to {to} in {p}"),
        ],
    )


def checklist(i: int):
    topic, p = f"onboarding {NAMES[i]}", f"projects/lists/{NAMES[i]}.md"
    return (
        f'Make a checklist for "{topic}" into {p} using projects/shared/checklist.md',
        [
            c("read_file", path="projects/shared/checklist.md"),
            c("write_file", path=p, content=f"# Checklist: {topic}\n\n- [ ] laptop\n- [ ] accounts\n- [ ] buddy\n"),
            c("finish", result=f"checklist for {topic} in {p}"),
        ],
    )


def config(i: int):
    svc, port, p = f"{NAMES[i]}-api", 8000 + i, f"projects/services/{NAMES[i]}.yaml"
    return (
        f'Create a config file {p} for service "{svc}" on port {port}',
        [
            c("read_file", path="projects/shared/ports.md"),
            c("write_file", path=p, content=f"service: {svc}\nport: {port}\nreplicas: 2\n"),
            c("finish", result=f"config for {svc} on port {port} in {p}"),
        ],
    )


def release(i: int):
    v, p = f"1.{i}.0", f"projects/releases/v1-{i}.md"
    return (
        f"Write release notes for version {v} into {p}",
        [
            c("list_dir", path="projects"),
            c("write_file", path=p, content=f"# Release {v}\n\n## Added\n\n## Fixed\n"),
            c("finish", result=f"release notes for {v} in {p}"),
        ],
    )


def weekly(i: int):
    d, p = (date(2026, 4, 1) + timedelta(days=7 * i)).isoformat(), f"projects/weekly/w{i}.md"
    return (
        f"Start the weekly summary for the week of {d} in {p}",
        [
            c("write_file", path=p, content=f"# Week of {d}\n\n## Done\n\n## Next\n"),
            c("write_file", path=f"{p}.todo", content=f"summary for {d} to be filled\n"),
            c("finish", result=f"weekly summary for {d} started in {p}"),
        ],
    )


def profile(i: int):
    n, p = NAMES[i].title(), f"projects/people/{NAMES[i]}.md"
    return (
        f'Create a profile for "{n}" at {p}',
        [
            c("list_dir", path="projects"),
            c("write_file", path=p, content=f"# {n}\n\nRole: engineer\nTeam: core\n"),
            c("finish", result=f"profile of {n} at {p}"),
        ],
    )


def incident(i: int):
    what, p = f"disk full on {NAMES[i]}", f"projects/incidents/i{i}.md"
    d = (date(2026, 5, 1) + timedelta(days=i)).isoformat()
    return (
        f'Log an incident "{what}" on {d} into {p}',
        [
            c("write_file", path=p, content=f"# Incident: {what}\n\nDate: {d}\nSeverity: 2\n"),
            c("read_file", path=p),
            c("finish", result=f"logged {what} ({d})"),
        ],
    )


def glossary(i: int):
    term, p = f"{NAMES[i]} protocol", f"projects/glossary/{NAMES[i]}.md"
    return (
        f'Define the term "{term}" named after "{NAMES[i].title()}" in {p}',
        [
            c("write_file", path=p, content=f"# {term}\n\nNamed after {NAMES[i].title()}.\n"),
            c("finish", result=f"defined {term} in {p}"),
        ],
    )


HONEST = [project, haiku, meeting, expense, email, checklist, config, release, weekly, profile, incident, glossary]


# -- adversarial: same words, different target -------------------------------------------------------
STEMS = ["x", "y", "z", "w", "v", "u"]


def stub(i: int):
    """The model writes the file's name as its content: no slot of the goal says so (finding 1)."""
    s = STEMS[i]
    return (
        f"Write {s}.md under projects/two",
        [c("write_file", path=f"projects/two/{s}.md", content=s), c("finish", result=f"wrote {s}")],
    )


def room(i: int):
    """A one-digit slot inside a word of the path ("room3"): a replay must write room 4's file (finding 2)."""
    n = i + 3
    return (
        f"Write the note for room {n}",
        [
            c("write_file", path=f"projects/room{n}/note.txt", content=f"Note for room {n}\n"),
            c("finish", result=f"note for room {n} written"),
        ],
    )


def draft(i: int):
    """The same words each time, a different draft: the file name is a slot, the title is derived from it."""
    s = ["intro", "setup", "usage", "faq", "limits", "credits"][i]
    return (
        f"Fill in the draft projects/docs/{s}.md",
        [
            c("read_file", path="projects/shared/style.md"),
            c("write_file", path=f"projects/docs/{s}.md", content=f"# {s.title()}\n\nShort lines.\n"),
            c("finish", result="draft filled in"),
        ],
    )


# -- adversarial: a slot that changes meaning --------------------------------------------------------
def table(i: int):
    """The content is computed from the number, not copied from it."""
    n = i + 2
    rows = "".join(f"{n} x {k} = {n * k}\n" for k in range(1, 6))
    return (
        f"Write the multiplication table of {n} into projects/tables/t{n}.md",
        [c("write_file", path=f"projects/tables/t{n}.md", content=rows), c("finish", result=f"table of {n}")],
    )


def ideas(i: int):
    """A count: the first two runs both ask for 3 ideas, the third for 5."""
    n, topic = [3, 3, 5, 2, 4, 3][i], ["tea", "bikes", "maps", "rain", "owls", "jazz"][i]
    lines = "".join(f"- idea {k} about {topic}\n" for k in range(1, n + 1))
    return (
        f'List {n} ideas for "{topic}" in projects/ideas/{topic}.md',
        [c("write_file", path=f"projects/ideas/{topic}.md", content=lines), c("finish", result=f"{n} ideas")],
    )


def schedule(i: int):
    """A date the model computes from the date given."""
    d = date(2026, 3, 2) + timedelta(days=3 * i)
    return (
        f"Schedule the review one week after {d.isoformat()} in projects/reviews/r{i}.md",
        [
            c("write_file", path=f"projects/reviews/r{i}.md", content=f"Review on {d + timedelta(days=7)}\n"),
            c("finish", result="review scheduled"),
        ],
    )


# -- adversarial: content the model wrote ------------------------------------------------------------
STORIES = [
    "The lighthouse keeper counted ships until the fog counted her.",
    "A kettle sang in an empty flat, and the neighbours learned the tune.",
    "He mapped every pothole on the street; the city paved the map.",
    "The last train waited one minute longer, and nobody knew why.",
    "Her garden grew only weeds, so she named each one.",
    "The old server hummed a lullaby to the new one.",
]


def story(i: int):
    topic = ["fog", "tea", "roads", "trains", "weeds", "servers"][i]
    return (
        f'Write a two-line story about "{topic}" into projects/stories/s{i}.md',
        [
            c("write_file", path=f"projects/stories/s{i}.md", content=f"{STORIES[i]}\nThe end.\n"),
            c("finish", result=f"a story about {topic}"),
        ],
    )


# -- adversarial: a family with a single prior run ---------------------------------------------------
def translate(i: int):
    phrase, french = [("good morning", "bonjour"), ("good night", "bonne nuit")][i]
    return (
        f'Translate "{phrase}" into French in projects/fr/t{i}.md',
        [c("write_file", path=f"projects/fr/t{i}.md", content=f"{french}\n"), c("finish", result=french)],
    )


def limerick(i: int):
    animal, line = [("cats", "A cat with a hat sat on a mat"), ("owls", "An owl on a prowl gave a howl")][i]
    return (
        f'Write a limerick about "{animal}" into projects/limericks/{animal}.md',
        [c("write_file", path=f"projects/limericks/{animal}.md", content=f"{line}\n"), c("finish", result="done")],
    )


def summary(i: int):
    return (
        f"Summarize projects/shared/ports.md into projects/summaries/ports-{i}.md",
        [
            c("read_file", path="projects/shared/ports.md"),
            c("write_file", path=f"projects/summaries/ports-{i}.md", content="Low ports need root.\n"),
            c("finish", result="summarized"),
        ],
    )


# -- paraphrases of honest goals (after the honest half ran): may be reused -----------------------------
def _paraphrase(family: Plan, goal: Callable[[int], str], at: int) -> Plan:
    def plan(i: int):
        return goal(at + i), family(at + i)[1]

    plan.__name__ = f"para_{family.__name__}"
    return plan


PARAPHRASES = [
    _paraphrase(
        haiku,
        lambda i: (
            f'Compose a haiku on "{NAMES[i]} in autumn" and save it to projects/poems/'
            f"{NAMES[i]}.md, per projects/shared/style.md"
        ),
        20,
    ),
    _paraphrase(
        config,
        lambda i: (
            f"Please set up {'projects/services/' + NAMES[i] + '.yaml'} as the config of the "
            f'"{NAMES[i]}-api" service, port {8000 + i}'
        ),
        20,
    ),
    _paraphrase(
        incident,
        lambda i: (
            f'Record the incident "disk full on {NAMES[i]}" of '
            f"{(date(2026, 5, 1) + timedelta(days=i)).isoformat()} in projects/incidents/i{i}.md"
        ),
        20,
    ),
    _paraphrase(
        weekly,
        lambda i: (
            "Write the weekly summary for the week of "
            f"{(date(2026, 4, 1) + timedelta(days=7 * i)).isoformat()} into projects/weekly/w{i}.md"
        ),
        20,
    ),
    _paraphrase(
        email,
        lambda i: (
            f'Draft an email welcoming "{NAMES[i]}@example.com" into projects/mail/'
            f"{NAMES[i]}.md, signed with projects/shared/email-footer.md"
        ),
        20,
    ),
    _paraphrase(profile, lambda i: f'Make a profile of "{NAMES[i].title()}" at projects/people/{NAMES[i]}.md', 20),
]

ADVERSARIAL = [
    Family(stub, "same-words", replay_ok=False, instances=6),
    Family(room, "same-words", replay_ok=True, instances=6),
    Family(draft, "same-words", replay_ok=False, instances=6),
    Family(table, "meaning", replay_ok=False, instances=6),
    Family(ideas, "meaning", replay_ok=False, instances=6),
    Family(schedule, "meaning", replay_ok=False, instances=6),
    Family(story, "model-words", replay_ok=False, instances=6),
    Family(translate, "single-prior", replay_ok=False, instances=2),
    Family(limerick, "single-prior", replay_ok=False, instances=2),
    Family(summary, "single-prior", replay_ok=False, instances=2),
    *(Family(p, "paraphrase", replay_ok=True, instances=2) for p in PARAPHRASES),
]
