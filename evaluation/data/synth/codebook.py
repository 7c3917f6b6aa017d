"""The qualitative codebook (seed report Tables 1-3) and what speakers say about each code.

Teams draw the barrier they talk about most from :data:`CODEBOOK`; the excerpts of
:mod:`evaluation.data.synth.qualitative` are built from the sentence templates here.
"""

from __future__ import annotations


CODEBOOK: tuple[tuple[str, str, str], ...] = (
    ("monthly_calls", "Collaborative design",
     "Monthly calls or webinars keep the team on track, accountable and in action."),
    ("team_networking", "Collaborative design",
     "Learning from, or sharing successes and challenges with, teams outside the organization."),
    ("population_of_focus", "Collaborative design",
     "Defining, monitoring or reporting on the population of focus motivates the team."),
    ("coaching", "Collaborative design",
     "One-on-one coaching or check-ins with the collaborative's learning coach."),
    ("change_package", "Collaborative design",
     "Using the Community Pharmacy Change Package or other shared tools and change ideas."),
    ("recognition_in_organization", "Benefits",
     "The work raised the team's visibility or recognition within its own organization."),
    ("new_service_opportunities", "Benefits",
     "The work opened opportunities for new services, partners or patient groups."),
    ("aligning_with_stakeholders", "Benefits",
     "Aligning the team's goals with the priorities of payers, health systems or other stakeholders."),
    ("revenue_capture", "Benefits",
     "Billing, payment or other revenue for CMM services was started or improved."),
    ("communicating_with_physicians", "Benefits",
     "Communication or collaboration with physicians and other prescribers improved."),
    ("population_measurement", "Benefits",
     "Adopting population-based measurement: registries, numerators and denominators, monthly data."),
    ("personnel_changes", "Barriers",
     "Staff turnover, leave or vacancies disrupted progress on the aim."),
    ("system_implementation", "Barriers",
     "Implementing or changing a pharmacy or EHR system disrupted the work or the data."),
    ("leadership_changes", "Barriers",
     "New leaders or changed leadership priorities disrupted support for the work."),
    ("time_constraints", "Barriers",
     "Lack of protected time or workload pressure limited CMM visits or follow-up."),
    ("data_reporting_burden", "Barriers",
     "Collecting, extracting or reporting the monthly data was burdensome or confusing."),
)
CODES = tuple(c for c, _, _ in CODEBOOK)


TEMPLATES: dict[str, tuple[str, ...]] = {
    "monthly_calls": (
        "The monthly calls kept us honest. Knowing we had to report out every month kept the team on track.",
        "Honestly the monthly call was the one thing on the calendar that made us stop and look at our numbers.",
        "Hearing where everyone else was on the monthly webinar pushed us to get our own data in on time.",
        "Even when we couldn't do much else, we got on the monthly call, and it kept the project from slipping.",
        "Once a month felt about right. The calls gave us a rhythm for checking our progress.",
    ),
    "team_networking": (
        "It was really valuable to learn from pharmacies outside our own organization.",
        "Hearing another team talk through what failed for them saved us from making the same mistake.",
        "We could just call another site and ask how they set up their agreement with the clinic.",
        "Sharing stories, the good and the bad, was probably the best way to learn how to build this.",
        "We connected with a pharmacist in another state who runs the same software, and that helped a lot.",
    ),
    "population_of_focus": (
        "Tracking our population of focus every month was motivating; seeing the number move made the staff care.",
        "Once we narrowed it down to our high-risk patients with {condition}, it was much easier to know who to call.",
        "Reporting on our patients each month drove us to take better care of them, plain and simple.",
        "At first our population was too big. Cutting it to about {n} patients made it manageable.",
        "Watching the run chart for our patients with {condition} gave the team something to rally around.",
    ),
    "coaching": (
        "Our coach checked in with us every few weeks and that accountability mattered.",
        "The one-on-one coaching call was where we actually worked out our aim statement.",
        "When we got stuck, the coach helped us break it into a small test we could run that week.",
        "I wish we had used the coaching time more; when we did, it was really helpful.",
    ),
    "change_package": (
        "The change package was a helpful tool; we went back to it whenever we planned a new PDSA cycle.",
        "We took the pre-visit chart review idea straight from the change package.",
        "Having examples from other community pharmacies written down in one place saved us time.",
    ),
    "recognition_in_organization": (
        "Our leadership noticed. For the first time we were asked to present our results at a regional meeting.",
        "The project gave our pharmacists a visibility inside the organization they never had before.",
        "People in our organization now see the pharmacy as part of the care team, not just dispensing.",
        "Our {role} took our run chart to the board meeting, which was a big deal for us.",
    ),
    "new_service_opportunities": (
        "Because of this work we are now talking with a local clinic about offering CMM to their patients.",
        "We started a second service for patients on anticoagulation based on what we learned.",
        "It opened the door to new services, like medication reviews for patients after discharge.",
        "A nearby practice heard about our results and asked whether we could see their high-risk patients too.",
    ),
    "aligning_with_stakeholders": (
        "We framed our aim around the same quality measures our payers care about, and that got their attention.",
        "Lining up our goals with the health plan's priorities made the conversation about payment much easier.",
        "Our aim matched what the local ACO was already measuring, so we were speaking their language.",
    ),
    "revenue_capture": (
        "We started billing for the CMM visits and capturing revenue we were leaving on the table before.",
        "Documenting every resolved medication problem helped us get paid for the work.",
        "The revenue is still small, but for the first time we can show the service pays for part of itself.",
        "We worked out a per-member fee with one payer; without this project's data that would not have happened.",
    ),
    "communicating_with_physicians": (
        "Our communication with physicians improved a lot; we send a short note now and they actually respond.",
        "Dr. [name] now calls us when a patient's {lab} goes up, which never used to happen.",
        "We learned to send recommendations in a format the prescribers can act on quickly.",
        "Getting the collaborative practice agreement signed meant fewer faxes back and forth with the clinic.",
    ),
    "population_measurement": (
        "We now look at all our patients at goal, not one patient at a time.",
        "Before this we never measured anything across our patients. Now we pull a report every month.",
        "Building the registry was painful, but now we know exactly how many patients are at goal.",
        "Thinking in numerators and denominators was new for our pharmacists, and it stuck.",
    ),
    "personnel_changes": (
        "We lost our lead pharmacist {period} and it set us back a couple of months.",
        "Turnover was the hardest part; every time a technician left we had to train someone new.",
        "Two of our four staff changed during the year, so keeping momentum was tough.",
        "Our project champion went on leave {period} and nobody else really knew the workflow.",
    ),
    "system_implementation": (
        "We switched pharmacy systems {period} and couldn't pull reports for almost two months.",
        "The new software implementation took over everything; the project had to wait.",
        "An EHR upgrade broke the report we used for our population, so our data has a gap.",
    ),
    "leadership_changes": (
        "We got a new {role} who didn't know about the project, so we had to sell it all over again.",
        "A change in leadership meant our protected time for CMM was cut back.",
        "When the ownership changed {period}, priorities shifted and the project stalled for a while.",
    ),
    "time_constraints": (
        "Finding time between prescriptions to actually do the follow-up calls was the biggest challenge.",
        "We're a busy store; some weeks the CMM visits just didn't happen.",
        "There was no protected time, so most of this was done after hours.",
        "Honestly, the documentation takes longer than the visit itself.",
    ),
    "data_reporting_burden": (
        "Pulling the monthly numbers by hand took hours every month.",
        "The reporting template was confusing at first and we weren't sure we were counting the right patients.",
        "Entering the same data in two places felt like a waste of time.",
    ),
}
COACH_TEMPLATES: dict[str, tuple[str, ...]] = {
    "monthly_calls": ("From the coaching side, the teams that came to the monthly calls moved faster.",
                      "I could tell which teams had been on the last call; they came with data."),
    "team_networking": ("What I saw was teams borrowing ideas from each other between the calls.",
                        "The best moments were when one team answered another team's question before I could."),
    "coaching": ("As a coach I tried to check in every few weeks, and the teams that kept those calls did better.",
                 "Coaching worked best when the team brought one specific problem to the call."),
    "population_measurement": ("Once a team had a registry, the monthly numbers took care of themselves.",),
    "time_constraints": ("Almost every team told me time was the constraint, not willingness.",),
}
# openers: (text, whether the sentence after it continues in lower case)
OPENERS: tuple[tuple[str, bool], ...] = (
    ("", False), ("", False), ("", False), ("", False), ("", False), ("Yes. ", False),
    ("I agree with that. ", False), ("Same for us. ", False), ("For us it was different. ", False),
    ("Well, ", True), ("I think ", True), ("Looking back, ", True), ("To be honest, ", True),
    ("That's a big one for us. ", False), ("Good question. ", False),
)
FOCUS_GROUP_ONLY_OPENERS = ("I agree with that. ", "Same for us. ", "For us it was different. ")
KEEP_CAPITAL = ("I ", "I'", "Dr. ", "A1c", "EHR")


SLOT_VALUES = {
    "condition": ("diabetes", "hypertension", "high cholesterol", "high blood pressure"),
    "n": ("40", "50", "60", "75", "100"),
    "role": ("district manager", "director of pharmacy", "regional manager", "clinic administrator"),
    "period": ("in the spring", "over the summer", "in the fall", "right after the kickoff"),
    "lab": ("A1c", "blood pressure", "INR", "LDL"),
}
