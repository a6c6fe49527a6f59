"""The kind of fact a question asks for, and whether the best answer units hold one (a signal of the gate)."""
import time

import pytest

from qa.answertype import KINDS, asked_kinds, counted, holds, missing_kinds, offers_code


@pytest.mark.parametrize("question, kinds", [
    ("In which year was the R Foundation founded?", {"date"}),
    ("On what date was R 1.0.0 released?", {"date"}),
    ("When was the native pipe added?", {"date"}),
    ("In which R release was the native pipe operator introduced?", {"version"}),
    ("What is the minimum libcurl version needed to build R?", {"version"}),
    ("How many rows does fetch() return?", {"number"}),
    ("How much RAM do I need to compile R from source?", {"number", "size"}),
    ("How long does make check-all take to run?", {"number", "duration"}),
    ("How often should I water the roses?", {"frequency"}),
    ("What is the default timeout, in seconds, for reading from a url() connection?", {"default", "duration"}),
    ("Which function reads a MATLAB file?", {"code"}),
    ("Which configure option builds the HTML help pages?", {"code"}),
    ("What smoothing span does loess() use by default?", {"default"}),
    ("Which algorithm does optim() use when I don't choose a method?", {"default"}),
    # 'how big' after a verb that sets it names what the argument does; the question asks the argument
    ("Which argument controls how big the proposal steps are?", {"code"}),
    ("Can you tell me how long the build takes?", {"number"}),  # asked, though not first
])
def test_the_question_form_says_what_kind_of_fact_it_asks_for(question, kinds):
    assert asked_kinds(question) == kinds


@pytest.mark.parametrize("question", [
    "How do I read a Feather file into R?",
    "What statistic does the default (Welch) t-test report?",  # "default" names the test, not a value asked
    "When I attach a data frame, where does it go?",  # 'when I' is a condition, not a time asked
    "Can the model use a mortality that depends on how long they have had the disease?",  # asks yes or no
])
def test_a_form_that_asks_for_no_kind_of_fact_asks_for_none(question):
    assert asked_kinds(question) == frozenset()


@pytest.mark.parametrize("kind, text, expected", [
    ("date", "R 1.0.0 was released on 29 February 2000.", True),
    ("date", "The R Foundation supports the project.", False),
    ("version", "You need at least texi2any version 5.1.", True),
    ("version", "Builds with R 4.2.x are tied to that series.", True),
    ("version", "The p-value is 0.00694 for the Welch test.", False),
    ("number", "About a hundred datasets come with R.", True),
    ("number", "Only one graphics device can accept commands at a time.", False),  # 'one' is a pronoun as often
    ("size", "A build needs 2 GB of free memory.", True),
    ("size", "R was 10% faster on 64 bit.", False),
    ("duration", "The check takes about 30 minutes.", True),
    ("duration", "Some commands simply take a long time.", False),
    ("frequency", "Water the roses deeply once a week in dry weather.", True),
    ("frequency", "Water the roses deeply in dry weather.", False),
    ("code", "Use var.test to compare variances.", True),
    ("code", "Configure with --enable-prebuilt-html to build them.", True),
    ("code", "Compare the variances first.", False),
    ("code", "The Knapp and Hartung (2003) method (knha = TRUE) adjusts the standard errors.", True),  # R's spacing
    ("code", "The two tests are equal in size.", False),
    ("default", "The bandwidth was chosen as the default.", True),
    ("default", "The loess function fits a local regression.", False),
])
def test_a_text_holds_a_token_of_the_kind_or_not(kind, text, expected):
    assert holds(text, kind) is expected


def test_a_kind_no_unit_holds_is_missing_and_one_any_unit_holds_is_not():
    units = ["The R Foundation is a not-for-profit organisation.", "It was founded in 2003 in Vienna."]
    assert missing_kinds("In which year was the R Foundation founded?", units[:1]) == {"date"}
    assert missing_kinds("In which year was the R Foundation founded?", units) == frozenset()
    assert missing_kinds("How do I cite R?", []) == frozenset()


def test_an_unknown_kind_is_a_one_line_error():
    with pytest.raises(ValueError, match="unknown answer kind 'colour'; use one of " + ", ".join(KINDS)):
        holds("red", "colour")


@pytest.mark.parametrize("question, units, missing", [
    # 'how many days' wants a count of days: a version or a section number is not one
    ("How many days' notice does the Foundation give before a new version?",
     ["Mozilla Public License Version 2.0", "See section 3 for the steward."], {"count"}),
    ("How many days do I have to comply?", ["You must comply within 30 days of the notice."], set()),
    ("How many codegen units does rustc use?", ["codegen-units=1 gives 1 codegen unit."], set()),
    ("How many pages must a document have?", ["If you publish more than 100 copies, you must ..."], {"count"}),
    # the noun before its number; a table's rows and columns as a data summary names them
    ("After about how many lags are they negligible?", ["They are negligible after about lag 25."], set()),
    ("After about how many lags are they negligible?", ["See section 25 of the report."], {"count"}),
    ("How many rows does the DMepi data frame have?", ["'data.frame': 4200 obs. of 8 variables:"], set()),
    ("How many columns does the DMepi data frame have?", ["'data.frame': 4200 obs. of 8 variables:"], set()),
    ("How many rows does the DMepi data frame have?", ["The frame holds 8 variables."], {"count"}),
    ("How many threads does it use?", ["A depth of 1 means no parallelism."], {"count"}),
    # 'how long' wants a number with a unit, not any digit
    ("For how long must I keep the NOTICE file?", ["Apache License Version 2.0, January 2004"], {"quantity"}),
    ("How long must the offer be valid?", ["A written offer, valid for at least three years, to give ..."], set()),
    ("What fee does the Foundation charge for a licence?", ["You may charge a fee for warranty."], {"money"}),
    ("What fee does the Foundation charge?", ["The licence is free of charge."], set()),
    ("What is the Foundation's postal address?", ["Write to the Free Software Foundation."], {"contact"}),
    ("What is the Foundation's postal address?", ["Write to 51 Franklin Street, Boston."], set()),
])
def test_a_slot_the_question_names_needs_its_own_value_in_a_unit(question, units, missing):
    assert missing_kinds(question, units) - {"number"} == missing


def test_how_many_of_counts_no_named_thing():
    assert counted("How many of the original authors must it name?") == frozenset()
    assert counted("Roughly how many datasets come with R?") == {"dataset", "com"}  # stems: the next word or two


@pytest.mark.parametrize("question, lead, unit, expected", [
    # the lead names the subject, the next sentence gives the name asked for
    ("Which field in debian/control declares the Python 3 versions my source package supports?",
     "The debian/control source paragraph may contain optional fields to specify the versions of Python supported.",
     "The optional X-Python3-Version field specifies the versions of Python 3 supported.", True),
    ("How do I get the sources of the recommended packages?",
     "The repository does not contain the sources of the recommended packages.",
     "To do so, run ./tools/rsync-recommended from the top-level directory.", True),
    # a how-to question that says first what the user did or wants
    ("I checked out R from Subversion; how do I get the sources of the recommended packages?",
     "The repository does not contain the sources of the recommended packages.",
     "To do so, run ./tools/rsync-recommended from the top-level directory.", True),
    ("I'm setting up my own repository. What's the easiest way to create its index file?",
     "Users may want to set up their own repository.", "Run tools::write_PACKAGES(dir) in it.", True),
    ("Tell me somehow what the repository holds.", "The repository holds sources.",
     "Run tools::write_PACKAGES(dir) in it.", False),
    # an operator made only of colons is a code name, not a sentence's punctuation
    ("How can I get at a function that a package keeps internal and does not export?",
     "Only functions that are exported from the package can be retrieved in this way.",
     "The triple-colon operator ::: may be seen in a few places in R code.", True),
    ("How do I list the files?", "Files are kept in the folder.", "It says so here: see the list.", False),
    # a name the question already holds answers nothing
    ("is.na() is TRUE for NaN too; what do I use to pick out only the NaN ones?",
     "Missing values are marked NA.", "In summary, is.na(xx) is TRUE both for NA and NaN values.", False),
    # the lead gives a name already: it is the answer, the next unit is not needed for that
    ("Which function shows the search path?", "The function search() shows the current search path.",
     "Use detach() to remove an entry.", False),
    # a question that asks for no command or name
    ("Why does the example use feof()?", "We need to check for end-of-file.", "See zpipe.c for the loop.", False),
    # prose is no code name: an abbreviation, a plural "(s)", a hyphenated word opening a sentence
    ("How can I apply for a refund?", "To apply for a refund, fill in the refund form within 30 days.",
     "Some goods, e.g. gift cards, are sold under separate terms.", False),
    ("Which file must a redistribution include?", "A redistribution must include the licence text.",
     "The Licensor(s) keep all other rights.", False),
    ("What name must a modified version carry?", "A modified version must carry a different name.",
     "Non-commercial use is free of charge.", False),
])
def test_a_unit_offers_code_when_the_question_asks_for_it_and_the_lead_gives_none(question, lead, unit, expected):
    assert offers_code(question, lead, unit) is expected


@pytest.mark.parametrize("word", ["k" * 20_000, "a-" * 10_000, "a1" * 10_000])
def test_offers_code_stays_fast_on_a_huge_word(word):
    # a key, a blob or words a PDF ran together: each took 3-8 s (quadratic), a 60,000-letter one 52 s of an answer
    question = "How do I activate the product? " + "Please say. " * 160  # about 2,000 characters
    started = time.perf_counter()
    assert offers_code(question, "The installer needs a licence key.", f"Paste this key: {word}.") is False
    assert offers_code(question, f"Paste this key: {word}.", "Run activate() then.") is True
    assert time.perf_counter() - started < 1.0
