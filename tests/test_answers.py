import pytest

from ragsweep.metrics.answers import answer_tokens, exact_match, normalize_answer, token_f1


def test_squad_normalisation():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("an apple, a pear") == "apple pear"


def test_exact_match_takes_the_best_alias():
    assert exact_match("the river Ashby", ["Ashby", "river Ashby"]) == 1.0
    assert exact_match("Ashby river", ["river Ashby"]) == 0.0


def test_token_f1_by_hand():
    # pred tokens: paris france ; gold: paris -> P=1/2, R=1, F1=2/3
    assert token_f1("Paris, France", ["Paris"]) == pytest.approx(2 / 3)
    assert token_f1("London", ["Paris"]) == 0.0
    assert token_f1("anything", []) == 0.0


def test_thai_is_compared_on_words_not_whitespace():
    gold = ["ไม่เกินห้าหมื่นบาท"]
    pred = "ปรับไม่เกินห้าหมื่นบาท"
    assert len(answer_tokens(pred, "en")) == 1  # whitespace splitting: one token, F1 = 0
    assert token_f1(pred, gold, "en") == 0.0
    thai = token_f1(pred, gold, "th")
    assert 0.5 < thai < 1.0
    assert exact_match("ไม่เกิน ห้าหมื่นบาท", gold, "th") == 1.0


def test_answer_match_scorers_by_hand():
    from ragsweep.metrics.answers import answer_contains, token_recall

    # a correct answer said in a sentence: EM misses it, containment and recall credit it
    assert exact_match("It is Paris, of course.", ["Paris"]) == 0.0 and answer_contains("It is Paris, of course.", ["Paris"]) == 1.0
    assert answer_contains("The Parisian way", ["Paris"]) == 0.0  # whole tokens only
    assert answer_contains("in new york city", ["York New", "New York"]) == 1.0  # any alias, in order
    assert answer_contains("anything", ["the"]) == 0.0  # an alias that normalises to nothing never matches
    # recall: gold tokens held, with multiplicity: "the red red house" holds red, house of "red red red house" -> 3/4
    assert token_recall("the red red house", ["red red red house"]) == pytest.approx(3 / 4)
    assert token_recall("blue", ["red house", "blue"]) == 1.0 and token_recall("x", []) == 0.0
