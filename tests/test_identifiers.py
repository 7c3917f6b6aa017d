"""The identifier screen for funder quotes: each kind caught in speech, ordinary quotes left alone.

Expected findings are written out by hand: the kind and the exact text that must be matched.
"""
from __future__ import annotations

import itertools
import string

import pandas as pd
import pytest

from evaluation.core import identifiers
from evaluation.data.synth import codebook


def found(text: str, deny_terms=()) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in identifiers.screen_quote(text, deny_terms)]


@pytest.mark.parametrize("text, expected", [
    # names
    ("Mrs. Alvarez said her sugar was better after the second visit.", [("name", "Mrs. Alvarez")]),
    ("Dr Okafor finally started answering our faxes.", [("name", "Dr Okafor")]),
    ("We asked Dr. Maria Lopez to sign the agreement.", [("name", "Dr. Maria Lopez")]),
    ("The nurse Jackie pulled the list for us every Monday.", [("name", "nurse Jackie")]),
    ("Our patient Hernandez brought in every bottle he had.", [("name", "patient Hernandez")]),
    ("Hi, my name is Rosa and I run the CMM visits.", [("name", "my name is Rosa")]),
    ("We had a lady named Dolores who kept a log of her readings.", [("name", "named Dolores")]),
    ("I think we called Maria Lopez three times before she came in.", [("name", "Maria Lopez")]),
    ("Maria Lopez told us the new meter was easier.", [("name", "Maria Lopez")]),  # first word, but not an ordinary one
    ("Dr. Washington and Mrs. May both came to the meeting.", [("name", "Dr. Washington"), ("name", "Mrs. May")]),
    ("We faxed [Maria Lopez] twice.", [("name", "Maria Lopez")]),  # brackets around a real name are no redaction
    # dates
    ("She was born 3/14/1952, so she qualified.", [("date", "born 3/14/1952")]),
    ("Her visit was on 1952-03-14 and again on 14.03.1952.", [("date", "1952-03-14"), ("date", "14.03.1952")]),
    ("He came in March 14, 1952 by his records.", [("date", "March 14, 1952")]),
    ("He signed up 14 March 1952, that's what the form says.", [("date", "14 March 1952")]),
    ("Her DOB was on the list we printed.", [("date", "DOB")]),
    ("The date of birth field was wrong for half of them.", [("date", "date of birth")]),
    ("He was born in Guatemala and we needed an interpreter.", [("date", "born in Guatemala")]),
    ("We saw him on 3/14 and he was already at goal.", [("date", "on 3/14")]),
    # phones, e-mail, web
    ("Patients can call me at (555) 201-3344 any time.", [("phone", "(555) 201-3344")]),
    ("Fax it to 555.201.3344 or 555-201-3345.", [("phone", "555.201.3344"), ("phone", "555-201-3345")]),
    ("The hotline is +1 555 201 3344 ext 12.", [("phone", "+1 555 201 3344 ext 12")]),
    ("Just call 201-3344 and ask for the pharmacist.", [("phone", "201-3344")]),
    ("Send the list to jdoe@clinic.org before Friday.", [("email", "jdoe@clinic.org")]),
    ("It is all on www.ourpharmacy.com/cmm now.", [("url", "www.ourpharmacy.com/cmm")]),
    ("The form is at https://forms.example.net/intake?id=7.", [("url", "https://forms.example.net/intake?id=7")]),
    ("Patients log in at mychart.com to see it.", [("url", "mychart.com")]),
    ("The kiosk at 10.0.12.7 kept going down.", [("url", "10.0.12.7")]),
    # numbers
    ("Her MRN is 00482913, I remember it.", [("record_number", "MRN is 00482913")]),
    ("His member ID A-44712 was rejected.", [("record_number", "member ID A-44712")]),
    ("The medical record number 55120 was a duplicate.", [("record_number", "medical record number 55120")]),
    ("We found it under account 8812.", [("record_number", "account 8812")]),
    ("The claim came back as 4471208 twice.", [("record_number", "4471208")]),
    ("Her social security number is 123-45-6789.", [("ssn", "social security number is 123-45-6789")]),
    ("He read out 123-45-6789 at the counter.", [("ssn", "123-45-6789")]),
    # places
    ("She lives at 12 Main Street, right behind the store.", [("address", "12 Main Street")]),
    ("Send it to 401 N. 5th Ave and they will file it.", [("address", "401 N. 5th Ave")]),
    ("Everyone in Ames, IA 50010 knows the store.", [("address", "IA 50010")]),
    ("Her zip code is 50011 so she is in our area.", [("address", "zip code is 50011")]),
    ("Most of our patients come from Story County.", [("address", "Story County")]),
    # ages over 89
    ("She is 92 years old and still walks to the pharmacy.", [("age_over_89", "92 years old")]),
    ("A 95-year-old gentleman brought his wife.", [("age_over_89", "95-year-old")]),
    ("One man, age 93, had eleven medications.", [("age_over_89", "age 93")]),
    ("She is ninety-two years old and sharp as anything.", [("age_over_89", "ninety-two years old")]),
    ("My neighbour, in her nineties, uses our service.", [("age_over_89", "her nineties")]),
])
def test_each_kind_is_caught_in_a_realistic_sentence(text, expected):
    assert found(text) == expected


def test_findings_give_the_kind_the_text_and_its_place():
    """Positions are offsets into the quote; a number inside a longer number is not reported twice."""
    text = "call me at (555) 201-3344"
    (f,) = identifiers.screen_quote(text)
    assert (f.kind, f.text, f.start, f.end) == ("phone", "(555) 201-3344", 11, 25)
    assert text[f.start:f.end] == f.text
    assert str(f) == "phone '(555) 201-3344'"
    both = identifiers.screen_quote("Mrs. Alvarez, (555) 201-3344")
    assert identifiers.describe(both) == "name 'Mrs. Alvarez'; phone '(555) 201-3344'"
    assert set(identifiers.KINDS) >= {k for k, _ in identifiers.PATTERNS}


ORDINARY = [
    "Coaching calls helped us get the pharmacist into huddles.",
    "Our Medicare Part D patients liked the Tuesday calls in March.",
    "We used the Patient Care Process and the change package from the American Pharmacists Association.",
    "Our BP goal was 140/90 and 2/3 of our patients got there; the A1c went from 9.2 to 7.8.",
    "We cut the population to 100 patients and by March 3 teams had joined.",
    "It took us 3-4 months, about 90 days, to get the registry working.",
    "We enrolled patients aged 18 to 75 and those over 90 were excluded.",
    "He's a 45-year-old man who works nights, so we text him reminders.",
    "Between 100-1200 patients per store is typical for us.",
    "The Iowa Pharmacy Association helped us find a payer in New York.",
    "We got $250,000 from the health plan and it paid for 1.5 pharmacists.",
    "The HbA1c report in the EHR broke after the CMM kickoff in 2015.",
    "Thinking in numerators and denominators was new for our team.",
    "Dr. [name] now calls us when a patient's INR goes up.",  # already redacted
    "We faxed [CLINIC] and [patient name] came in the next day.",
    "Honestly, The Joint Commission visit took our whole week.",
    "We tried Million Hearts materials and kept our tracker in Google Sheets.",
    "Statins, ACE Inhibitors and Beta Blockers were most of the problems we found.",
    "On Monday the pharmacist and the tech split the list; the ID badges came later.",
    "In 2016 we reached 75% at goal, up from 40% in January.",
    "Ok. Yes. No. Well. Same for us.",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_quotes_are_not_flagged(text):
    assert found(text) == []


def synthetic_sentences() -> list[str]:
    """Every sentence the demo generator can write: each template with each value of its slots, after each
    opener (lower-cased as the generator does)."""
    out = []
    for pool in [*codebook.TEMPLATES.values(), *codebook.COACH_TEMPLATES.values()]:
        for template in pool:
            slots = [f for _, f, _, _ in string.Formatter().parse(template) if f]
            for values in itertools.product(*(codebook.SLOT_VALUES[s] for s in slots)):
                text = template.format(**dict(zip(slots, values)))
                for opener, lower in set(codebook.OPENERS):
                    keep = not lower or text.startswith(codebook.KEEP_CAPITAL)
                    out.append(opener + (text if keep else text[0].lower() + text[1:]))
    return out


def test_no_sentence_of_the_synthetic_demo_is_flagged():
    """The demo's quotes are ordinary speech (its one name is already redacted as Dr. [name]): none is held back."""
    sentences = synthetic_sentences()
    assert len(sentences) > 500
    flagged = {s: identifiers.describe(identifiers.screen_quote(s)) for s in sentences if identifiers.screen_quote(s)}
    assert flagged == {}


def test_deny_terms_are_whole_words_in_any_case():
    terms = ["Ames", "Lincoln Way", "  "]
    assert found("We moved the store to AMES last year.", terms) == [("deny_term", "AMES")]
    assert found("Board games at the staff party.", terms) == []  # not inside a word
    assert found("It's the one on lincoln   way.", terms) == [("deny_term", "lincoln   way")]
    assert found("It's the one on lincoln way.", ()) == []  # lower case: only a deny term catches it
    # a deny term is listed even inside another finding, so the evaluator sees why
    assert found("Mrs. Ames came in.", terms) == [("name", "Mrs. Ames"), ("deny_term", "Ames")]


def test_empty_and_missing_text_give_no_findings():
    assert identifiers.screen_quote(None) == [] and identifiers.screen_quote("") == [] and identifiers.screen_quote(float("nan")) == []


def test_screen_texts_lists_every_finding_with_its_key():
    texts = pd.Series({"X1": "All fine here.", "X2": "Mrs. Alvarez at (555) 201-3344", "X3": None})
    table = identifiers.screen_texts(texts, deny_terms=["fine"])
    assert list(table.columns) == identifiers.FINDING_COLUMNS
    assert table[["key", "kind", "matched"]].values.tolist() == [
        ["X1", "deny_term", "fine"], ["X2", "name", "Mrs. Alvarez"], ["X2", "phone", "(555) 201-3344"]]
    assert identifiers.screen_texts([]).empty
