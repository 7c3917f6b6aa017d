"""A screen for identifiers typed into focus-group quotes before a quote reaches a funder output.

:func:`screen_quote` returns what it found in a piece of speech (kind, matched text, position); an empty
list means nothing was found. It looks for the HIPAA Safe Harbor identifiers (45 CFR 164.514(b)(2)) that
can turn up in what a participant says, and for the evaluator's own ``deny_terms``:

=================  ==========================================================================================
kind               what is caught
=================  ==========================================================================================
``date``           numeric dates with a year (3/14/1952, 3-14-52, 1952-03-14, 14.03.1952), "on 3/14";
                   written dates with a day ("March 14, 1952", "Mar. 14", "14 March 1952", "the 14th of
                   March"); "DOB", "date of birth", "birthdate"; "born" followed by a date, a year, "in" or "on"
``phone``          US phone and fax numbers: (555) 201-3344, 555-201-3344, 555.201.3344, +1 555 201 3344,
                   and 201-3344 after a word such as call, phone, fax, cell, number, text or at
``email``          e-mail addresses
``url``            web addresses (http://, www., or a name ending in .com, .org, .net, .edu, .gov ...) and
                   IP addresses
``ssn``            123-45-6789, and "SSN" or "social security" followed by digits
``record_number``  MRN, medical record, chart, account, member, ID, policy, claim, prescription, license,
                   NPI, DEA, serial, plate or VIN followed by a code with a digit; any run of 6 or more digits
                   (not a $ amount)
``address``        a number and a street ("12 Main Street", "401 N. 5th Ave"), PO boxes, ZIP codes after a
                   state abbreviation or the word ZIP, ZIP+4 codes, and "<Name> County/Parish/Township"
``age_over_89``    ages 90 and over: "92 years old", "a 95-year-old", "age 93", "aged 101", "ninety-two
                   years old", "in her nineties" (Safe Harbor allows ages only up to 89)
``name``           an honorific or role and a capitalised word (Mr, Mrs, Ms, Miss, Dr, Prof, doctor, nurse,
                   pharmacist, patient, coach, technician + Name: "Mrs. Alvarez", "nurse Jackie");
                   "my/his/her name is X", "named X"; two or more consecutive capitalised words that are not
                   terms of this field (CMM, Medicare, Medicaid, HbA1c, drug classes, programmes, weekdays,
                   months, holidays, US states: see ``FIELD_TERMS``)
``deny_term``      any of ``deny_terms`` (whole word or phrase, any case): staff and patient names, places
=================  ==========================================================================================

Not caught: a first name or surname on its own without an honorific ("Maria said ...", "we called
Lopez"), names typed in lower case, cities and facility names of one distinctive word ("Mercy Hospital",
"in Ames"): put those in ``qualitative.deny_terms``; month and year without a day ("in March 2015", which
dates the programme, not a person); dates or numbers written in words other than ages ("the fourteenth");
years on their own. A word at the start of a sentence is not taken for a name: it counts towards a run of
capitalised words only when it is not an ordinary English word (``COMMON_WORDS``), so "Maria Lopez told
us" is caught and "Our Medicare patients" is not. Placeholders in square brackets, in lower or upper case
("Dr. [name]", "[CLINIC]"), are taken as already redacted. No list of names and no named-entity model is
used: the rules are the patterns above, so the screen is fast and the same text always gives the same
findings.

The patterns are written by hand with :mod:`re`: no maintained, light library does this without
downloading a large language model. The screen holds a quote back for a person to read; it does not prove
a quote clean, which is why quotes the evaluator cleared are listed by id (``qualitative.approved_quotes``).
"""

from __future__ import annotations
import re
from dataclasses import dataclass
from typing import Iterable
import pandas as pd

KINDS = ("date", "phone", "email", "url", "ssn", "record_number", "address", "age_over_89", "name", "deny_term")
FINDING_COLUMNS = ["key", "kind", "matched", "start", "end"]


@dataclass(frozen=True)
class Finding:
    """One identifier found in a text: its kind (one of ``KINDS``), the matched text and where it is."""

    kind: str
    text: str
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.kind} '{self.text}'"


# --- words that are not names --------------------------------------------------------------------

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_STATES = ("Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware",
           "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky", "Louisiana",
           "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana",
           "Nebraska", "Nevada", "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina",
           "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island", "South Carolina",
           "South Dakota", "Tennessee", "Texas", "Utah", "Vermont", "Virginia", "Washington", "West Virginia",
           "Wisconsin", "Wyoming", "District of Columbia", "Puerto Rico", "United States", "America")
# Capitalised words and phrases this field uses that are not names: programmes, payers, conditions, drug
# classes, roles, calendar words and places no smaller than a state (Safe Harbor allows states).
FIELD_TERMS = frozenset({
    *_MONTHS, *_WEEKDAYS, *_STATES,
    "Christmas", "Thanksgiving", "Easter", "New Year", "Labor Day", "Memorial Day", "Independence Day",
    "Medicare", "Medicaid", "Part", "Advantage", "Star", "Stars", "Ratings", "Affordable", "Act", "Federal",
    "American", "National", "Association", "Institute", "Foundation", "Society", "College", "University",
    "Health", "Healthcare", "Care", "Plan", "Plans", "Payer", "Payers", "Insurance", "Accountable", "Organization",
    "Comprehensive", "Medication", "Medications", "Medicine", "Medicines", "Medical", "Therapy", "Management",
    "Review", "Reviews", "Patient", "Patients", "Centered", "Centred", "Process", "Model", "Home", "Team", "Teams",
    "Pharmacy", "Pharmacies", "Pharmacist", "Pharmacists", "Pharmaceutical", "Clinic", "Clinics", "Clinical",
    "Hospital", "Hospitals", "Center", "Centre", "Network", "System", "Systems", "Services", "Service", "Office",
    "Board", "Director", "Manager", "Administrator", "Practitioner", "Physician", "Physicians", "Provider",
    "Collaborative", "Practice", "Agreement", "Quality", "Improvement", "Learning", "Session", "Sessions",
    "Webinar", "Webinars", "Call", "Calls", "Coach", "Coaching", "Cohort", "Track", "Initial", "Advanced", "Change",
    "Package", "Project", "Program", "Programme", "Measure", "Measures", "Report", "Registry", "Aim", "Statement",
    "Plan-Do-Study-Act", "Do", "Study", "Cycle", "Run", "Chart", "Charts", "Kickoff", "Summit", "Meeting",
    "Diabetes", "Hypertension", "Heart", "Failure", "Asthma", "Disease", "Blood", "Pressure", "Cholesterol",
    "Kidney", "Chronic", "Obstructive", "Pulmonary", "Atrial", "Fibrillation", "Depression",
    "Insulin", "Insulins", "Statin", "Statins", "Metformin", "Warfarin", "Anticoagulation", "Anticoagulant",
    "Anticoagulants", "Beta", "Blocker", "Blockers", "Inhibitor", "Inhibitors", "Agonist", "Agonists", "Diuretic",
    "Diuretics", "Antibiotic", "Antibiotics", "Opioid", "Opioids",
    "Million Hearts", "Ask Me", "Choosing Wisely", "Healthy People", "Joint Commission", "Blue Cross", "Blue Shield",
    "Google", "Microsoft", "Excel", "Sheets", "Zoom", "Outlook", "PowerPoint", "Epic", "Cerner",
    "Northeast", "Northwest", "Southeast", "Southwest", "Midwest", "East", "West", "North", "South", "Coast",
})
# Ordinary English words: at the start of a sentence they are capitalised by grammar, not because they
# are names, and after an honorific ("the nurse The next day") they are not a name either.
COMMON_WORDS = frozenset(w.lower() for w in """
A About Above After Again Against All Also Although Always Am An And Another Any Anyway Are Around As At Back
Be Because Been Before Being Best Better Between Both But By Can Could Did Do Does Doing Done During Each Early
Either Else Even Every Everybody Everyone Everything First For From Further Getting Go Going Good Got Great Had
Has Have Having He Her Here Hers Him His How However If In Instead Is It Its Just Last Later Less Let Like Looking
Many Maybe Me More Most Much Must My Never Next No Nobody None Nor Not Nothing Now Of Off Often Oh Ok Okay On Once
One Only Or Other Others Our Ours Out Over Overall Perhaps Probably Quite Rather Really Right Same So Some
Somebody Someone Something Sometimes Still Such Sure Than Thank Thanks That The Their Them Then There These They
This Those Though Through To Too Two Three Four Five Under Until Up Us Very Was We Well Were What Whatever When
Where Whether Which While Who Whoever Why Will With Within Without Would Yeah Yes Yet You Your Yours
Anyhow Frankly Honestly Basically Actually Definitely Certainly Usually Obviously Personally Really
""".split())

# a capitalised word: Alvarez, O'Brien, McKay, Smith-Jones
_NAME = r"(?:[A-Z][a-z]+|[A-Z]['’][A-Z][a-z]+|Ma?c[A-Z][a-z]+)(?:-[A-Z][a-z]+)?"
_NAMES = _NAME + r"(?:[ \t]+" + _NAME + r")*"
# a formal honorific takes any capitalised word (Dr. Washington, Mrs. May); a role word only one that is not a
# term of the field ("the doctor Monday", "Nurse Practitioner")
_HONORIFIC = re.compile(r"(?<![A-Za-z])(?:Mrs|Mr|Ms|Mx|Dr|Prof)\.?[ \t]+(" + _NAMES + r")")
_ROLE = re.compile(r"(?<![A-Za-z])(?i:doctor|nurse|pharmacist|patient|coach|technician|tech|professor|miss)[ \t]+("
                   + _NAMES + r")")
_NAME_IS = re.compile(r"(?i:\b(?:my|his|her|their|your|the patient's)\s+name\s+(?:is|was)|\bnamed|\bname's)\s+("
                      + _NAMES + r")")
_RUN = re.compile(_NAME + r"(?:[ \t]+" + _NAME + r")+")
_WORD = re.compile(_NAME)
_PLACE = re.compile(r"((?:" + _NAME + r"[ \t]+){1,2})(?:County|Parish|Township|Borough)\b")
_OPENERS = "\"“‘'([{"
_ABBREVIATION = re.compile(r"(?:^|[^A-Za-z])(?:Mrs|Mr|Ms|Mx|Dr|Prof|St|Jr|Sr|vs|etc|e\.g|i\.e|approx)\.$", re.I)

_FIELD = re.compile(r"(?<![A-Za-z])(?:" + "|".join(re.escape(t) for t in sorted(FIELD_TERMS, key=len, reverse=True))
                    + r")(?![A-Za-z])")


# --- the patterns --------------------------------------------------------------------------------

_MON = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?"
        r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_M = r"(?:1[0-2]|0?[1-9])"
_D = r"(?:[12]\d|3[01]|0?[1-9])"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_OLD = r"(?:\s+|-)(?:years?|yrs?)(?:(?:\s+|-)old\b|\s+of\s+age\b)"
_UNITS = r"(?:one|two|three|four|five|six|seven|eight|nine)"
_NOT_PCT = r"(?!\s*(?:%|percent))"
# "by March 3 teams had joined": a count, not a day
_NOT_COUNT = (r"(?!\s*(?:%|percent)|\s+(?:teams?|patients?|pharmac\w+|people|sites?|stores?|visits?|calls?|times?"
              r"|months?|weeks?|days?|years?|of|out)\b)")
_PATH = r"(?:[^\s<>\"]*[^\s<>\".,;:!?)\]'’”])?"  # the rest of a web address, without the punctuation after it
# a code with a digit in it, after a record word: "00482913", "A-4471", "#88120"
_CODE = r"#?\s*(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{2,}(?![A-Za-z0-9])"

PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("ssn", re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])")),
    ("ssn", re.compile(r"(?i:\b(?:SSN|SS#|social security(?:\s+(?:number|no\.?|#))?))(?:\s+(?:is|was))?[\s:#]*"
                       r"(?i:ending in\s+)?\d[\d -]{2,}\d")),
    ("email", re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    ("url", re.compile(r"(?i:\bhttps?://|\bwww\.)" + _PATH)),
    ("url", re.compile(r"(?<![A-Za-z0-9.-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,6}"
                       r"(?:com|org|net|edu|gov|us|io|info)\b"
                       r"(?:/" + _PATH + ")?")),
    ("url", re.compile(r"(?<![\d.])(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?!\d|\.\d)")),
    ("phone", re.compile(r"(?:(?<![\w+])\+?1[\s.-]?)?(?:\(\d{3}\)\s?|(?<![\w(.-])\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\d-])"
                         r"(?:\s*(?i:ext\.?|x)\s*\d{1,5})?")),
    ("phone", re.compile(r"(?i:\b(?:call|calls|called|calling|phone|fax|faxed|cell|number|text|texts|reach|dial|ext"
                         r"|tel|line|at)\b)(?:\s+(?:is|was))?[\s:#]*(\d{3}[.-]\d{4})(?![\d-])")),
    ("date", re.compile(r"(?<![\d/.-])" + _M + r"[/-]" + _D + r"[/-](?:\d{4}|\d{2})(?![\d/-])")),
    ("date", re.compile(r"(?<![\d/.-])" + _D + r"[/-]" + _M + r"[/-]\d{4}(?![\d/-])")),  # 14/03/1952
    ("date", re.compile(r"(?<![\d.-])" + _YEAR + r"[-/.](?:1[0-2]|0?[1-9])[-/.]" + _D + r"(?!\d|[.-]\d)")),
    ("date", re.compile(r"(?<![\d.])" + _D + r"\." + _M + r"\.(?:\d{4}|\d{2})(?!\d|\.\d)")),
    ("date", re.compile(r"(?i:\bon)\s+" + _M + r"/" + _D + r"(?![\d/])(?!\s+of\b)")),
    ("date", re.compile(r"\b" + _MON + r"\s+" + _DAY + r"\b(?:,?\s+" + _YEAR + r"\b)?" + _NOT_COUNT)),
    ("date", re.compile(r"\b" + _DAY + r"\s+(?:of\s+)?" + _MON + r"(?:,?\s+" + _YEAR + r")?(?![A-Za-z])")),
    ("date", re.compile(r"(?i:\bD\.?O\.?B\b\.?|\bdate of birth\b|\bbirth ?date\b|\bbirthday\b)")),
    ("date", re.compile(r"(?i:\bborn)(?:\s+(?i:on|in)\b(?:\s+[^\s.,;!?]+)?|\s+(?:" + _MON + r"|\d[\d/.-]*))")),
    ("age_over_89", re.compile(r"(?i:\b(?:9\d|1[0-2]\d)" + _OLD + ")")),
    ("age_over_89", re.compile(r"(?i:\b(?:aged?|age of|turned|turning)\s+(?:9\d|1[0-2]\d)\b)" + _NOT_PCT)),
    ("age_over_89", re.compile(r"(?i:\b(?:ninety(?:[\s-]" + _UNITS + r")?|(?:a|one)\s+hundred(?:\s+and)?(?:[\s-](?:"
                               + _UNITS + r"|ten|eleven|twelve|\w+teen|twenty))?)" + _OLD + ")")),
    ("age_over_89", re.compile(r"(?i:\b(?:his|her|their|the)\s+(?:late\s+|mid\s+|early\s+)?(?:90s|nineties|100s)\b)")),
    ("address", re.compile(r"\b\d{1,6}\s+(?:[NSEW]\.?\s+|(?:North|South|East|West)\s+)?"
                           r"(?:(?:[A-Z][a-z]+|\d+(?:st|nd|rd|th))\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard"
                           r"|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Highway|Hwy|Parkway|Pkwy|Circle|Cir|Terrace"
                           r"|Trail|Square|Sq)\b\.?")),
    ("address", re.compile(r"(?i:\bP\.?\s?O\.?\s+Box\s+\d+)")),
    ("address", re.compile(r"(?:(?i:\bzip(?:\s*code)?|\bpostal code)(?:\s+(?:is|was))?[\s:#]*|\b[A-Z]{2},?\s+)"
                           r"\d{5}(?:-\d{4})?(?![\d-])")),
    ("address", re.compile(r"(?<![\d-])\d{5}-\d{4}(?![\d-])")),
    ("record_number", re.compile(r"(?i:\b(?:MRN|medical record(?:\s*(?:number|num|no\.?|#))?"
                                 r"|(?:record|chart|account|acct|member|subscriber|policy|claim|case|prescription|rx"
                                 r"|license|licence|serial|plate|confirmation|reference|patient)"
                                 r"\s*(?:number|num|no\.?|#|id)|(?-i:ID)|NPI|DEA|VIN|identifier))"
                                 r"(?:\s+(?:is|was))?[\s:#]*" + _CODE)),
    ("record_number", re.compile(r"(?i:\b(?:rx|acct|account|member|chart|policy|claim|license|plate|serial))\s*#?\s*"
                                 r"(?!(?:19|20)\d\d(?![A-Za-z0-9-]))(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{3,}"
                                 r"(?![A-Za-z0-9])")),
    ("record_number", re.compile(r"(?<![\d$.,])\d{6,}(?![\d.,]\d|\d)")),
)


def _sentence_start(text: str, at: int) -> bool:
    """Whether position ``at`` starts a sentence: the text's start, or after . ! ? : ; a line break or an
    opening quote or bracket (not after an abbreviation such as Mr. or e.g.)."""
    i = at
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    if i == 0 or text[i - 1] in _OPENERS or text[i - 1] in "!?:;\n—–":
        return True
    return text[i - 1] == "." and not _ABBREVIATION.search(text[max(0, i - 8):i])


def _not_a_name(word: str, *, formal: bool = False) -> bool:
    first = word.split()[0]
    return first.lower() in COMMON_WORDS or (not formal and first in FIELD_TERMS)


def _names(text: str) -> list[Finding]:
    """Honorific or role + Name, "my name is X", "<Name> County", and runs of two or more capitalised words
    that are not field terms (the first word of a sentence counts only if it is not an ordinary word)."""
    found = []
    for pattern, formal in ((_HONORIFIC, True), (_ROLE, False), (_NAME_IS, False)):
        for m in pattern.finditer(text):
            if not _not_a_name(m.group(1), formal=formal):
                found.append(Finding("name", m.group(0), m.start(), m.end()))
    for m in _PLACE.finditer(text):
        start = m.start()
        for word in m.group(1).split():
            if word.lower() not in COMMON_WORDS:
                break
            start = text.index(word, start) + len(word)
        else:
            continue  # "The County": no name before it
        start = len(text) - len(text[start:].lstrip())
        found.append(Finding("address", text[start:m.end()], start, m.end()))
    masked = _FIELD.sub(lambda m: m.group(0).lower(), text)  # field terms no longer look like names
    for m in _RUN.finditer(masked):
        words = list(_WORD.finditer(masked, m.start(), m.end()))
        if _sentence_start(masked, words[0].start()) and words[0].group(0).lower() in COMMON_WORDS:
            words = words[1:]  # "The", "Our", "Honestly": capitalised by grammar
        if len(words) >= 2:
            found.append(Finding("name", text[words[0].start():words[-1].end()], words[0].start(), words[-1].end()))
    return found


def _deny(text: str, deny_terms: Iterable[str]) -> list[Finding]:
    found = []
    for term in deny_terms:
        parts = str(term).split()
        if not parts:
            continue
        pattern = r"(?<!\w)" + r"\s+".join(re.escape(part) for part in parts) + r"(?!\w)"
        found += [Finding("deny_term", m.group(0), m.start(), m.end())
                  for m in re.finditer(pattern, text, flags=re.IGNORECASE)]
    return found


_PLACEHOLDER = re.compile(r"\[(?:[a-z0-9 _'’-]{1,40}|[A-Z0-9 _'’-]{1,40})\]")


def _redacted(text: str) -> str:
    """The text with placeholders of a redaction ("[name]", "[CLINIC]") blanked, every position kept; a
    bracket holding capitalised words ("[Maria Lopez]") is screened like the rest."""
    return _PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), text)


def screen_quote(text: str | None, deny_terms: Iterable[str] = ()) -> list[Finding]:
    """Identifiers found in ``text`` (see the module docstring for what is and is not caught), by position.

    A finding inside a longer one is dropped ("201-3344" inside "(555) 201-3344"), except a deny term, which
    is always listed; ``deny_terms`` match whole words in any case. Empty, missing or non-text input gives
    no findings.
    """
    if not isinstance(text, str) or not text.strip():
        return []
    plain = _redacted(text)
    found: list[Finding] = []
    for kind, pattern in PATTERNS:
        for m in pattern.finditer(plain):
            start, end = m.span(1) if pattern.groups else m.span()
            found.append(Finding(kind, text[start:end], start, end))
    found += [Finding(f.kind, text[f.start:f.end], f.start, f.end) for f in _names(plain)]
    found.sort(key=lambda f: (f.start, f.start - f.end, KINDS.index(f.kind)))
    kept: list[Finding] = []
    reach = -1  # the furthest end of a kept finding: every kept one starts at or before f
    for f in found:
        if f.end > reach:
            kept.append(f)
            reach = f.end
    kept += _deny(text, deny_terms)
    return sorted(set(kept), key=lambda f: (f.start, f.start - f.end, KINDS.index(f.kind)))


def describe(findings: Iterable[Finding]) -> str:
    """The findings as one line for a person to read: ``name 'Mrs. Alvarez'; phone '(555) 201-3344'``."""
    return "; ".join(str(f) for f in findings)


def screen_texts(texts: pd.Series | Iterable[str], deny_terms: Iterable[str] = ()) -> pd.DataFrame:
    """Every finding in a column of texts: one row per finding with the text's index as ``key``.

    For a gate over many cells (a funder table's quote column, the paragraphs of a document); empty when
    nothing is found.
    """
    series = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
    terms = tuple(deny_terms)
    rows = [(key, f.kind, f.text, f.start, f.end) for key, value in series.items() for f in screen_quote(value, terms)]
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)
