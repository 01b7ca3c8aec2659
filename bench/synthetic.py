"""A synthetic personal-memory set with gold evidence: multi-session chats with friends that
carry dated facts (some of which change later), screens of several apps, and questions of four
kinds: single fact (asked in other words than the message used), changed fact (the latest
one is the answer), two-memory (a fact about the person identified by another fact) and "when"
questions. Deterministic for a seed. Reused by the retrieval and answer-quality benchmarks.

    corpus = generate(seed=1)
    corpus.messages  -> list[SynthMessage] (external_id, time, speaker, text, conversation,
                        kind, app)
    corpus.questions -> list[SynthQuestion] (question, gold external ids, kind, answer)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

PEOPLE = ["Ana", "Bruno", "Chloe", "Dmitri", "Esther", "Farid", "Greta", "Hiroshi", "Ines", "Jonas"]
CITIES = [
    "Lisbon",
    "Porto",
    "Vienna",
    "Krakow",
    "Tallinn",
    "Seville",
    "Utrecht",
    "Bergen",
    "Ghent",
    "Trieste",
    "Bologna",
    "Aarhus",
    "Lyon",
    "Graz",
    "Cork",
    "Tartu",
]
ANIMALS = [("dog", "puppy"), ("cat", "kitten"), ("rabbit", "bunny"), ("parrot", "bird")]
PET_NAMES = [
    "Miso",
    "Pepper",
    "Biscuit",
    "Nori",
    "Juniper",
    "Waffles",
    "Ziggy",
    "Pickle",
    "Tofu",
    "Olive",
    "Mochi",
    "Basil",
]
COMPANIES = [
    "Northwind Labs",
    "Bluefin Analytics",
    "Crescent Bakery",
    "Halcyon Robotics",
    "Meridian Health",
    "Quarry Games",
    "Saffron Media",
    "Tidewater Energy",
    "Lumen Optics",
    "Granite Bank",
]
ROLES = [
    "data engineer",
    "head chef",
    "nurse",
    "product designer",
    "accountant",
    "physics teacher",
    "sales lead",
    "site reliability engineer",
]
BOOKS = [
    "The Quiet Orchard",
    "Salt and Starlight",
    "A Map of Small Rivers",
    "The Glass Harbour",
    "Winter Arithmetic",
    "The Last Lighthouse Keeper",
    "Paper Foxes",
    "Northern Static",
    "The Clockmaker's Daughter",
    "Seven Kinds of Rain",
]
FOODS = ["peanuts", "shellfish", "sesame", "kiwi", "gluten", "hazelnuts", "mustard", "celery"]
CARS = [
    "Volvo estate",
    "Skoda Octavia",
    "Fiat Panda",
    "Toyota Yaris",
    "Renault Zoe",
    "Mazda MX-5",
    "Kia Niro",
    "Peugeot 208",
]
COLOURS = ["green", "red", "silver", "dark blue", "white", "yellow"]

SMALL_TALK = [
    "haha yes exactly",
    "ok see you then",
    "how was your weekend?",
    "pretty tired today tbh",
    "did you watch the match last night?",
    "I'll call you later",
    "sounds good to me",
    "sorry, was in a meeting",
    "the weather is awful here",
    "lunch tomorrow?",
    "can't believe it's already {month}",
    "send me the photos!",
    "running late, 10 min",
    "thanks for yesterday, it was fun",
    "ugh, mondays",
    "let's catch up soon",
    "what are you up to this weekend?",
    "my phone is dying, talk later",
    "that's hilarious",
    "I'm making pasta tonight",
    "traffic was terrible this morning",
    "happy friday!",
    "did you get my email?",
    "the kids are driving me crazy",
    "going for a run now",
]
SCREEN_TEMPLATES = [
    (
        "thunderbird",
        "Inbox - {n} unread. From: newsletter@shop.example Subject: Spring sale "
        "ends soon. From: it-support Subject: password expiry reminder",
    ),
    (
        "firefox",
        "Weather forecast {city}: light rain, 12 degrees, wind 20 km/h. Tomorrow: sunny intervals",
    ),
    (
        "code",
        "def parse_invoice(path): total = 0 for line in open(path): total += float(line) "
        "return total  # TODO handle empty lines",
    ),
    (
        "libreoffice",
        "Quarterly budget Q{q}: travel {n}00 EUR, software {n}50 EUR, "
        "hardware 1200 EUR, training 300 EUR",
    ),
    (
        "slack",
        "#general: standup moved to 10:30. #random: who left the cake in the kitchen? "
        "#deploys: release {n}.{q} is out",
    ),
    ("firefox", "Recipe: lentil soup with cumin, lemon and {n} carrots. Prep 15 min, cook 40 min"),
    ("terminal", "$ pytest -q  {n} passed, 2 skipped in 4.{q}s  $ git push origin main"),
    ("zoom", "Meeting: Project sync. Participants: {n}. Recording started. Screen shared by host"),
]


@dataclass(slots=True)
class SynthMessage:
    external_id: str
    time: float
    speaker: str
    text: str
    conversation: str
    kind: str = "chat"  # chat | screen
    app: str | None = None


@dataclass(slots=True)
class SynthQuestion:
    question: str
    gold: list[str]  # external ids of the evidence
    kind: str  # fact | changed | two_hop | when
    answer: str


@dataclass(slots=True)
class Corpus:
    messages: list[SynthMessage] = field(default_factory=list)
    questions: list[SynthQuestion] = field(default_factory=list)
    start: float = 0.0
    end: float = 0.0


def _date_words(d: datetime) -> str:
    return f"{d.strftime('%B')} {d.day}"


def generate(seed: int = 1, people: int = 10, days: int = 120, screens: int = 400) -> Corpus:
    rng = random.Random(seed)
    start = datetime(2025, 11, 1, 8, 0, tzinfo=UTC)
    corpus = Corpus(start=start.timestamp(), end=(start + timedelta(days=days)).timestamp())
    counter = 0

    def msg(person: str, when: datetime, text: str, speaker: str | None = None) -> str:
        nonlocal counter
        counter += 1
        eid = f"m{counter:05d}"
        corpus.messages.append(
            SynthMessage(eid, when.timestamp(), speaker or person, text, f"Chat with {person}")
        )
        return eid

    cities = CITIES[:]
    rng.shuffle(cities)
    pets = PET_NAMES[:]
    rng.shuffle(pets)
    for pi, person in enumerate(PEOPLE[:people]):
        # Sessions: a handful of days spread over the period.
        session_days = sorted(rng.sample(range(days), 7))
        sessions = [start + timedelta(days=d, hours=rng.randint(0, 12)) for d in session_days]
        facts: list[tuple[int, str, dict[str, str]]] = []  # (session, kind, slots)
        city1, city2 = cities[(2 * pi) % len(cities)], cities[(2 * pi + 1) % len(cities)]
        animal, young = ANIMALS[pi % len(ANIMALS)]
        facts.append((0, "move", {"city": city1}))
        facts.append((5, "move2", {"city": city2, "old": city1}))
        facts.append((1, "pet", {"animal": animal, "young": young, "name": pets[pi % len(pets)]}))
        facts.append(
            (2, "job", {"company": COMPANIES[pi % len(COMPANIES)], "role": ROLES[pi % len(ROLES)]})
        )
        facts.append((3, "book", {"book": BOOKS[pi % len(BOOKS)]}))
        facts.append((4, "allergy", {"food": FOODS[pi % len(FOODS)]}))
        facts.append((6, "car", {"car": CARS[pi % len(CARS)], "colour": rng.choice(COLOURS)}))
        trip_city = cities[(2 * pi + 5) % len(cities)]
        facts.append((2, "trip", {"city": trip_city}))
        fact_ids: dict[str, str] = {}
        fact_times: dict[str, datetime] = {}
        for si, when in enumerate(sessions):
            t = when
            todays = [f for f in facts if f[0] == si]
            n_msgs = rng.randint(8, 14)
            slots_at = sorted(rng.sample(range(n_msgs), len(todays)))
            fi = 0
            for j in range(n_msgs):
                t += timedelta(minutes=rng.randint(1, 9))
                speaker = person if rng.random() < 0.55 else "me"
                if fi < len(todays) and j == slots_at[fi]:
                    _, kind, s = todays[fi]
                    fi += 1
                    text = _fact_text(rng, kind, s, t)
                    fact_ids[kind] = msg(person, t, text, person)
                    fact_times[kind] = t
                else:
                    filler = rng.choice(SMALL_TALK).format(month=t.strftime("%B"))
                    msg(person, t, filler, speaker)
        corpus.questions.extend(_questions(rng, person, facts, fact_ids, fact_times))
    # Screens of several apps, some repeated (the same screen captured again).
    for _ in range(screens):
        app, tmpl = rng.choice(SCREEN_TEMPLATES)
        when = start + timedelta(seconds=rng.uniform(0, days * 86400))
        text = tmpl.format(n=rng.randint(2, 9), q=rng.randint(1, 4), city=rng.choice(CITIES))
        counter += 1
        corpus.messages.append(
            SynthMessage(f"s{counter:05d}", when.timestamp(), app, text, app, "screen", app)
        )
    corpus.messages.sort(key=lambda m: m.time)
    return corpus


def _fact_text(rng: random.Random, kind: str, s: dict[str, str], t: datetime) -> str:
    if kind == "move":
        return rng.choice(
            [
                f"We finally moved to {s['city']}! The new flat is two streets from the river.",
                f"Big news: I got the keys to our apartment in {s['city']} today.",
            ]
        )
    if kind == "move2":
        return rng.choice(
            [
                f"Leaving {s['old']} behind, we're settling in {s['city']} now, boxes everywhere.",
                f"Change of plans, we relocated again, this time to {s['city']}.",
            ]
        )
    if kind == "pet":
        return (
            f"Meet {s['name']}! We brought home a little {s['young']} from the shelter "
            f"this morning."
        )
    if kind == "job":
        return f"Signed the contract, I start at {s['company']} as {s['role']} next Monday."
    if kind == "book":
        return f"You have to read {s['book']}, I couldn't put it down."
    if kind == "allergy":
        return (
            f"Reminder for Saturday's dinner: I react badly to {s['food']}, "
            f"so please none in the food."
        )
    if kind == "car":
        return f"Sold the old one, picked up a {s['colour']} {s['car']} yesterday."
    if kind == "trip":
        d = t + timedelta(days=rng.randint(10, 40))
        s["date"] = _date_words(d)
        return f"Booked the flights to {s['city']} for {_date_words(d)}, can't wait."
    raise ValueError(kind)


def _questions(
    rng: random.Random,
    p: str,
    facts: list[tuple[int, str, dict[str, str]]],
    ids: dict[str, str],
    times: dict[str, datetime],
) -> list[SynthQuestion]:
    s = {kind: slots for _, kind, slots in facts}
    q: list[SynthQuestion] = []
    q.append(
        SynthQuestion(
            f"What kind of animal did {p} adopt?", [ids["pet"]], "fact", s["pet"]["animal"]
        )
    )
    q.append(
        SynthQuestion(
            f"Which company hired {p}, and for what position?",
            [ids["job"]],
            "fact",
            s["job"]["company"],
        )
    )
    q.append(
        SynthQuestion(
            f"What novel did {p} recommend to me?", [ids["book"]], "fact", s["book"]["book"]
        )
    )
    q.append(
        SynthQuestion(f"What is {p} allergic to?", [ids["allergy"]], "fact", s["allergy"]["food"])
    )
    q.append(
        SynthQuestion(
            f"What vehicle does {p} drive these days?", [ids["car"]], "fact", s["car"]["car"]
        )
    )
    q.append(
        SynthQuestion(
            f"Which city does {p} live in now?", [ids["move2"]], "changed", s["move2"]["city"]
        )
    )
    q.append(
        SynthQuestion(
            f"Where did {p} live before the latest move?",
            [ids["move"], ids["move2"]],
            "changed",
            s["move"]["city"],
        )
    )
    q.append(
        SynthQuestion(
            f"Which city does the owner of {s['pet']['name']} live in now?",
            [ids["pet"], ids["move2"]],
            "two_hop",
            s["move2"]["city"],
        )
    )
    q.append(
        SynthQuestion(
            f"Where does the person who recommended {s['book']['book']} work?",
            [ids["book"], ids["job"]],
            "two_hop",
            s["job"]["company"],
        )
    )
    q.append(
        SynthQuestion(
            f"When did {p} get the {s['pet']['animal']}?",
            [ids["pet"]],
            "when",
            times["pet"].date().isoformat(),
        )
    )
    q.append(
        SynthQuestion(
            f"When is {p} flying to {s['trip']['city']}?",
            [ids["trip"]],
            "when",
            s["trip"].get("date", ""),
        )
    )
    q.append(
        SynthQuestion(
            f"When did {p} change jobs?", [ids["job"]], "when", times["job"].date().isoformat()
        )
    )
    # What people type into a search box: a few exact words.
    q.append(
        SynthQuestion(
            f"{s['job']['company']} contract", [ids["job"]], "keywords", s["job"]["company"]
        )
    )
    q.append(SynthQuestion(s["pet"]["name"], [ids["pet"]], "keywords", s["pet"]["name"]))
    q.append(SynthQuestion(s["book"]["book"].lower(), [ids["book"]], "keywords", s["book"]["book"]))
    q.append(
        SynthQuestion(f"flights {s['trip']['city']}", [ids["trip"]], "keywords", s["trip"]["city"])
    )
    q.append(
        SynthQuestion(
            f"{s['allergy']['food']} dinner", [ids["allergy"]], "keywords", s["allergy"]["food"]
        )
    )
    rng.shuffle(q)
    return q
