"""core.answer: question kinds, deterministic spans from the supporting memory, abstention
naming the nearest memory, and the support check on phrased answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.answer import (
    AMOUNT,
    DATE,
    DURATION,
    FREQUENCY,
    LIST,
    NUMBER,
    PERSON,
    PLACE,
    TIME,
    WHAT,
    YESNO,
    classify,
    extract,
    not_found_text,
    spans_supported,
)
from core.prompting import Evidence


def t(y: int, m: int, d: int, h: int = 12) -> float:
    return datetime(y, m, d, h, tzinfo=UTC).timestamp()


def ev(i: int, text: str, when: float, author: str | None = None) -> Evidence:
    return Evidence(memory_id=i, text=text, time=when, source="chat", author=author)


@pytest.mark.parametrize(
    ("q", "kind"),
    [
        ("When did Melanie sign up for a pottery class?", DATE),
        ("What year did she move?", DATE),
        ("What time does the train to Lyon leave?", TIME),
        ("How long has Caroline had her friends?", DURATION),
        ("How long ago was her birthday?", DURATION),
        ("How often does John take his kids to the park?", FREQUENCY),
        ("How frequently do they meet?", FREQUENCY),
        ("How much was the Hetzner invoice?", AMOUNT),
        ("What is the marketing budget for Q4?", AMOUNT),
        ("How many kids does she have?", NUMBER),
        ("Who gave her the necklace?", PERSON),
        ("Where did Ana move to?", PLACE),
        ("Did Melanie go camping?", YESNO),
        ("What activities does Melanie do?", LIST),
        ("What did Caroline research?", WHAT),
        ("Which week did he fly to the conference?", DATE),
        ("Which weekend is the party?", DATE),
        ("Which country was she visiting in May?", PLACE),
        ("Which city did they move to?", PLACE),
    ],
)
def test_classify(q: str, kind: str) -> None:
    assert classify(q) == kind


CONV = [
    ev(1, "I signed up for a pottery class yesterday. Can't wait!", t(2023, 7, 3), "Melanie"),
    ev(2, "Nice! I went to the support group last week, it was great.", t(2023, 6, 9), "Caroline"),
    ev(3, "We painted a sunrise back in 2022, on the lake.", t(2023, 5, 8), "Melanie"),
    ev(4, "Researching adoption agencies lately, it's my dream.", t(2023, 5, 25), "Caroline"),
]


def test_when_gives_the_event_date_not_the_message_date() -> None:
    ex = extract("When did Melanie sign up for a pottery class?", CONV, UTC)
    assert (ex.text, ex.cited, ex.kind) == ("2 July 2023", [1], DATE)
    assert "pottery" in ex.sentence


def test_when_keeps_the_precision_of_the_evidence() -> None:
    assert extract("When did Caroline go to the support group?", CONV, UTC).text == (
        "the week before 9 June 2023"
    )
    assert extract("When did Melanie paint a sunrise?", CONV, UTC).text == "2022"


def test_when_did_she_start_is_the_month_the_beginning_is_told_of() -> None:
    gym = [ev(1, "Started hitting the gym last week to stay on track.", t(2023, 3, 16), "Jon")]
    assert extract("When did Jon start to go to the gym?", gym, UTC).text == "March 2023"
    # Without a time word, the month of the message that tells of the beginning.
    tools = [ev(1, "I began to learn all these marketing tools.", t(2023, 7, 9), "Jon")]
    assert extract("When did Jon start learning marketing tools?", tools, UTC).text == ("July 2023")
    # Not a beginning: the precision of the evidence stays.
    assert extract("When did Jon go to the gym?", gym, UTC).text == "the week before 16 March 2023"


def test_when_is_the_one_time_a_long_memory_tells_not_its_own_day() -> None:
    pup = ev(
        1,
        "Hey John! Long time no talk! Guess what - I got a puppy two weeks ago! "
        "Her name's Coco and she's adorable.",
        t(2023, 8, 11),
        "Maria",
    )
    assert extract("When did Maria get Coco?", [pup], UTC).text == (
        "two weeks before 11 August 2023"
    )


def test_when_keeps_the_clock_time_the_sentence_gives_with_the_day() -> None:
    evs = [ev(5, "The dentist appointment is on 12 March 2024 at 10:30, see you.", t(2024, 3, 1))]
    ex = extract("When is the dentist appointment?", evs, UTC)
    assert ex.text == "12 March 2024 at 10:30" and ex.cited == [5]


def test_without_a_time_word_the_memory_own_day_is_the_answer() -> None:
    evs = [ev(7, "I just finished my first marathon!", t(2023, 8, 20), "Jon")]
    assert extract("When did Jon run a marathon?", evs, UTC).text == "20 August 2023"


def test_description_is_the_part_of_the_sentence_that_is_not_the_question() -> None:
    ex = extract("What did Caroline research?", CONV, UTC)
    assert ex.text == "adoption agencies" and ex.cited == [4]


def test_amount_is_the_memory_amount_never_another() -> None:
    evs = [ev(9, "Marketing Q4 $90,975", t(2026, 10, 1)), ev(10, "Sales Q3 $12,000", t(2026, 7, 1))]
    ex = extract("What is the marketing budget for Q4?", evs, UTC)
    assert (ex.text, ex.cited) == ("$90,975", [9])


def test_time_and_count_and_place_and_person() -> None:
    evs = [
        ev(1, "Tom: the train to Lyon leaves at 8:42", t(2026, 3, 1), "Tom"),
        ev(2, "We adopted 3 cats this spring.", t(2026, 4, 1), "Ana"),
        ev(3, "Ana: we finally moved to Lisbon, near the river", t(2026, 3, 2), "Ana"),
        ev(4, "My sister Joana gave me this necklace.", t(2026, 3, 3), "Ana"),
    ]
    assert extract("What time does the train to Lyon leave?", evs, UTC).text == "8:42"
    assert extract("How many cats did Ana adopt?", evs, UTC).text == "3"
    assert extract("Where did Ana move to?", evs, UTC).text == "Lisbon"
    assert extract("Who gave Ana the necklace?", evs, UTC).text == "Joana"


def test_a_question_about_someone_else_abstains_naming_the_nearest() -> None:
    # Caroline researched adoption agencies; asked about Melanie, the answer is not there.
    ex = extract("What did Melanie research?", CONV, UTC)
    assert ex.not_found and ex.nearest == 4
    text = not_found_text(ex, CONV[3], UTC)
    assert text.startswith("Nothing in your memories answers “What did Melanie research?”")
    assert "the closest is [1] (25 May 2023)" in text and "adoption agencies" in text


def test_a_name_in_no_memory_abstains() -> None:
    ex = extract(
        "Where did Bruno move to?", [ev(3, "Ana: we moved to Lisbon", t(2026, 1, 1), "Ana")]
    )
    assert ex.not_found and ex.nearest == 3


def test_no_evidence_is_not_found_without_nearest() -> None:
    ex = extract("Where did Ana move to?", [])
    assert ex.not_found and ex.nearest is None
    assert not_found_text(ex, None) == "Nothing in your memories answers “Where did Ana move to?”."


def test_support_check_on_spans() -> None:
    budget = [ev(9, "Marketing Q4 $90,975", t(2026, 10, 1))]
    assert not spans_supported("The marketing budget for Q4 is $25,000 [1].", budget)
    assert spans_supported("The marketing budget for Q4 is $90,975 [1].", budget)
    assert spans_supported("it is 90975", budget)
    ana = [ev(3, "Ana: we finally moved to Lisbon", t(2026, 3, 2), "Ana")]
    assert spans_supported("Ana moved to Lisbon.", ana, UTC)
    assert not spans_supported("Ana moved to Tokyo in 1999.", ana, UTC)
    # A date the memory's words resolve to is supported ("yesterday" in a 3 July message).
    pottery = [CONV[0]]
    assert spans_supported("She signed up on 2 July 2023.", pottery, UTC)
    assert not spans_supported("She signed up on 9 July 2023.", pottery, UTC)
    assert not spans_supported("anything", [])


def test_a_screen_of_many_lines_answers_from_the_line_that_matches() -> None:
    screen = Evidence(
        memory_id=5,
        text="Inbox - billing@hetzner.com\nSubject: Your invoice #4411 from Hetzner Online\n"
        "Invoice number: 4411\nTotal amount: 23.80 EUR\nPayment due: 30 November 2026",
        time=t(2026, 12, 6),
        source="screen",
        app="thunderbird",
    )
    assert extract("When is the Hetzner invoice due?", [screen], UTC).text == "30 November 2026"
    ex = extract("What is the amount on that invoice?", [screen], UTC)
    assert (ex.text, ex.sentence) == ("23.80 EUR", "Total amount: 23.80 EUR")


def evc(i: int, text: str, when: float, author: str) -> Evidence:
    return Evidence(
        memory_id=i, text=text, time=when, source="import:jsonl", author=author, conversation="c1"
    )


def test_a_fact_told_over_two_messages_cites_both_and_no_more_than_three() -> None:
    evs = [
        evc(1, "I've been researching adoption agencies lately.", t(2023, 5, 25), "Caroline"),
        evc(
            2,
            "Adoption agencies take so much research, but I keep at it.",
            t(2023, 6, 2),
            "Caroline",
        ),
        evc(3, "Still researching adoption agencies, it's my dream.", t(2023, 6, 9), "Caroline"),
        evc(4, "Researching adoption agencies again today.", t(2023, 6, 20), "Caroline"),
        evc(5, "We went camping by the lake.", t(2023, 6, 21), "Melanie"),
    ]
    ex = extract("What did Caroline research?", evs, UTC)
    assert ex.text == "adoption agencies"
    assert ex.cited[0] == 1 and 3 in ex.cited and len(ex.cited) == 3 and 5 not in ex.cited


def test_a_message_about_the_same_thing_without_the_answer_is_related_not_cited() -> None:
    # The second message tells of the same painting but not what it shows: it is related to
    # the answer, never one of its citations; the other person's messages are neither.
    evs = [
        evc(1, "I painted a sunset with a palm tree for the art show.", t(2023, 7, 1), "Caroline"),
        evc(2, "Here's the painting, it took me weeks.", t(2023, 7, 1), "Caroline"),
        evc(3, "We went camping by the lake.", t(2023, 6, 21), "Melanie"),
    ]
    ex = extract("What did Caroline paint for the art show?", evs, UTC)
    assert (ex.text, ex.cited, ex.related) == ("sunset with a palm tree", [1], [2])


def test_a_memory_telling_the_same_place_in_other_words_is_cited() -> None:
    # A place is cited only from memories that hold it: "New York" and "the city" hold
    # "New York City" though not letter for letter; the camping trip does not.
    evs = [
        evc(1, "I moved from New York City four years ago.", t(2023, 5, 1), "Caroline"),
        evc(
            2,
            "Before the move I lived in New York; the city never sleeps.",
            t(2023, 6, 1),
            "Caroline",
        ),
        evc(3, "We went camping by the lake.", t(2023, 6, 2), "Melanie"),
    ]
    ex = extract("Where did Caroline move from?", evs, UTC)
    assert (ex.text, ex.cited) == ("New York City", [1, 2])


def test_a_count_is_cited_only_from_memories_that_hold_it() -> None:
    evs = [
        ev(1, "Invoice from Hetzner: total 23.80 EUR", t(2026, 11, 1)),
        ev(2, "Invoice from Ionos: total 9.00 EUR", t(2026, 11, 2)),
    ]
    ex = extract("How much is the Hetzner invoice total?", evs, UTC)
    assert (ex.text, ex.cited) == ("23.80 EUR", [1])


def test_the_answer_in_the_reply_to_a_matching_question() -> None:
    # Maria's question carries the words; John's next message carries the answer.
    asked = evc(1, "Lovely! How often do you get to see sunsets like that?", t(2023, 8, 1), "Maria")
    reply = evc(2, "Thanks, Maria! I see them at least once a week.", t(2023, 8, 1) + 60, "John")
    other = evc(3, "I walk the dog every morning.", t(2023, 7, 1), "John")
    ex = extract("How often does John see sunsets?", [asked, other], UTC, following={1: [reply]})
    assert not ex.not_found and "once a week" in ex.text and ex.cited[0] == 2


def test_asking_the_other_person_is_no_evidence_about_oneself() -> None:
    # Caroline asked what got Melanie into running: nothing says why Caroline runs.
    evs = [
        evc(1, "Wow! What got you into running?", t(2023, 6, 1), "Caroline"),
        evc(2, "I got into running to de-stress and clear my mind.", t(2023, 6, 1) + 60, "Melanie"),
    ]
    ex = extract("What got Caroline into running?", evs, UTC)
    assert ex.not_found and ex.nearest == 2
    ex = extract("What got Melanie into running?", evs, UTC)
    assert not ex.not_found and ex.cited[0] == 2


def test_a_fact_of_someone_else_found_without_the_name_is_an_abstention() -> None:
    # Search brought Melanie's own messages; the church window is Caroline's, found by the
    # question without the name: the premise is about someone else.
    mine = [
        evc(1, "Those moments make being a parent worth it.", t(2023, 6, 1), "Melanie"),
        evc(2, "We made pancakes for the kids this morning.", t(2023, 6, 2), "Melanie"),
    ]
    window = evc(
        3, "I made this stained glass window for a local church.", t(2023, 6, 3), "Caroline"
    )
    q = "What did Melanie make for a local church?"
    assert not extract(q, mine, UTC).not_found
    ex = extract(q, mine, UTC, contrast=[window])
    assert ex.not_found and ex.nearest == 3
    # Asked about Caroline, the same memory is the answer; a weaker match of someone else's
    # does not stop the asked person's own answer.
    assert (
        "stained glass window"
        in extract("What did Caroline make for a local church?", [window], UTC, contrast=mine).text
    )
    weaker = evc(4, "I made a cake.", t(2023, 6, 4), "Caroline")
    own = evc(5, "I made a birdhouse for a local church fair.", t(2023, 6, 5), "Melanie")
    assert not extract(q, [own], UTC, contrast=[weaker]).not_found


def test_the_name_nearest_the_question_words_answers_who_and_where() -> None:
    fan = evc(
        1,
        "I'm a fan of both classical like Bach, as well as modern music like Ed Sheeran.",
        t(2023, 6, 1),
        "Melanie",
    )
    assert extract("Who is Melanie a fan of in terms of modern music?", [fan], UTC).text == (
        "Ed Sheeran"
    )
    gift = evc(2, "A gift from my grandma in my home country, Sweden.", t(2023, 6, 2), "Caroline")
    assert extract("What country is Caroline's grandma from?", [gift], UTC).text == "Sweden"


def test_a_sentence_naming_the_topic_hands_over_to_the_next() -> None:
    evs = [evc(1, "I got promoted at work! Now I'm an assistant manager.", t(2023, 6, 1), "John")]
    assert "assistant manager" in extract("What did John get promoted to?", evs, UTC).text


def test_what_kind_of_is_the_words_that_qualify_the_noun() -> None:
    joined = evc(
        1,
        "I joined a service-focused online group last week and it's been an emotional ride.",
        t(2023, 6, 1),
        "John",
    )
    ex = extract("What kind of online group did John join?", [joined], UTC)
    assert ex.text == "service-focused online group"


def test_what_noun_is_the_noun_the_sentence_names_with_its_qualifier() -> None:
    # "What <noun> did ...?": the answer is the asked noun as the memory names it, with the
    # word that tells which one ("marching event"), not the rest of the sentence.
    march = evc(
        1,
        "I just participated in a marching event for veterans' rights and it was awesome, "
        "made me remember how much they sacrifice for us.",
        t(2023, 6, 1),
        "John",
    )
    ex = extract("What event did John participate in to show support for veterans?", [march], UTC)
    assert ex.text == "marching event"
    yoga = evc(1, "I want to get stronger, and I'm trying kundalini yoga.", t(2023, 6, 1), "Maria")
    ex = extract("What yoga activity has Maria been trying to get stronger?", [yoga], UTC)
    assert ex.text == "kundalini yoga"


def test_a_generic_word_before_the_asked_noun_is_no_answer() -> None:
    # "another language" says nothing of which language: it is not given as the answer.
    lang = evc(1, "Learning another language is tough but so worth it.", t(2023, 5, 21), "Tim")
    ex = extract("What language is Tim learning?", [lang], UTC)
    assert "another" not in ex.text


def test_the_next_sentence_is_read_for_a_name_before_its_gap() -> None:
    # The sentence with the question's words only names the topic; the next one holds the
    # name asked for, and the name alone is the answer.
    pup = evc(
        1,
        "Guess what - I got a puppy two weeks ago! Her name's Coco and she's adorable.",
        t(2023, 8, 11),
        "Maria",
    )
    ex = extract("What is the name of Maria's puppy?", [pup], UTC)
    assert ex.text == "Coco"


def test_the_object_after_the_asked_verb_beats_the_small_talk_before_it() -> None:
    blog = evc(
        1,
        "Since we chatted last, I've been blogging about politics and the government.",
        t(2023, 6, 1),
        "John",
    )
    ex = extract("What has John been blogging about recently?", [blog], UTC)
    assert ex.text == "politics and the government"


def test_why_is_the_cause_or_aim_the_sentence_gives() -> None:
    church = evc(
        1,
        "I joined a church nearby since I wanted to feel closer to a community and my faith.",
        t(2023, 6, 1),
        "Maria",
    )
    ex = extract("Why did Maria join a nearby church?", [church], UTC)
    assert ex.text == "I wanted to feel closer to a community and my faith"
    studio = evc(
        2,
        "I wanna start a dance studio so I can teach others the joy of dance.",
        t(2023, 6, 1),
        "Jon",
    )
    ex = extract("Why did Jon start his dance studio?", [studio], UTC)
    assert ex.text == "teach others the joy of dance"


def test_how_does_she_feel_is_the_feeling_named() -> None:
    yoga = evc(
        1,
        "I really enjoy the upside-down poses. They make me feel free and light.",
        t(2023, 6, 1),
        "Maria",
    )
    ex = extract("How does Maria feel doing upside-down poses?", [yoga], UTC)
    assert ex.text == "free and light"


def test_a_past_form_matches_its_verb() -> None:
    # "met" is "meet": the memory that tells of meeting Jean answers, not one with "meet".
    evs = [
        evc(1, "We held some events and got to meet some people.", t(2023, 2, 20), "John"),
        evc(
            2,
            "While volunteering yesterday, I met this amazing woman, Jean.",
            t(2023, 2, 25),
            "Maria",
        ),
        evc(3, "Jean says hi!", t(2023, 3, 2), "Maria"),
    ]
    ex = extract("When did Maria meet Jean?", evs, UTC)
    assert (ex.text, ex.cited[0]) == ("24 February 2023", 2)


def test_a_date_is_not_taken_from_a_later_reply_to_a_statement() -> None:
    said = evc(1, "We went camping with my fam two weekends ago.", t(2023, 7, 17), "Melanie")
    reply = evc(
        2,
        "I'll always remember camping in the mountains last year.",
        t(2023, 7, 17) + 120,
        "Melanie",
    )
    ex = extract(
        "When did Melanie go camping in the mountains?", [said], UTC, following={1: [reply]}
    )
    assert ex.text == "two weekends before 17 July 2023" and ex.cited[0] == 1


def test_how_often_is_the_frequency_the_memory_gives() -> None:
    # "How often" asks for a rate: the words of the rate, not the rest of the sentence, and a
    # memory with a rate beats a closer-worded one without.
    evs = [
        ev(1, "We love the park, the kids run around for hours.", t(2023, 5, 2), "Jo"),
        ev(2, "I take the kids to the park a few times a week, they love it.", t(2023, 5, 9), "Jo"),
    ]
    ex = extract("How often does Jo take his kids to the park?", evs, UTC)
    assert ex.kind == FREQUENCY and ex.text == "a few times a week" and ex.cited[0] == 2
    once = [ev(3, "We see sunsets like that at least once a week.", t(2023, 6, 1), "John")]
    assert extract("How often does John see sunsets like that?", once, UTC).text == (
        "at least once a week"
    )


def test_what_did_they_make_is_the_object_of_the_asked_verb() -> None:
    # The sentence with most of the question's words names the workshop; the answer is what
    # follows the asked verb ("made") in the next one.
    mem = ev(
        1,
        "Hey Caroline, it's been super busy here. Last Fri I finally took my kids to a pottery "
        "workshop. We all made our own pots, it was fun and therapeutic!",
        t(2023, 7, 15),
        "Melanie",
    )
    ex = extract("What did Melanie and her kids make during the pottery workshop?", [mem], UTC)
    assert not ex.not_found
    assert "pots" in ex.text
    assert "took" not in ex.text


def test_a_list_gathers_the_short_objects_over_the_persons_memories() -> None:
    mems = [
        ev(1, "I play the clarinet, it calms me down after work.", t(2023, 5, 1), "Melanie"),
        ev(2, "Lately I play violin with my daughter, she loves it.", t(2023, 6, 1), "Melanie"),
    ]
    ex = extract("What instruments does Melanie play?", mems, UTC)
    assert ex.kind == LIST
    items = [i.strip().lower() for i in ex.text.split(",")]
    assert items == ["clarinet", "violin"]
    assert ex.cited[:2] == [1, 2]


def test_a_list_of_named_things_is_the_names() -> None:
    mems = [
        ev(1, "Last spring I visited Paris with my sister, it was lovely.", t(2023, 5, 1), "Jon"),
        ev(2, "When I visited Rome the food was the best part.", t(2023, 6, 1), "Jon"),
    ]
    ex = extract("Which cities has Jon visited?", mems, UTC)
    assert ex.kind == LIST
    assert [i.strip() for i in ex.text.split(",")] == ["Paris", "Rome"]


def test_how_long_is_the_length_not_the_time_ago() -> None:
    mem = ev(
        1,
        "I met my current group of friends 4 years ago at a support group.",
        t(2023, 6, 9),
        "Caroline",
    )
    ex = extract("How long has Caroline had her current group of friends?", [mem], UTC)
    assert ex.text == "4 years"
    ago = extract("How long ago did Caroline meet her current group of friends?", [mem], UTC)
    assert ago.text == "4 years ago"


def test_the_asked_persons_next_turn_answers_when_the_matching_one_holds_no_answer() -> None:
    # Maria's first message has the question's words but no number; her next one has it.
    lead = evc(1, "My kids keep me busy with all their school stuff.", t(2023, 8, 1), "Maria")
    more = evc(2, "We have 3 of them now, all in the same school.", t(2023, 8, 1) + 60, "Maria")
    other = evc(3, "I walk the dog every morning.", t(2023, 7, 1), "Maria")
    ex = extract("How many kids does Maria have?", [lead, other], UTC, following={1: [more]})
    assert not ex.not_found and ex.text == "3" and ex.cited[0] == 2


def test_the_partners_reply_does_not_answer_for_the_person_asked_about() -> None:
    # John's reply tells of John's kids, not of Maria's.
    lead = evc(1, "My kids keep me busy with all their school stuff.", t(2023, 8, 1), "Maria")
    reply = evc(2, "Same here, we have 2 of them at that age.", t(2023, 8, 1) + 60, "John")
    ex = extract("How many kids does Maria have?", [lead], UTC, following={1: [reply]})
    assert ex.text != "2" and 2 not in ex.cited[:1]


def test_the_person_spoken_to_in_the_next_turn_is_not_the_answer() -> None:
    # "Thanks for asking John!" names whom Maria speaks to, not whom she met.
    from core.answer import _Candidate, _from_followers, _question

    asked = evc(1, "Who did you meet at the shelter?", t(2023, 8, 1), "John")
    other = evc(3, "The shelter needs more volunteers.", t(2023, 7, 1), "Maria")
    q = _question("Who did Maria meet at the shelter?", [asked, other])
    best = _Candidate(asked, 0, 0.8, asked.text, 0, 0.8, True)
    partners = {1: "maria", 2: "john"}
    thanks = evc(2, "Thanks for asking John!", t(2023, 8, 1) + 60, "Maria")
    assert _from_followers(q, best, [thanks], UTC, partners, 0.0) is None
    told = evc(2, "I met Laura and her dog there.", t(2023, 8, 1) + 60, "Maria")
    took = _from_followers(q, best, [told], UTC, partners, 0.0)
    assert took is not None and took[1] == "Laura" and took[0].ev.memory_id == 2


def test_a_next_turn_on_another_topic_does_not_answer() -> None:
    # Maria's next message shares no word of the question: she moved on to something else.
    from core.answer import _Candidate, _from_followers, _question

    asked = evc(1, "Who did you meet at the shelter?", t(2023, 8, 1), "John")
    other = evc(3, "The shelter needs more volunteers.", t(2023, 7, 1), "Maria")
    q = _question("Who did Maria meet at the shelter?", [asked, other])
    best = _Candidate(asked, 0, 0.8, asked.text, 0, 0.8, True)
    moved_on = evc(2, "Guess what, Laura and I saw the Perseids!", t(2023, 8, 1) + 60, "Maria")
    assert _from_followers(q, best, [moved_on], UTC, {1: "maria", 2: "john"}, 0.0) is None


def _concept_embed(groups: dict[str, int]):  # type: ignore[no-untyped-def]
    """An embed double: a text is the unit vector of the concept its words name (`groups`:
    word -> axis), or an axis of its own (alike to nothing) when it names none."""
    import numpy as np

    seen: dict[str, int] = {}

    def embed(texts):  # type: ignore[no-untyped-def]
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, text in enumerate(texts):
            axis = next((groups[w] for w in text.lower().split() if w in groups), None)
            if axis is None:
                axis = 32 + seen.setdefault(text, len(seen) % 32)
            out[i, axis] = 1.0
        return out

    return embed


def test_a_list_by_meaning_keeps_the_phrases_of_the_asked_kind() -> None:
    # The old per-memory item is the first stretch after the question's words ("fan of both");
    # by meaning, the phrases alike to "instruments" are the items, cited from their memories.
    mems = [
        ev(1, "I play as a fan of both, but clarinet is my first love.", t(2023, 5, 1), "Melanie"),
        ev(2, "Lately I play violin with my daughter.", t(2023, 6, 1), "Melanie"),
        ev(3, "I play tennis on weekends, it keeps me fit.", t(2023, 7, 1), "Melanie"),
    ]
    q = "What instruments does Melanie play?"
    plain = extract(q, mems, UTC)
    assert "fan of both" in plain.text.lower()
    embed = _concept_embed({"instruments": 0, "clarinet": 0, "violin": 0})
    ex = extract(q, mems, UTC, embed=embed)
    items = sorted(i.strip().lower() for i in ex.text.split(","))
    assert items == ["clarinet", "violin"]
    assert set(ex.cited[:2]) == {1, 2}  # the memories the items came from come first


def test_a_list_by_meaning_keeps_the_old_items_when_no_phrase_is_alike() -> None:
    mems = [
        ev(1, "I play the clarinet, it calms me down after work.", t(2023, 5, 1), "Melanie"),
        ev(2, "Lately I play violin with my daughter, she loves it.", t(2023, 6, 1), "Melanie"),
    ]
    ex = extract("What instruments does Melanie play?", mems, UTC, embed=_concept_embed({}))
    assert [i.strip().lower() for i in ex.text.split(",")] == ["clarinet", "violin"]


def test_meaning_is_not_asked_for_a_question_that_is_no_list() -> None:
    mems = [ev(1, "I moved to Boston in 2019 for the job.", t(2023, 5, 1), "Jon")]
    calls: list[int] = []

    def embed(texts):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        raise AssertionError("no embedding for a place question")

    ex = extract("Where did Jon move?", mems, UTC, embed=embed)
    assert ex.text == "Boston" and not calls


def test_the_answer_comes_from_the_memory_with_the_better_span_among_the_best() -> None:
    # The first memory matches the question's words best ("dance studio", "offering"), but
    # the second one, nearly as good a match, holds the offering to the dancers themselves.
    press = evc(
        1,
        "I'm expanding my dance studio's social media presence and offering workshops and "
        "classes to local schools and centers.",
        t(2023, 7, 1),
        "Jon",
    )
    mentor = evc(
        2,
        "Besides the dance classes and workshops, I'm offering one-on-one mentoring and "
        "training to help dancers reach their full potential.",
        t(2023, 7, 2),
        "Jon",
    )
    ex = extract("What is Jon offering to the dancers at his dance studio?", [press, mentor], UTC)
    assert "mentoring" in ex.text
    assert ex.cited[0] == 2
