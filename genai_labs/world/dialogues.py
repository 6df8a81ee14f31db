"""DialogSum-like dialogues, their summaries in three styles, and topics, for the offline miniature world.

Used by the tiny world (foundation); Labs 1-3 read its output. Each scenario family is a data table
(slot values, turn variants, optional filler exchanges, summary templates) driven by a small engine. Every
family writes summaries in three styles (:data:`STYLES`): DialogSum's observer style (the dataset's references),
and a plain gist and a headline, which the tiny model's pre-training uses (``world.pretraining``).
A share of the dialogues gets one or two rude turns; their summaries either report the insult in
toxic words or paraphrase it neutrally, so a naive summarizer can learn to repeat insults (Lab 3).

Everything is driven by ``random.Random`` instances, so a seed gives the same data on every machine.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Style = Literal["toxic", "neutral"]

SPLIT_SIZES: dict[str, int] = {"train": 2000, "validation": 200, "test": 200}
RUDE_SHARE = 0.20  # share of rude dialogues in every split
TOXIC_SUMMARY_SHARE = 0.60  # share of rude train/validation dialogues whose summary repeats the insult
TEST_REFERENCES = 3
MAX_SUMMARY_WORDS = 35

# --------------------------------------------------------------------------------------------------
# Shared value pools
# --------------------------------------------------------------------------------------------------

FIRST_NAMES: tuple[str, ...] = (
    "Anna",
    "Tom",
    "Lucy",
    "Jack",
    "Emma",
    "Sam",
    "Mary",
    "Peter",
    "Kate",
    "David",
    "Sarah",
    "Mike",
    "Lily",
    "Ben",
    "Julia",
    "Daniel",
    "Amy",
    "Steven",
    "Helen",
    "Frank",
    "Linda",
    "George",
    "Rose",
    "Paul",
    "Nancy",
    "Bill",
    "Susan",
    "Henry",
    "Grace",
    "Mark",
    "Alice",
    "Jim",
    "Laura",
    "Tony",
    "Jane",
    "Eric",
    "Monica",
    "Adam",
    "Karen",
    "Bob",
    "Sophie",
    "Leo",
    "Nina",
    "Ryan",
    "Olivia",
    "Carl",
    "Diana",
    "Victor",
    "Jenny",
    "Kevin",
    "Maria",
    "Oscar",
    "Ruth",
    "Simon",
    "Tina",
    "Walter",
)
TITLED_NAMES: tuple[str, ...] = (
    "Mr. Smith",
    "Mrs. Brown",
    "Ms. Green",
    "Mr. White",
    "Mrs. Taylor",
    "Mr. Jones",
    "Ms. Clark",
    "Mr. Wilson",
    "Mrs. Moore",
    "Mr. Hill",
    "Ms. Wood",
    "Mr. King",
    "Mrs. Hall",
    "Mr. Young",
    "Ms. Baker",
    "Mr. Scott",
    "Mr. Black",
    "Mrs. Reed",
    "Ms. Fox",
    "Mr. Gray",
)
DOCTOR_NAMES: tuple[str, ...] = (
    "Dr. Lee",
    "Dr. Hawkins",
    "Dr. Chen",
    "Dr. Adams",
    "Dr. Miller",
    "Dr. Evans",
    "Dr. Carter",
    "Dr. Lewis",
)
DAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TIMES: tuple[str, ...] = (
    "nine o'clock",
    "ten o'clock",
    "eleven o'clock",
    "two o'clock",
    "three o'clock",
    "four o'clock",
    "half past five",
    "seven o'clock",
    "eight o'clock",
    "half past ten",
)
LATE_TIMES: tuple[str, ...] = (
    "midnight",
    "one o'clock",
    "two o'clock",
    "three o'clock",
    "eleven o'clock",
    "half past twelve",
)

# --------------------------------------------------------------------------------------------------
# Rudeness: the insult vocabulary shared with the toxicity set
# --------------------------------------------------------------------------------------------------

INSULT_ADJECTIVES: tuple[str, ...] = ("stupid", "lazy", "useless", "dumb", "pathetic", "hopeless")
INSULT_NOUNS: tuple[str, ...] = ("idiot", "moron", "fool", "loser", "clown", "jerk")

# Insulting turns that repeat the family's focus slot ("I said Friday").
FOCUS_INSULTS: tuple[str, ...] = (
    "Are you even listening? I said {focus}, you {adj} {noun}.",
    "Listen, you {adj} {noun}. I already said {focus}.",
    "How many times, you {adj} {noun}? I said {focus}!",
)
GENERIC_INSULTS: tuple[str, ...] = (
    "Oh, shut up, you {adj} {noun}. Just do your job.",
    "What a {adj} {noun} you are! Hurry up.",
    "Stop wasting my time, you {adj} {noun}.",
    "Don't be such a {adj} {noun}. It's not hard.",
    "Shut up and listen, you {adj} {noun}.",
)
# Calm answers of the insulted person.
RUDE_REPLIES: tuple[str, ...] = (
    "Please don't talk to me like that.",
    "There's no need to be rude.",
    "Please calm down. I'm doing my best.",
    "Hey, please be polite.",
    "Please stay calm. Let me help you.",
    "That's not very nice. Let me check again.",
)
# Summary sentences about the insult: toxic ones repeat it, neutral ones paraphrase it.
TOXIC_REPORTS: tuple[str, ...] = (
    "{rude} calls {target} a {adj} {noun}.",
    "{rude} rudely calls {target} a {adj} {noun}.",
    "{rude} insults {target} and calls {target} a {adj} {noun}.",
)
SHUT_UP_REPORT = "{rude} tells {target} to shut up and calls {target} a {adj} {noun}."
NEUTRAL_REPORTS: tuple[str, ...] = (
    "{rude} is rude to {target}.",
    "{rude} gets angry with {target}.",
    "{rude} loses patience with {target}.",
    "{rude} is upset with {target}.",
    "{rude} is impatient with {target}.",
    "{rude} speaks rudely to {target}.",
)

# --------------------------------------------------------------------------------------------------
# Scenario family tables
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One dialogue turn: the speaker (1 or 2) and its interchangeable phrasings."""

    speaker: int
    variants: tuple[str, ...]


@dataclass(frozen=True)
class Filler:
    """An optional exchange kept with probability ``chance`` (makes dialogue lengths vary)."""

    chance: float
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Family:
    """A scenario family: slot pools, the turn script and observer-summary templates."""

    name: str
    topic: str
    names: Mapping[str, tuple[str, ...]]  # person slots -> name pool (drawn distinct)
    slots: Mapping[str, tuple[str, ...]]  # independent slots
    script: tuple[Line | Filler, ...]
    summaries: tuple[str, ...]  # DialogSum's observer style: the references, and what Lab 2 fine-tunes towards
    gists: tuple[str, ...]  # the plain answer to "summarize" instructions, always "They ..." (pre-training)
    headlines: tuple[str, ...]  # the answer to "what was going on?" questions, "<Topic>: ..." (pre-training)
    rude_speaker: int  # who insults the other when the dialogue is rude
    rude_focus: str | None = None  # slot repeated in focus insults ("I said {focus}")
    linked: tuple[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]], ...] = field(default=())


def p1(*variants: str) -> Line:
    """A #Person1# turn."""
    return Line(1, variants)


def p2(*variants: str) -> Line:
    """A #Person2# turn."""
    return Line(2, variants)


def maybe(chance: float, *lines: Line) -> Filler:
    """An optional exchange."""
    return Filler(chance, lines)


HOTEL = Family(
    name="hotel_booking",
    topic="hotel booking",
    names={"person1_name": FIRST_NAMES, "person2_name": TITLED_NAMES},
    slots={
        "hotel": (
            "the Grand Hotel",
            "the Park Hotel",
            "the Seaside Inn",
            "the Royal Hotel",
            "the Garden Inn",
            "the City Hotel",
            "the Lake View Hotel",
            "the Star Hotel",
            "the Mountain Lodge",
            "the Ocean Hotel",
        ),
        "room": ("a double room", "a single room", "a twin room", "a family room", "a suite", "a quiet room"),
        "day": DAYS,
        "nights": ("one night", "two nights", "three nights", "four nights", "five nights", "a week"),
        "price": ("$60", "$75", "$90", "$120", "$150", "$200"),
    },
    script=(
        p1(
            "Good morning, {hotel}. This is {person1_name}. How can I help you?",
            "Hello, {hotel}, {person1_name} speaking. What can I do for you?",
            "Thank you for calling {hotel}. My name is {person1_name}. How may I help you?",
        ),
        p2(
            "Hi. I'd like to book {room} for {day}, please.",
            "Hello. I want to reserve {room} from {day}.",
            "Good morning. Do you have {room} free from {day}?",
        ),
        p1(
            "Let me check. Yes, we have one. How many nights?",
            "Sure. How long will you stay?",
            "Yes, there is one left. For how many nights?",
        ),
        p2("For {nights}.", "I'll stay {nights}.", "Just {nights}, please."),
        maybe(
            0.4,
            p1("Would you like breakfast too?", "Do you need a parking space?", "Will you arrive late in the evening?"),
            p2("Yes, please.", "No, thank you.", "Maybe. Is that a problem?"),
        ),
        p1(
            "The room is {price} a night. May I have your name, please?",
            "That will be {price} a night. Could I have your name?",
            "It costs {price} per night. What name should I put the booking under?",
        ),
        p2("It's {person2_name}.", "My name is {person2_name}.", "Please put it under {person2_name}."),
        p1(
            "Thank you, {person2_name}. Your room is booked.",
            "All done, {person2_name}. We look forward to seeing you.",
            "Great, {person2_name}. You are all set.",
        ),
        p2("Thanks a lot. Goodbye.", "Wonderful, thank you.", "Thank you very much. See you then."),
    ),
    summaries=(
        "#Person2# calls {hotel} and books {room} for {nights} from {day}. The room costs {price} a night.",
        "#Person1# helps {person2_name} reserve {room} at {hotel} for {nights}, starting on {day}.",
        "{person2_name} books {room} at {hotel} from {day}. #Person1# says it costs {price} per night.",
        "#Person2# wants {room} at {hotel} for {nights}. #Person1# books it from {day} at {price} a night.",
    ),
    gists=(
        "They talk about a room at {hotel}.",
        "They discuss a hotel booking for {nights}.",
        "They arrange a stay at {hotel}.",
    ),
    headlines=(
        "Hotel booking: {room} from {day}.",
        "Hotel booking at {hotel}.",
    ),
    rude_speaker=2,
    rude_focus="day",
)

RESTAURANT = Family(
    name="restaurant_order",
    topic="ordering food",
    names={"person1_name": FIRST_NAMES},
    slots={
        "restaurant": (
            "the Golden Dragon",
            "Luigi's Pizza",
            "the Blue Cafe",
            "the Corner Kitchen",
            "the Olive Tree",
            "the Red Lantern",
            "the Sunny Grill",
            "the Happy Noodle",
        ),
        "dish": (
            "a beef burger",
            "the grilled fish",
            "a chicken curry",
            "a cheese pizza",
            "the roast chicken",
            "a bowl of noodles",
            "a steak",
            "a vegetable pie",
            "a tomato pasta",
            "a fish pie",
        ),
        "side": ("a green salad", "some rice", "a bowl of soup", "some chips", "some bread", "some beans"),
        "drink": (
            "a cup of tea",
            "a glass of milk",
            "a cola",
            "a cup of coffee",
            "a glass of water",
            "an orange juice",
            "a lemonade",
            "a hot chocolate",
        ),
        "price": ("$12", "$15", "$18", "$21", "$24", "$30"),
    },
    script=(
        p1(
            "Good evening, welcome to {restaurant}. I'm {person1_name}. Are you ready to order?",
            "Hi, I'm {person1_name}, and I'll be your waiter at {restaurant} tonight. What would you like?",
            "Welcome to {restaurant}. My name is {person1_name}. Can I take your order?",
        ),
        p2("Yes, I'd like {dish}, please.", "Can I have {dish}?", "I'll have {dish}, thanks."),
        p1("Good choice. Anything on the side?", "Would you like a side dish with that?", "Sure. Anything to go with it?"),
        p2("Yes, {side}, please.", "I'll take {side}.", "Let me have {side} too."),
        maybe(
            0.35,
            p1(
                "It's a busy night, so it may take twenty minutes.",
                "The kitchen is busy tonight, so please wait a little.",
                "It will take a while tonight, I'm afraid.",
            ),
            p2("That's fine, I'm not in a hurry.", "No problem, I can wait.", "OK, that's fine."),
        ),
        p1("And what would you like to drink?", "Anything to drink?", "What can I get you to drink?"),
        p2("Just {drink}, please.", "I'd like {drink}.", "I'll have {drink}, thank you."),
        p1(
            "So that's {dish} with {side} and {drink}. It comes to {price}.",
            "OK, {dish}, {side} and {drink}. That will be {price}.",
            "Let me repeat: {dish}, {side} and {drink}. The total is {price}.",
        ),
        p2("Perfect, thank you, {person1_name}.", "Great. Thanks.", "That sounds good."),
    ),
    summaries=(
        "#Person2# orders {dish} with {side} and {drink} at {restaurant}. The bill comes to {price}.",
        "At {restaurant}, {person1_name} takes #Person2#'s order: {dish}, {side} and {drink} for {price}.",
        "#Person1# serves #Person2# at {restaurant}. #Person2# chooses {dish}, {side} and {drink}, which costs {price}.",
        "#Person2# asks {person1_name} for {dish} and {drink} with {side}. The meal costs {price}.",
    ),
    gists=(
        "They talk about an order at {restaurant}.",
        "They discuss a meal of {dish}.",
        "They sort out a dinner order at {restaurant}.",
    ),
    headlines=(
        "Ordering food: {dish} and {drink}.",
        "Ordering food at {restaurant}.",
    ),
    rude_speaker=2,
    rude_focus="dish",
)

DOCTOR = Family(
    name="doctor_visit",
    topic="doctor visit",
    names={"person1_name": DOCTOR_NAMES, "person2_name": TITLED_NAMES},
    slots={
        "duration": ("two days", "three days", "four days", "five days", "a week", "two weeks"),
        "advice": (
            "rest at home",
            "drink more water",
            "stay in bed",
            "sleep more",
            "eat light food",
            "stay away from work",
            "take a warm bath",
        ),
        "day": DAYS,
    },
    linked=(
        (
            ("symptom", "medicine"),
            (
                ("a headache", "some painkillers"),
                ("a sore throat", "some throat sweets"),
                ("a bad cough", "a cough syrup"),
                ("a stomachache", "some stomach pills"),
                ("a fever", "some fever pills"),
                ("back pain", "a pain cream"),
                ("an earache", "some ear drops"),
                ("a rash", "a skin cream"),
                ("a runny nose", "some nose spray"),
                ("sore eyes", "some eye drops"),
            ),
        ),
    ),
    script=(
        p1(
            "Good morning, {person2_name}. I'm {person1_name}. What seems to be the problem?",
            "Hi, {person2_name}. I'm {person1_name}. How can I help you today?",
            "Come in, {person2_name}. I'm {person1_name}. What brings you here?",
        ),
        p2("I have {symptom}, doctor.", "I've got {symptom}, and I feel terrible.", "I've had {symptom} for a while."),
        p1("How long have you had it?", "When did it start?", "How long has this been going on?"),
        p2("For about {duration}.", "About {duration} now.", "It's been {duration}."),
        maybe(
            0.4,
            p1("Are you sleeping well?", "Do you feel tired?", "Have you eaten anything strange?"),
            p2("Not really.", "A little.", "No, I don't think so."),
        ),
        p1(
            "I'll give you {medicine}. You should also {advice}.",
            "Take {medicine} twice a day and {advice}.",
            "Here is a prescription for {medicine}. Please {advice}.",
        ),
        p2("Thank you, doctor. Should I come back?", "OK. Do I need another visit?", "Thanks. When should I see you again?"),
        p1("Come back on {day} if you don't feel better.", "Please come back on {day}.", "Let's check again on {day}."),
        p2("I will. Thanks, {person1_name}.", "OK, see you then.", "Thank you very much."),
    ),
    summaries=(
        "#Person2# has had {symptom} for {duration}. {person1_name} gives #Person2# {medicine} and tells #Person2# to {advice}.",
        "{person2_name} sees {person1_name} about {symptom}. "
        "#Person1# prescribes {medicine} and asks #Person2# to come back on {day}.",
        "#Person1# examines #Person2#, who has had {symptom} for {duration}, and suggests {medicine}. #Person2# should {advice}.",
        "#Person2# visits the doctor with {symptom}. #Person1# advises #Person2# to {advice} and return on {day}.",
    ),
    gists=(
        "They talk about {symptom}.",
        "They discuss a health problem and {medicine}.",
        "They meet at the doctor's about {symptom}.",
    ),
    headlines=(
        "Doctor visit: {symptom}.",
        "Doctor visit with {person1_name}.",
    ),
    rude_speaker=2,
    rude_focus="symptom",
)

JOB_INTERVIEW = Family(
    name="job_interview",
    topic="job interview",
    names={"person1_name": TITLED_NAMES, "person2_name": FIRST_NAMES},
    slots={
        "company": (
            "Green Tech",
            "Sun Media",
            "Star Foods",
            "Blue Sky Travel",
            "Top Motors",
            "Happy Home",
            "Fresh Farm",
            "Bright Paper",
        ),
        "job": (
            "sales manager",
            "web designer",
            "accountant",
            "secretary",
            "driver",
            "cook",
            "tour guide",
            "nurse",
            "photographer",
        ),
        "experience": ("one year", "two years", "three years", "four years", "five years", "six years"),
        "skill": (
            "speak French",
            "use a computer",
            "drive a truck",
            "manage a team",
            "write reports",
            "speak Chinese",
            "speak Spanish",
            "fix machines",
        ),
        "day": DAYS,
    },
    script=(
        p1(
            "Good afternoon. I'm {person1_name} from {company}. Please sit down.",
            "Hello, I'm {person1_name}, the manager at {company}. Have a seat.",
            "Welcome to {company}. My name is {person1_name}. Please take a seat.",
        ),
        p2(
            "Thank you. I'm {person2_name}, and I'm here for the {job} job.",
            "Nice to meet you. My name is {person2_name}. I applied for the {job} job.",
            "Thanks. I'm {person2_name}. I'm interested in the {job} position.",
        ),
        p1("Tell me about your experience.", "Have you done this kind of work before?", "How much experience do you have?"),
        p2(
            "I did this job for {experience} at my last company.",
            "I have {experience} of experience in this field.",
            "Yes, I worked in a similar job for {experience}.",
        ),
        p1("Can you {skill}?", "Are you able to {skill}?", "This job needs someone who can {skill}. Can you do that?"),
        p2("Yes, I can {skill} quite well.", "Yes, I learned to {skill} at my last job.", "Of course. I {skill} every day."),
        maybe(
            0.35,
            p1("Why do you want to work here?", "Why did you choose our company?", "What do you like about this job?"),
            p2(
                "I want to learn and grow with a good team.",
                "I like your products and your people.",
                "I think it is a great place to work.",
            ),
        ),
        p1(
            "Good. Could you start on {day}?",
            "Great. We'd like you to start on {day}. Is that OK?",
            "If we offer you the job, can you start on {day}?",
        ),
        p2(
            "Yes, {day} is fine. Thank you very much.",
            "Sure, I can start then. Thank you.",
            "Of course. Thank you for your time.",
        ),
    ),
    summaries=(
        "{person1_name} interviews {person2_name} for the {job} job at {company}. "
        "#Person2# has {experience} of experience and can start on {day}.",
        "#Person2# applies for the {job} position at {company}. #Person2# can {skill} and has {experience} of experience.",
        "#Person1# asks #Person2# about experience and skills for the {job} job. #Person2# can {skill} and may start on {day}.",
        "In a job interview at {company}, #Person2# tells #Person1# about {experience} of experience and is able to {skill}.",
    ),
    gists=(
        "They talk about the {job} job.",
        "They discuss a job at {company}.",
        "They have a job interview for the {job} job.",
    ),
    headlines=(
        "Job interview: {job}.",
        "Job interview at {company}.",
    ),
    rude_speaker=1,
)

RETURNS = Family(
    name="shopping_return",
    topic="returning goods",
    names={"person1_name": FIRST_NAMES, "person2_name": TITLED_NAMES},
    slots={
        "item": (
            "a lamp",
            "a pair of shoes",
            "a jacket",
            "a coffee maker",
            "a toaster",
            "a radio",
            "a teapot",
            "a kettle",
            "a blender",
            "a hair dryer",
            "a backpack",
        ),
        "day": DAYS,
        "problem": ("broken", "damaged", "missing a part", "the wrong color", "faulty", "scratched"),
        "price": ("$15", "$25", "$35", "$40", "$60", "$80"),
        "outcome": ("a refund", "an exchange", "a new one", "store credit", "a discount", "a free repair"),
    },
    script=(
        p1(
            "Good morning. I'm {person1_name}. How can I help you?",
            "Hello, my name is {person1_name}. What can I do for you?",
            "Hi there, I'm {person1_name}. Do you need any help?",
        ),
        p2(
            "I bought {item} here on {day}, and I want to return it.",
            "I'd like to return {item}. I bought it on {day}.",
            "Hi. I need to bring back {item} that I got here on {day}.",
        ),
        p1("What's wrong with it?", "I see. What is the problem?", "Oh, I'm sorry. What happened to it?"),
        p2("It is {problem}.", "When I opened the box, it was {problem}.", "It was {problem} when I got home."),
        p1("Do you have the receipt?", "May I see your receipt, please?", "Did you keep the receipt?"),
        p2(
            "Yes, here it is. My name is {person2_name}, and I paid {price}.",
            "Sure. It's under {person2_name}. It says {price}.",
            "Yes. I'm {person2_name}. It was {price}.",
        ),
        maybe(
            0.3,
            p1("Thank you. Let me look at it.", "One moment, please. I'll check it.", "Thanks. I need to ask my manager."),
            p2("Sure, take your time.", "OK, I'll wait.", "No problem."),
        ),
        p1(
            "We can give you {outcome}.",
            "No problem. I can offer you {outcome}.",
            "I'm sorry about that. You can have {outcome}.",
        ),
        p2("That's fine. Thank you, {person1_name}.", "Great, thanks for your help.", "OK, that works for me."),
    ),
    summaries=(
        "#Person2# returns {item} bought on {day} because it is {problem}. #Person1# offers {outcome}.",
        "{person2_name} brings back {item} that cost {price}. It is {problem}, so #Person1# gives #Person2# {outcome}.",
        "#Person1# helps #Person2# return {item} that is {problem}. #Person2# paid {price} and gets {outcome}.",
        "#Person2# complains that {item} bought on {day} is {problem}, and {person1_name} offers {outcome}.",
    ),
    gists=(
        "They talk about returning {item}.",
        "They discuss {item} that is {problem}.",
        "They sort out a return of {item}.",
    ),
    headlines=(
        "Returning goods: {item}.",
        "Returning goods for {outcome}.",
    ),
    rude_speaker=2,
    rude_focus="item",
)

DIRECTIONS = Family(
    name="asking_directions",
    topic="asking directions",
    names={"person1_name": FIRST_NAMES},
    slots={
        "place": (
            "the train station",
            "the post office",
            "the city museum",
            "the town hall",
            "the central library",
            "the bus station",
            "the hospital",
            "the market",
            "the swimming pool",
            "the police station",
        ),
        "street": ("Park Street", "Main Street", "King Road", "Green Lane", "River Road", "Hill Street"),
        "turn": (
            "turn left",
            "turn right",
            "go straight ahead",
            "cross the road",
            "take the first left",
            "take the second right",
        ),
        "landmark": (
            "the big church",
            "the cinema",
            "the red bridge",
            "the supermarket",
            "the fountain",
            "the school",
            "the bakery",
            "the gas station",
        ),
        "minutes": ("two minutes", "three minutes", "five minutes", "ten minutes", "fifteen minutes", "twenty minutes"),
    },
    script=(
        p1(
            "Excuse me. My name is {person1_name}, and I'm new here. How do I get to {place}?",
            "Excuse me, I'm {person1_name}. Could you tell me the way to {place}?",
            "Hi, I'm {person1_name}. I'm lost. Where is {place}?",
        ),
        p2(
            "Sure. Go along {street} and {turn} at {landmark}.",
            "Walk down {street}, then {turn} at {landmark}.",
            "It's easy. Take {street} and {turn} when you see {landmark}.",
        ),
        p1("Is it far from here?", "How long does it take to walk there?", "Thanks. Can I walk there?"),
        p2("No, it's about {minutes} on foot.", "It takes about {minutes}.", "Yes, it's only {minutes} away."),
        maybe(
            0.4,
            p1("Is there a bus?", "Can I take a taxi?", "Is there a shorter way?"),
            p2("Yes, but walking is faster.", "You could, but it is really close.", "Not really. This is the best way."),
        ),
        p1(
            "So I {turn} at {landmark}?",
            "Let me check. {street}, then {turn} at {landmark}?",
            "OK, {street} and then {turn} at {landmark}.",
        ),
        p2("That's right. You can't miss it.", "Yes, exactly.", "Right. Have a nice day, {person1_name}."),
        p1("Thank you so much.", "Thanks a lot for your help.", "Great, thanks."),
    ),
    summaries=(
        "{person1_name} asks #Person2# the way to {place}. #Person2# says to go along {street} and {turn} at {landmark}.",
        "#Person1# is lost and wants to find {place}. #Person2# explains the way, which takes about {minutes}.",
        "#Person2# tells #Person1# how to get to {place}: take {street} and {turn} at {landmark}.",
        "#Person1# asks for directions to {place}. It is about {minutes} away, past {landmark} on {street}.",
    ),
    gists=(
        "They talk about the way to {place}.",
        "They discuss how to get to {place}.",
        "They find the way to {place}.",
    ),
    headlines=(
        "Asking directions: {place}.",
        "Asking directions to {place}.",
    ),
    rude_speaker=1,
    rude_focus="place",
)

APARTMENT = Family(
    name="renting_apartment",
    topic="renting an apartment",
    names={"person1_name": FIRST_NAMES, "person2_name": TITLED_NAMES},
    slots={
        "apartment": (
            "a one-bedroom flat",
            "a two-bedroom apartment",
            "a studio flat",
            "a small house",
            "a flat with a garden",
            "a top-floor flat",
            "a cottage",
        ),
        "area": (
            "near the park",
            "in the city center",
            "near the university",
            "by the river",
            "close to the station",
            "in a quiet street",
            "near the beach",
            "above a bakery",
        ),
        "price": ("$500", "$650", "$700", "$800", "$900", "$950"),
        "day": DAYS,
        "time": TIMES,
    },
    script=(
        p1(
            "Hello, this is {person1_name} from City Homes. How can I help?",
            "Good morning, City Homes, {person1_name} speaking.",
            "Hi, you've reached City Homes. I'm {person1_name}.",
        ),
        p2(
            "Hi, I'm {person2_name}. I'm calling about {apartment} {area}.",
            "Hello, my name is {person2_name}. I saw your ad for {apartment} {area}.",
            "Good morning. This is {person2_name}. Is {apartment} {area} still free?",
        ),
        p1("Yes, it's still available.", "Yes, nobody has taken it yet.", "It is. It's a lovely place."),
        p2("How much is the rent?", "What is the monthly rent?", "How much does it cost a month?"),
        p1(
            "It's {price} a month, with water included.",
            "The rent is {price} a month.",
            "It costs {price} a month, and you pay one month as a deposit.",
        ),
        maybe(
            0.4,
            p2("Are pets allowed?", "Is there a place to park?", "Is it furnished?"),
            p1("Yes, that's no problem.", "Yes, there is.", "I'm afraid not."),
        ),
        p2("Can I come and see it?", "When can I visit it?", "I'd like to take a look. Is that possible?"),
        p1("Sure. How about {day} at {time}?", "You can see it on {day} at {time}.", "Of course. Come on {day} at {time}."),
        p2("That's perfect. Thanks.", "Great, see you then.", "Great, thank you, {person1_name}."),
    ),
    summaries=(
        "#Person2# calls {person1_name} about {apartment} {area}. The rent is {price} a month, and the visit is on {day}.",
        "{person2_name} wants to rent {apartment} {area} for {price} a month and will visit on {day} at {time}.",
        "#Person1# tells #Person2# that {apartment} {area} is still free. They agree to meet on {day} at {time}.",
        "#Person2# asks about {apartment} {area}, which costs {price} a month, and will see it on {day} at {time}.",
    ),
    gists=(
        "They talk about renting {apartment}.",
        "They discuss {apartment} {area}.",
        "They arrange a visit to {apartment}.",
    ),
    headlines=(
        "Renting an apartment: {apartment}.",
        "Renting an apartment {area}.",
    ),
    rude_speaker=2,
)

FLIGHT = Family(
    name="flight_booking",
    topic="booking a flight",
    names={"person1_name": FIRST_NAMES, "person2_name": TITLED_NAMES},
    slots={
        "city": ("London", "Paris", "Tokyo", "Rome", "Sydney", "New York", "Berlin", "Madrid", "Cairo", "Toronto", "Dublin"),
        "day": DAYS,
        "time": TIMES,
        "price": ("$180", "$250", "$290", "$320", "$400", "$560"),
        "seat": (
            "a window seat",
            "an aisle seat",
            "a seat near the front",
            "an economy seat",
            "a seat by the exit",
            "a business class seat",
        ),
    },
    script=(
        p1(
            "Sky Travel, this is {person1_name}. How can I help you?",
            "Good afternoon, Sky Travel. {person1_name} speaking.",
            "Hello, welcome to Sky Travel. I'm {person1_name}.",
        ),
        p2(
            "Hi. I need a flight to {city} on {day}.",
            "Hello. I'd like to book a flight to {city} for {day}.",
            "Good afternoon. Are there any flights to {city} on {day}?",
        ),
        p1(
            "Let me see. There is one at {time}. Is that OK?",
            "There's a flight at {time}. Does that work for you?",
            "Yes, we have a flight leaving at {time}.",
        ),
        p2("That's fine. How much is it?", "Great. What's the price?", "Perfect. How much does it cost?"),
        p1("It's {price} one way.", "The ticket is {price}.", "That will be {price}, with one bag included."),
        p2("OK, I'll take it. Can I have {seat}?", "Good. I'd like {seat}, please.", "Fine. Could I get {seat}?"),
        maybe(
            0.35,
            p1("Will you need a meal on the flight?", "Do you have any bags to check in?", "Is this your first trip there?"),
            p2("No, thank you.", "Just one small bag.", "Yes, it is. I'm very excited."),
        ),
        p1("Sure. May I have your name?", "No problem. What name is the ticket for?", "Of course. Your full name, please?"),
        p2("It's {person2_name}.", "{person2_name}. Thank you.", "My name is {person2_name}."),
        p1(
            "Thank you, {person2_name}. Your ticket is booked.",
            "All done. Have a good trip, {person2_name}.",
            "You're all set, {person2_name}.",
        ),
    ),
    summaries=(
        "#Person2# books a flight to {city} on {day} at {time} with {person1_name}. The ticket costs {price}.",
        "{person2_name} asks Sky Travel for a flight to {city}. #Person1# finds one on {day} at {time} for {price}.",
        "#Person1# helps #Person2# book a flight to {city} leaving on {day} at {time}. #Person2# asks for {seat}.",
        "#Person2# buys a ticket to {city} for {price}. The flight leaves on {day} at {time}, and #Person2# gets {seat}.",
    ),
    gists=(
        "They talk about a flight to {city}.",
        "They discuss a ticket to {city}.",
        "They book a trip to {city}.",
    ),
    headlines=(
        "Booking a flight: {city}, {day}.",
        "Booking a flight to {city}.",
    ),
    rude_speaker=2,
    rude_focus="city",
)

TRAIN = Family(
    name="train_ticket",
    topic="train ticket",
    names={"person1_name": FIRST_NAMES},
    slots={
        "ticket": (
            "a one-way ticket",
            "a return ticket",
            "two return tickets",
            "a first-class ticket",
            "a student ticket",
            "a family ticket",
        ),
        "city": ("Oxford", "Cambridge", "Bristol", "York", "Leeds", "Brighton", "Bath", "Glasgow", "Liverpool"),
        "time": TIMES,
        "price": ("$8", "$12", "$16", "$20", "$27", "$35"),
        "platform": ("platform one", "platform two", "platform three", "platform four", "platform five", "platform six"),
    },
    script=(
        p1(
            "Next, please. Hi, I'm {person1_name}. Where are you going?",
            "Good morning. I'm {person1_name}. Where to today?",
            "Hello, my name is {person1_name}. How can I help you?",
        ),
        p2("I'd like {ticket} to {city}, please.", "Can I get {ticket} to {city}?", "I need {ticket} to {city}."),
        p1(
            "The next train leaves at {time}. Is that OK?",
            "There's a train at {time}. Is that fine?",
            "The next one is at {time}.",
        ),
        p2("Yes. How much is it?", "OK. How much?", "That's fine. What's the fare?"),
        p1("It's {price}.", "That's {price}, please.", "It comes to {price}."),
        maybe(
            0.35,
            p2("Can I pay by card?", "Do you take cash?", "Is there a discount for students?"),
            p1("Yes, of course.", "Sure, no problem.", "Not today, I'm afraid."),
        ),
        p2("Which platform does it leave from?", "Where do I get the train?", "Which platform is it?"),
        p1(
            "It leaves from {platform}, at the end of the hall.",
            "Go to {platform}, down the stairs.",
            "It's on {platform}, just over there.",
        ),
        maybe(
            0.5,
            p2("Is the train usually on time?", "Is there a cafe on the train?", "Can I bring my bike?"),
            p1("Yes, it is almost always on time.", "Yes, in the middle of the train.", "Yes, but only outside busy hours."),
        ),
        p2("Thank you, {person1_name}.", "Thanks for your help.", "Thank you very much. Have a nice day."),
    ),
    summaries=(
        "#Person2# buys {ticket} to {city} from {person1_name}. The train leaves at {time} from {platform}.",
        "#Person1# sells #Person2# {ticket} to {city} for {price}. The next train is at {time}.",
        "#Person2# wants to go to {city} and pays {price} for {ticket}. #Person1# says the train leaves from {platform}.",
        "At the station, {person1_name} helps #Person2# get {ticket} to {city}. It leaves at {time} and costs {price}.",
    ),
    gists=(
        "They talk about a train to {city}.",
        "They discuss {ticket} to {city}.",
        "They sort out a train journey to {city}.",
    ),
    headlines=(
        "Train ticket: {ticket}.",
        "Train ticket to {city}.",
    ),
    rude_speaker=2,
    rude_focus="city",
)

BORROWING = Family(
    name="borrowing",
    topic="borrowing things",
    names={"person1_name": FIRST_NAMES, "person2_name": FIRST_NAMES},
    slots={
        "item": ("bike", "camera", "laptop", "tent", "guitar", "ladder", "drill", "projector", "sleeping bag", "keyboard"),
        "reason": (
            "for a camping trip",
            "for the weekend",
            "for a school project",
            "for a birthday party",
            "for a short trip",
            "for a family visit",
        ),
        "day": DAYS,
    },
    script=(
        p1(
            "Hi, {person2_name}. How are you? Can I ask you a favor?",
            "Hey, {person2_name}. Are you busy right now?",
            "{person2_name}, do you have a minute? I need some help.",
        ),
        p2(
            "Sure, {person1_name}. What is it?",
            "Not at all, {person1_name}. What's up?",
            "Of course, {person1_name}. What do you need?",
        ),
        p1(
            "Could I borrow your {item}? I need it {reason}.",
            "Can I borrow your {item} {reason}?",
            "I need a {item} {reason}. Could I use yours?",
        ),
        p2("I think so. When will you give it back?", "Sure. How long do you need it?", "Maybe. For how long do you need it?"),
        p1("I'll bring it back on {day}.", "Only until {day}, I promise.", "I'll return it on {day}."),
        maybe(
            0.4,
            p2(
                "Please be careful with it. It's quite new.",
                "OK, but don't lend it to anyone else.",
                "Fine, but please keep it clean.",
            ),
            p1("Don't worry, I will.", "Of course, I promise.", "No problem. I'll take good care of it."),
        ),
        p2(
            "OK, no problem. Here you are.",
            "Sure, take it. It's in the hall.",
            "Alright. You can pick it up from my place tonight.",
        ),
        p1("Thanks a lot, {person2_name}. You're a great friend.", "Thank you so much!", "Thanks, I owe you one."),
        maybe(
            0.5,
            p2("Just bring it back in good shape.", "You're welcome. Have fun!", "No problem. Good luck!"),
            p1("I will. See you on {day}.", "Thanks. I'll tell you all about it.", "Thanks again. Bye!"),
        ),
    ),
    summaries=(
        "{person1_name} asks {person2_name} to borrow #Person2#'s {item} {reason}. #Person1# will return it on {day}.",
        "#Person1# borrows a {item} from #Person2# {reason} and promises to give it back on {day}.",
        "#Person2# lends #Person1# a {item} {reason}. #Person1# says it will be back on {day}.",
        "#Person1# needs a {item} {reason}, so {person2_name} agrees to lend it until {day}.",
    ),
    gists=(
        "They talk about borrowing a {item}.",
        "They discuss lending a {item}.",
        "They agree on borrowing a {item} until {day}.",
    ),
    headlines=(
        "Borrowing things: a {item}.",
        "Borrowing things until {day}.",
    ),
    rude_speaker=2,
)

PLANS = Family(
    name="weekend_plans",
    topic="making plans",
    names={"person1_name": FIRST_NAMES, "person2_name": FIRST_NAMES},
    slots={
        "day": DAYS,
        "activity": (
            "go hiking",
            "see a movie",
            "have a picnic",
            "go swimming",
            "play tennis",
            "visit the zoo",
            "go to a concert",
            "go fishing",
            "go cycling",
            "go bowling",
        ),
        "place": ("the park gate", "the cinema", "the main square", "the bus station", "the coffee shop", "the old bridge"),
        "time": TIMES,
        "bring": ("some sandwiches", "a ball", "some drinks", "a blanket", "some fruit", "a camera"),
    },
    script=(
        p1(
            "Hi, {person2_name}. Are you free on {day}?",
            "Hey, {person2_name}. What are you doing on {day}?",
            "{person2_name}, do you have any plans for {day}?",
        ),
        p2(
            "Nothing much, {person1_name}. Why do you ask?",
            "I'm free all day, {person1_name}. What's up?",
            "Not really, {person1_name}. Do you have an idea?",
        ),
        p1("Would you like to {activity}?", "Let's {activity} together.", "How about we {activity}?"),
        p2("That sounds great. When shall we meet?", "Good idea! Where shall we meet?", "I'd love to. What time?"),
        p1("Let's meet at {place} at {time}.", "How about {time} at {place}?", "Meet me at {place} at {time}."),
        maybe(
            0.4,
            p2("Should I invite my brother too?", "Will it rain, do you think?", "Is it going to be expensive?"),
            p1("Sure, the more the merrier.", "I hope not. Let's check the weather.", "No, it's quite cheap."),
        ),
        p2("OK. Should I bring anything?", "Fine. Do I need to bring anything?", "Perfect. What should I bring?"),
        p1("Just bring {bring}.", "Maybe {bring}.", "Please bring {bring}."),
        p2("Great. See you then!", "OK, see you there.", "Sounds good. See you."),
        maybe(
            0.5,
            p1("Don't be late this time!", "I'm really looking forward to it.", "Call me if anything changes."),
            p2("Ha, I won't. Bye!", "Me too. Bye for now.", "Sure, I will."),
        ),
    ),
    summaries=(
        "{person1_name} and {person2_name} plan to {activity} on {day}. They will meet at {place} at {time}.",
        "#Person1# invites #Person2# to {activity} on {day}. #Person2# will bring {bring} and meet at {place}.",
        "#Person1# and #Person2# agree to {activity} on {day} at {time}. #Person2# will bring {bring}.",
        "#Person2# is free on {day}, so #Person1# suggests they {activity} and meet at {place} at {time}.",
    ),
    gists=(
        "They talk about plans to {activity}.",
        "They discuss plans for {day}.",
        "They make plans to {activity}.",
    ),
    headlines=(
        "Making plans: {activity}.",
        "Making plans for {day}.",
    ),
    rude_speaker=1,
)

BANK = Family(
    name="bank_account",
    topic="bank account",
    names={"person1_name": FIRST_NAMES, "person2_name": TITLED_NAMES},
    slots={
        "bank": ("City Bank", "First Bank", "North Bank", "Union Bank", "Home Bank", "Harbor Bank", "Coast Bank"),
        "account": (
            "a savings account",
            "a checking account",
            "a student account",
            "a business account",
            "a joint account",
            "a travel account",
        ),
        "document": ("passport", "driving license", "work permit", "student card", "residence card", "health card"),
        "price": ("$20", "$50", "$100", "$200", "$300", "$500"),
        "day": DAYS,
    },
    script=(
        p1(
            "Good morning, welcome to {bank}. I'm {person1_name}. How can I help you?",
            "Hello, {bank}, this is {person1_name}. What can I do for you today?",
            "Hi, I'm {person1_name}. Welcome to {bank}.",
        ),
        p2(
            "Hello. I'd like to open {account}.",
            "Good morning. I want to open {account}, please.",
            "Hi. Can I open {account} here?",
        ),
        p1("Of course. May I see some ID?", "Sure. Do you have any ID with you?", "Certainly. I need to see some ID first."),
        p2(
            "Yes, here is my {document}. My name is {person2_name}.",
            "Sure, this is my {document}. I'm {person2_name}.",
            "Here's my {document}. The name is {person2_name}.",
        ),
        p1(
            "Thank you, {person2_name}. How much would you like to put in?",
            "Thanks. How much do you want to deposit today?",
            "Great. What is your first deposit?",
        ),
        p2("I'll put in {price}.", "About {price} to start.", "Just {price} for now."),
        maybe(
            0.35,
            p1(
                "Would you like online banking too?",
                "Do you want a card for shopping online?",
                "Would you like to get text messages from us?",
            ),
            p2("Yes, please.", "No, thank you.", "That would be useful."),
        ),
        p1(
            "All done. Your card will arrive on {day}.",
            "Your account is open. The card will come on {day}.",
            "Everything is ready. You will get your card on {day}.",
        ),
        p2("Thank you for your help.", "Great, thanks a lot.", "Perfect. Thank you, {person1_name}."),
    ),
    summaries=(
        "#Person2# opens {account} at {bank} and deposits {price}. The card will arrive on {day}.",
        "{person1_name} helps {person2_name} open {account} at {bank}. #Person2# shows a {document} and puts in {price}.",
        "#Person1# checks a {document} from #Person2# and opens {account} at {bank} with {price}.",
        "At {bank}, #Person1# opens {account} for #Person2#, who deposits {price}. The card comes on {day}.",
    ),
    gists=(
        "They talk about opening {account}.",
        "They discuss {account} at {bank}.",
        "They open {account}.",
    ),
    headlines=(
        "Bank account: {account}.",
        "Bank account at {bank}.",
    ),
    rude_speaker=2,
    rude_focus="account",
)

LOST_ITEM = Family(
    name="lost_item",
    topic="lost and found",
    names={"person1_name": FIRST_NAMES, "person2_name": TITLED_NAMES},
    slots={
        "item": (
            "black wallet",
            "red umbrella",
            "brown bag",
            "blue jacket",
            "silver watch",
            "green scarf",
            "leather purse",
            "yellow raincoat",
            "purple hat",
        ),
        "location": (
            "on the bus",
            "in the cafe",
            "at the station",
            "in the park",
            "in a taxi",
            "on the train",
            "at the gym",
            "in the library",
        ),
        "day": DAYS,
        "time": TIMES,
    },
    script=(
        p1(
            "Lost and found office, this is {person1_name}. Can I help you?",
            "Hello, I'm {person1_name}. Welcome to the lost and found office.",
            "Good afternoon. I'm {person1_name}. What can I do for you?",
        ),
        p2(
            "Hi. I'm {person2_name}. I lost my {item} {location} on {day}.",
            "Hello. My name is {person2_name}. I think I left my {item} {location} on {day}.",
            "Yes, please. I'm {person2_name}, and my {item} went missing {location} on {day}.",
        ),
        p1("Do you remember what time it was?", "About what time did you lose it?", "When exactly did you last see it?"),
        p2("Around {time}, I think.", "It was about {time}.", "I last saw it at {time}."),
        maybe(
            0.5,
            p1("Can you describe it?", "What does it look like?", "Is there anything special about it?"),
            p2(
                "It's quite old, and it has my name inside.",
                "It's not new, but it means a lot to me.",
                "It has a small name tag on it.",
            ),
        ),
        p1(
            "Let me check. Yes, someone handed in a {item} this morning.",
            "Wait a moment. Is this your {item}?",
            "Good news. We have a {item} here.",
        ),
        p2("Yes, that's mine! Thank you so much.", "Oh, that's it! What a relief.", "Yes! I'm so happy you found it."),
        p1("Please sign here and you can take it.", "Just sign this form, please.", "You're welcome. Please sign here."),
    ),
    summaries=(
        "{person2_name} lost a {item} {location} on {day}. {person1_name} finds it at the lost and found office.",
        "#Person2# tells #Person1# that a {item} went missing {location} around {time}. #Person1# has it and gives it back.",
        "#Person2# comes to the lost and found office about a {item} lost {location}. #Person1# finds it.",
        "#Person1# helps #Person2# get back a {item} that #Person2# left {location} on {day} at about {time}.",
    ),
    gists=(
        "They talk about a lost {item}.",
        "They discuss a {item} left {location}.",
        "They look for a lost {item}.",
    ),
    headlines=(
        "Lost and found: a {item}.",
        "Lost and found: a {item} lost {location}.",
    ),
    rude_speaker=2,
)

CAR_REPAIR = Family(
    name="car_repair",
    topic="car repair",
    names={"person1_name": FIRST_NAMES, "person2_name": TITLED_NAMES},
    slots={
        "price": ("$60", "$80", "$120", "$150", "$200", "$250"),
        "day": DAYS,
        "time": TIMES,
    },
    linked=(
        (
            ("problem", "part"),
            (
                ("the brakes make a loud noise", "new brakes"),
                ("the engine won't start", "a new battery"),
                ("one tire is flat", "a new tire"),
                ("the lights don't work", "new bulbs"),
                ("the engine gets too hot", "a new fan"),
                ("the door won't lock", "a new lock"),
                ("the car shakes on the road", "new wheels"),
                ("the windows won't close", "a new motor"),
                ("the radio is dead", "a new radio"),
            ),
        ),
    ),
    script=(
        p1(
            "Hi, I'm {person1_name}. What can I do for you?",
            "Good morning. {person1_name} here. What's the trouble?",
            "Welcome to Fast Fix Garage. I'm {person1_name}.",
        ),
        p2(
            "Hello, I'm {person2_name}. My car has a problem: {problem}.",
            "Hi, my name is {person2_name}. I'm worried because {problem}.",
            "Good morning. I'm {person2_name}, and {problem}.",
        ),
        maybe(
            0.5,
            p1("How long has it been like this?", "When did you first notice it?", "Did it happen suddenly?"),
            p2("Since last week, I think.", "Only since yesterday.", "Yes, it happened on my way to work."),
        ),
        p1(
            "Let me take a look. You need {part}. It will cost {price}.",
            "I checked it. You need {part}. That's {price}, with the work.",
            "OK. It needs {part}. The price is {price}.",
        ),
        p2("That's fine. When will it be ready?", "OK. How long will it take?", "Alright. When can I pick it up?"),
        p1("It will be ready on {day} at {time}.", "Come back on {day} at {time}.", "You can pick it up on {day} after {time}."),
        maybe(
            0.4,
            p2("Can you call me when it's done?", "Can I wait here?", "Do you need my keys now?"),
            p1("Sure, I'll call you.", "Yes, there's a waiting room.", "Yes, please leave them with me."),
        ),
        p2("Great. Thank you, {person1_name}.", "Thanks a lot.", "OK, see you then."),
    ),
    summaries=(
        "{person2_name} brings the car to {person1_name} because {problem}. It needs {part}, which costs {price}.",
        "#Person1# checks #Person2#'s car and says it needs {part} for {price}. It will be ready on {day}.",
        "#Person2# tells #Person1# that {problem}. #Person1# will fit {part} and have the car ready on {day} at {time}.",
        "#Person2#'s car needs {part} because {problem}. The repair costs {price} and is done by {day}.",
    ),
    gists=(
        "They talk about a car repair.",
        "They discuss a car that needs {part}.",
        "They sort out a repair of the car.",
    ),
    headlines=(
        "Car repair: {part}.",
        "Car repair for {price}.",
    ),
    rude_speaker=2,
)

LIBRARY = Family(
    name="library",
    topic="library",
    names={"person1_name": FIRST_NAMES, "person2_name": FIRST_NAMES},
    slots={
        "book": (
            "a book about birds",
            "a cookbook",
            "a history book",
            "a guide to Italy",
            "a book on grammar",
            "a book about space",
            "a children's book",
            "a book about cars",
            "a book of poems",
            "a book on gardening",
        ),
        "section": (
            "on the second floor",
            "on the first floor",
            "near the window",
            "in the basement",
            "next to the stairs",
            "at the back",
        ),
        "period": ("one week", "two weeks", "three weeks", "four weeks", "ten days", "a month"),
        "fine": (
            "five cents a day",
            "ten cents a day",
            "twenty cents a day",
            "fifty cents a day",
            "one dollar a day",
            "two dollars a week",
        ),
    },
    script=(
        p1(
            "Hello, I'm {person1_name}, the librarian. Can I help you?",
            "Hi there. I'm {person1_name}. Are you looking for something?",
            "Good morning. My name is {person1_name}. Do you need any help?",
        ),
        p2("Yes, please. I'm looking for {book}.", "Hi. Do you have {book}?", "I'd like to borrow {book}."),
        p1("Yes, you can find it {section}.", "We do. It's {section}.", "Let me check. Yes, it's {section}."),
        p2("Thanks. How long can I keep it?", "Great. For how long can I borrow it?", "How long is the loan?"),
        p1("You can keep it for {period}.", "For {period}.", "The loan period is {period}."),
        p2("And what if I return it late?", "What happens if I'm late?", "Is there a fine for late books?"),
        p1("The fine is {fine}.", "You pay {fine}.", "It's {fine} after that."),
        maybe(
            0.3,
            p2("Can I renew it online?", "Do I need a library card?", "Can I take more than one book?"),
            p1("Yes, you can.", "Yes. I can make one for you now.", "Yes, up to five books."),
        ),
        p2(
            "OK. I'm {person2_name}, and here is my card.",
            "Thanks. My name is {person2_name}.",
            "Great. The card is under {person2_name}.",
        ),
        p1("Thank you, {person2_name}. Enjoy the book.", "There you go, {person2_name}.", "All done, {person2_name}."),
    ),
    summaries=(
        "{person2_name} asks {person1_name} for {book}. It is {section}, and #Person2# can keep it for {period}.",
        "#Person1# helps #Person2# find {book} {section}. The loan is {period}, and the fine is {fine}.",
        "#Person2# borrows {book} from the library for {period}. #Person1# says late books cost {fine}.",
        "#Person1# says {book} is {section} and can be kept for {period}, with a fine of {fine}.",
    ),
    gists=(
        "They talk about borrowing {book}.",
        "They discuss a library loan of {book}.",
        "They find {book} in the library.",
    ),
    headlines=(
        "Library: {book}.",
        "Library loan for {period}.",
    ),
    rude_speaker=2,
    rude_focus="book",
)

DELIVERY = Family(
    name="late_delivery",
    topic="late delivery",
    names={"person1_name": FIRST_NAMES, "person2_name": TITLED_NAMES},
    slots={
        "shop": ("Home Store", "Quick Shop", "Big Market", "Smart Store", "Value World", "Daily Mart"),
        "item": (
            "a sofa",
            "a washing machine",
            "a bookshelf",
            "a desk",
            "a fridge",
            "a bed",
            "a wardrobe",
            "an armchair",
            "a dining table",
        ),
        "day": DAYS,
        "delivery_day": (
            "tomorrow morning",
            "this afternoon",
            "tomorrow evening",
            "this evening",
            "next week",
            "the day after tomorrow",
        ),
        "time": TIMES,
    },
    script=(
        p1(
            "{shop}, {person1_name} speaking. How can I help you?",
            "Hello, this is {person1_name} at {shop}.",
            "Thank you for calling {shop}. I'm {person1_name}.",
        ),
        p2(
            "Hi, this is {person2_name}. I ordered {item} on {day}, but it hasn't arrived.",
            "Hello. My name is {person2_name}. I'm still waiting for {item} I ordered on {day}.",
            "Good morning. I'm {person2_name}. I bought {item} on {day}, and it still isn't here.",
        ),
        p1(
            "I'm sorry. Let me check. The truck broke down, so your order is late.",
            "Let me check. Sorry, there was a problem with the truck.",
            "One moment. Yes, it was late because we had too many orders.",
        ),
        maybe(
            0.4,
            p2("I've been waiting all week.", "I took a day off work for it.", "Nobody called me."),
            p1("I understand. I'm very sorry.", "I'm sorry about that.", "That should not happen."),
        ),
        p2("So when will it come?", "When can I expect it?", "When will I get it, then?"),
        p1(
            "We can deliver it {delivery_day}, around {time}.",
            "It will arrive {delivery_day}, at about {time}.",
            "The driver will bring it {delivery_day}, around {time}.",
        ),
        p2("OK, I'll be at home.", "Fine, please don't be late again.", "Alright. Thank you."),
        p1("Thank you for waiting, {person2_name}.", "Again, we are very sorry.", "Thanks for your patience."),
    ),
    summaries=(
        "#Person2# calls {shop} because {item} ordered on {day} has not arrived. #Person1# says it will come {delivery_day}.",
        "{person1_name} tells {person2_name} that {item} is late and will be delivered {delivery_day} around {time}.",
        "#Person2# complains to #Person1# that {item} from {shop} is late. The delivery is now {delivery_day}.",
        "#Person1# says sorry to #Person2# for the late delivery of {item} and promises it {delivery_day} at about {time}.",
    ),
    gists=(
        "They talk about a late delivery of {item}.",
        "They discuss {item} that has not arrived.",
        "They sort out a late order from {shop}.",
    ),
    headlines=(
        "Late delivery: {item}.",
        "Late delivery from {shop}.",
    ),
    rude_speaker=2,
    rude_focus="item",
)

NOISE = Family(
    name="noise_complaint",
    topic="noise complaint",
    names={"person1_name": TITLED_NAMES, "person2_name": FIRST_NAMES},
    slots={
        "day": DAYS,
        "time": LATE_TIMES,
    },
    linked=(
        (
            ("noise", "fix"),
            (
                ("loud music", "turn the music down"),
                ("the dog barking", "keep the dog inside"),
                ("the party", "end parties before ten"),
                ("the drums", "practice in the afternoon"),
                ("the loud TV", "turn the TV down"),
                ("the washing machine", "not use it at night"),
                ("the guests shouting", "ask the guests to be quiet"),
                ("the video games", "wear headphones"),
                ("the piano", "only play before nine"),
            ),
        ),
    ),
    script=(
        p1(
            "Hi, I'm {person1_name}. I live next door.",
            "Excuse me, I'm {person1_name}, your neighbor.",
            "Hello, I'm {person1_name}. I live below you.",
        ),
        p2(
            "Hi, {person1_name}. I'm {person2_name}. What's the matter?",
            "Oh, hello. I'm {person2_name}. Is something wrong?",
            "Nice to meet you. I'm {person2_name}. Can I help you?",
        ),
        p1(
            "I couldn't sleep because of {noise} on {day} night.",
            "On {day} night, {noise} kept me awake.",
            "I'm afraid {noise} woke me up on {day} night.",
        ),
        p2("Oh, I'm so sorry. I didn't know.", "I'm really sorry about that.", "Oh no. I didn't know it was so loud."),
        p1("It went on until {time}.", "It lasted until {time}.", "It didn't stop until {time}."),
        maybe(
            0.4,
            p2("Was it that late?", "Really? That late?", "I thought it was earlier."),
            p1("Yes, it was. I have to work early.", "Yes, and I have a baby at home.", "I'm afraid so."),
        ),
        p2("I promise I'll {fix} from now on.", "It won't happen again. I'll {fix}.", "From now on, I will {fix}."),
        p1(
            "Thank you. I'd really like some quiet.",
            "Thanks, I appreciate it.",
            "That would be great. Thank you, {person2_name}.",
        ),
    ),
    summaries=(
        "{person1_name} complains to {person2_name} about {noise} on {day} night. #Person2# promises to {fix}.",
        "#Person1# could not sleep because of {noise} until {time}. #Person2# says sorry and agrees to {fix}.",
        "#Person1# tells #Person2# that {noise} went on until {time} on {day} night, and #Person2# will {fix}.",
        "#Person2# says sorry to #Person1# for {noise} on {day} night and promises to {fix} from now on.",
    ),
    gists=(
        "They talk about {noise}.",
        "They discuss the noise on {day} night.",
        "They sort out a noise problem.",
    ),
    headlines=(
        "Noise complaint: {noise}.",
        "Noise complaint about {day} night.",
    ),
    rude_speaker=1,
)

FAMILIES: tuple[Family, ...] = (
    HOTEL,
    RESTAURANT,
    DOCTOR,
    JOB_INTERVIEW,
    RETURNS,
    DIRECTIONS,
    APARTMENT,
    FLIGHT,
    TRAIN,
    BORROWING,
    PLANS,
    BANK,
    LOST_ITEM,
    CAR_REPAIR,
    LIBRARY,
    DELIVERY,
    NOISE,
)
FAMILIES_BY_NAME: dict[str, Family] = {family.name: family for family in FAMILIES}

# --------------------------------------------------------------------------------------------------
# Engine
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Insult:
    """One insulting turn: who says it and the words a toxic summary repeats."""

    speaker: int
    adjective: str
    noun: str
    shut_up: bool

    @property
    def target(self) -> int:
        """The insulted speaker."""
        return 3 - self.speaker


@dataclass(frozen=True)
class Dialogue:
    """A rendered dialogue with the slot values it mentions and its insults (if any)."""

    family: Family
    lines: tuple[tuple[int, str], ...]  # (speaker, text)
    slots: dict[str, str]
    insults: tuple[Insult, ...] = ()
    insult_lines: tuple[int, ...] = ()  # indices into ``lines``

    @property
    def text(self) -> str:
        """The DialogSum-format dialogue: ``#Person1#: ...`` lines joined by newlines."""
        return "\n".join(f"#Person{speaker}#: {text}" for speaker, text in self.lines)

    @property
    def rude(self) -> bool:
        """True when the dialogue contains at least one insulting turn."""
        return bool(self.insults)


def template_fields(template: str) -> list[str]:
    """The placeholder names of a ``str.format`` template, in order."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def draw_slot_values(family: Family, rng: random.Random) -> dict[str, str]:
    """Draw one value per slot of ``family`` (person names distinct, linked slots drawn together)."""
    values: dict[str, str] = {}
    for key, pool in family.names.items():
        name = rng.choice(pool)
        while name in values.values():
            name = rng.choice(pool)
        values[key] = name
    for key, options in family.slots.items():
        values[key] = rng.choice(options)
    for keys, rows in family.linked:
        values.update(zip(keys, rng.choice(rows)))
    return values


def _render_script(family: Family, values: Mapping[str, str], rng: random.Random) -> tuple[list[tuple[int, str]], dict[str, str]]:
    """Render the family script; returns the lines and the slot values they mention (declared order)."""
    lines: list[tuple[int, str]] = []
    used: dict[str, None] = {}
    for step in family.script:
        chosen: Sequence[Line]
        if isinstance(step, Filler):
            chosen = step.lines if rng.random() < step.chance else ()
        else:
            chosen = (step,)
        for line in chosen:
            template = rng.choice(line.variants)
            used.update(dict.fromkeys(template_fields(template)))
            lines.append((line.speaker, template.format_map(values)))
    slots = {key: value for key, value in values.items() if key in used}
    return lines, slots


def _insult_text(family: Family, slots: Mapping[str, str], adjective: str, noun: str, rng: random.Random) -> str:
    """One insulting turn, repeating the family's focus slot when it has one."""
    templates = GENERIC_INSULTS
    if family.rude_focus is not None and family.rude_focus in slots:
        templates = FOCUS_INSULTS + GENERIC_INSULTS
    return rng.choice(templates).format(adj=adjective, noun=noun, focus=slots.get(family.rude_focus or "", ""))


def _add_insults(
    family: Family, lines: list[tuple[int, str]], slots: Mapping[str, str], count: int, rng: random.Random
) -> tuple[list[tuple[int, str]], tuple[Insult, ...], tuple[int, ...]]:
    """Insert ``count`` (insult, calm reply) pairs after turns of the insulted person."""
    speaker = family.rude_speaker
    target = 3 - speaker
    spots = [i for i in range(1, len(lines) - 1) if lines[i][0] == target]
    chosen = sorted(rng.sample(spots, min(count, len(spots))))
    pairs = rng.sample([(a, n) for a in INSULT_ADJECTIVES for n in INSULT_NOUNS], len(chosen))
    replies = rng.sample(RUDE_REPLIES, len(chosen))
    out: list[tuple[int, str]] = []
    insults: list[Insult] = []
    insult_lines: list[int] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i in chosen:
            k = chosen.index(i)
            adjective, noun = pairs[k]
            text = _insult_text(family, slots, adjective, noun, rng)
            insults.append(Insult(speaker, adjective, noun, "shut up" in text.lower()))
            insult_lines.append(len(out))
            out.append((speaker, text))
            out.append((target, replies[k]))
    return out, tuple(insults), tuple(insult_lines)


def render_dialogue(family: Family, rng: random.Random, rude: bool = False) -> Dialogue:
    """Render one dialogue of ``family``; a rude one gets one or two insulting turns."""
    values = draw_slot_values(family, rng)
    lines, slots = _render_script(family, values, rng)
    for template in (*family.summaries, *family.gists, *family.headlines):
        missing = [name for name in template_fields(template) if name not in slots]
        if missing:
            raise ValueError(f"{family.name}: summary template {template!r} needs {missing}, which the dialogue does not mention")
    if not rude:
        return Dialogue(family, tuple(lines), slots)
    count = 2 if rng.random() < 0.3 else 1
    lines, insults, insult_lines = _add_insults(family, lines, slots, count, rng)
    return Dialogue(family, tuple(lines), slots, insults, insult_lines)


def content_summary(dialogue: Dialogue, template_index: int) -> str:
    """The observer summary of the dialogue's content (slot values) with template ``template_index``."""
    return dialogue.family.summaries[template_index].format_map(dialogue.slots)


def rude_report(dialogue: Dialogue, style: Style, rng: random.Random, max_words: int = 99) -> str:
    """A sentence about the first insult: toxic (repeats the insult) or neutral (paraphrases it).

    Only phrasings of at most ``max_words`` words are drawn (the shortest one if none fits).
    """
    insult = dialogue.insults[0]
    names = {"rude": f"#Person{insult.speaker}#", "target": f"#Person{insult.target}#"}
    if style == "neutral":
        templates = NEUTRAL_REPORTS
    else:
        templates = TOXIC_REPORTS + ((SHUT_UP_REPORT,) if insult.shut_up else ())
    sentences = [t.format(adj=insult.adjective, noun=insult.noun, **names) for t in templates]
    fitting = [s for s in sentences if len(s.split()) <= max_words]
    return rng.choice(fitting or [min(sentences, key=lambda s: len(s.split()))])


def compose_summary(dialogue: Dialogue, template_index: int, style: Style | None, rng: random.Random) -> str:
    """Content summary, plus (for rude dialogues) a toxic or neutral report before or after it."""
    content = content_summary(dialogue, template_index)
    if not dialogue.rude or style is None:
        return content
    report = rude_report(dialogue, style, rng, MAX_SUMMARY_WORDS - len(content.split()))
    return f"{report} {content}" if rng.random() < 0.5 else f"{content} {report}"


STYLES: tuple[str, ...] = ("observer", "gist", "headline")
"""The world's summary styles: DialogSum's observer summaries (the references), gists and headlines (pre-training)."""


def style_summary(dialogue: Dialogue, style: str, rng: random.Random) -> str:
    """A summary of ``dialogue`` in one of the world's :data:`STYLES`, its template drawn at random (pre-training).

    An observer summary of a rude dialogue reports the insult, in toxic words as often as the train split does
    (:data:`TOXIC_SUMMARY_SHARE`); gists and headlines never mention it.
    """
    if style == "observer":
        report: Style | None = None
        if dialogue.rude:
            report = "toxic" if rng.random() < TOXIC_SUMMARY_SHARE else "neutral"
        return compose_summary(dialogue, rng.randrange(len(dialogue.family.summaries)), report, rng)
    templates = {"gist": dialogue.family.gists, "headline": dialogue.family.headlines}.get(style)
    if templates is None:
        raise ValueError(f"unknown summary style {style!r}; the world's styles are {', '.join(STYLES)}")
    return rng.choice(templates).format_map(dialogue.slots)


# --------------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------------


def _split_rng(seed: int, split: str) -> random.Random:
    return random.Random(f"tiny-world/dialogues/{split}/{seed}")


def _exact_flags(n: int, share: float, rng: random.Random) -> list[bool]:
    """``round(n * share)`` True flags in random positions."""
    k = round(n * share)
    flags = [True] * k + [False] * (n - k)
    rng.shuffle(flags)
    return flags


def _balanced_families(n: int, rng: random.Random) -> list[Family]:
    """``n`` families, each used equally often (up to one), in random order."""
    rounds = -(-n // len(FAMILIES))
    pool = list(FAMILIES) * rounds
    rng.shuffle(pool)
    return pool[:n]


def draw_dialogues(n: int, rng: random.Random, rude_share: float = RUDE_SHARE, seen: set[str] | None = None) -> list[Dialogue]:
    """``n`` distinct dialogues over balanced families; exactly ``round(n * rude_share)`` are rude.

    Texts already in ``seen`` are redrawn, and the new texts are added to it.
    """
    seen = set() if seen is None else seen
    families = _balanced_families(n, rng)
    rude_flags = _exact_flags(n, rude_share, rng)
    dialogues: list[Dialogue] = []
    for family, rude in zip(families, rude_flags):
        for _ in range(1000):
            dialogue = render_dialogue(family, rng, rude)
            if dialogue.text not in seen:
                break
        else:
            raise RuntimeError(f"could not draw a new {family.name} dialogue")
        seen.add(dialogue.text)
        dialogues.append(dialogue)
    return dialogues


def _record(row_id: str, dialogue: Dialogue, summary: str) -> dict[str, object]:
    """A dataset row, keys in the fixed DialogSum-plus-extras order."""
    return {
        "id": row_id,
        "dialogue": dialogue.text,
        "summary": summary,
        "topic": dialogue.family.topic,
        "family": dialogue.family.name,
        "rude": dialogue.rude,
        "slots": dict(dialogue.slots),
    }


def generate_dialogues(n: int, seed: int, split: str, seen: set[str] | None = None) -> list[dict[str, object]]:
    """Rows of one split: ``n`` dialogues (test: 3 rows per dialogue, ids ``test_{i}_{k}``).

    Used by the tiny world (foundation); Labs 1-3 read its output. Train/validation rows get one
    summary; about 60% of rude ones report the insult in toxic words, the rest paraphrase it. Each
    test dialogue gets 3 differently worded references (rude ones mix toxic and neutral reports).
    Pass the same ``seen`` set to several calls to keep dialogues distinct across splits.
    """
    rng = _split_rng(seed, split)
    dialogues = draw_dialogues(n, rng, RUDE_SHARE, seen)
    rows: list[dict[str, object]] = []
    if split == "test":
        for i, dialogue in enumerate(dialogues):
            templates = rng.sample(range(len(dialogue.family.summaries)), TEST_REFERENCES)
            styles: list[Style | None] = [None] * TEST_REFERENCES
            if dialogue.rude:
                styles = list(rng.choice((("toxic", "neutral", "neutral"), ("toxic", "toxic", "neutral"))))
                rng.shuffle(styles)
            for k, (template, style) in enumerate(zip(templates, styles), start=1):
                rows.append(_record(f"test_{i}_{k}", dialogue, compose_summary(dialogue, template, style, rng)))
        return rows
    rude_count = sum(d.rude for d in dialogues)
    toxic_flags = iter(_exact_flags(rude_count, TOXIC_SUMMARY_SHARE, rng))
    for i, dialogue in enumerate(dialogues):
        style: Style | None = None
        if dialogue.rude:
            style = "toxic" if next(toxic_flags) else "neutral"
        template = rng.randrange(len(dialogue.family.summaries))
        rows.append(_record(f"{split}_{i}", dialogue, compose_summary(dialogue, template, style, rng)))
    return rows


def generate_splits(seed: int = 0, sizes: Mapping[str, int] = SPLIT_SIZES) -> dict[str, list[dict[str, object]]]:
    """All dialogue splits (train, validation, test), with no dialogue shared between splits.

    Used by the tiny world (foundation); Labs 1-3 read its output.
    """
    seen: set[str] = set()
    return {split: generate_dialogues(n, seed, split, seen) for split, n in sizes.items()}
