import pytest

from pii_assets.training.metrics import confidence_intervals, decode_iob2, evaluate, paired_differences


def test_strict_matching_needs_label_start_and_end():
    gold = [(0, 4, "FIRSTNAME"), (5, 12, "SURNAME"), (20, 30, "EMAIL")]
    pred = [(0, 4, "FIRSTNAME"), (5, 11, "SURNAME"), (20, 30, "URL"), (40, 45, "CITY")]
    report = evaluate([("en", gold, pred)])
    assert (report.micro.tp, report.micro.fp, report.micro.fn) == (1, 3, 2)
    assert report.per_label["FIRSTNAME"].f1 == 1.0
    assert report.per_label["SURNAME"].f1 == 0.0 and report.per_label["CITY"].precision == 0.0
    assert report.macro_f1 == pytest.approx(1 / 5)  # FIRSTNAME 1.0, SURNAME, EMAIL, URL, CITY 0.0
    # characters: gold 4+7+10=21, predicted 4+6+10+5=25, overlap 4+6+10=20
    assert report.masking.tp == 20 and report.masking.fp == 5 and report.masking.fn == 1
    assert report.masking.f(2.0) == pytest.approx(5 * (20 / 25) * (20 / 21) / (4 * (20 / 25) + 20 / 21))


def test_per_language_and_empty_texts():
    report = evaluate([("de", [], []), ("fr", [(0, 3, "AGE")], [(0, 3, "AGE")]), ("de", [(0, 2, "AGE")], [])])
    assert report.per_language["fr"].f1 == 1.0 and report.per_language["de"].recall == 0.0
    assert report.summary()["micro_f1"] == round(2 / 3, 4)
    de, fr = report.masking_per_language["de"], report.masking_per_language["fr"]  # characters, per language
    assert (fr.tp, fr.fp, fr.fn) == (3, 0, 0) and (de.tp, de.fp, de.fn) == (0, 0, 2)
    assert report.masking.tp == fr.tp + de.tp and report.masking.fn == fr.fn + de.fn


def test_decode_iob2_strict_types_and_lenient_start():
    tokens = [(0, 4, "B-FIRSTNAME"), (5, 9, "I-FIRSTNAME"), (10, 12, "O"), (13, 15, "I-CITY"),
              (16, 18, "I-CITY"), (19, 20, "I-ZIP"), (21, 22, "B-ZIP"), (23, 24, "B-ZIP")]
    assert decode_iob2(tokens) == [(0, 9, "FIRSTNAME"), (13, 18, "CITY"), (19, 20, "ZIP"), (21, 22, "ZIP"),
                                   (23, 24, "ZIP")]


def test_ignored_spans_are_neither_hits_nor_errors():
    gold = [(0, 4, "FIRSTNAME")]
    pred = [(0, 4, "FIRSTNAME"), (10, 14, "CITY"), (20, 22, "AGE")]
    report = evaluate([("en", gold, pred, [(8, 16, "presidio:TITLE")])])
    assert (report.micro.tp, report.micro.fp) == (1, 1)  # CITY inside the ignored span is not counted
    assert report.masking.fp == 2  # only AGE's characters


def _random_examples(rng, n):
    labels = ("FIRSTNAME", "EMAIL", "CITY", "IBAN")
    examples = []
    for i in range(n):
        gold = [(10 * k, 10 * k + rng.integers(2, 9), labels[rng.integers(len(labels))]) for k in range(rng.integers(0, 5))]
        pred = [g if rng.random() < 0.8 else (g[0], g[1] + 1, g[2]) for g in gold if rng.random() < 0.9]
        pred += [(100, 104, labels[rng.integers(len(labels))])] if rng.random() < 0.2 else []
        examples.append(("en" if i % 2 else "de", gold, pred))
    # a label and a language in one text only: absent from many resamples, where macro F1 must not
    # count the label as 0 and neither may have an F1
    examples[0] = ("nl", examples[0][1] + [(200, 209, "PASSPORTID")], examples[0][2])
    return examples


def test_bootstrap_intervals_equal_evaluating_each_resample():
    import numpy as np

    examples = _random_examples(np.random.default_rng(3), 40)
    intervals = confidence_intervals(examples, resamples=60, seed=5)
    # the same draws, each resample evaluated the slow way: texts repeated as often as drawn
    draws = np.random.default_rng(5).multinomial(40, np.full(40, 1 / 40), size=60)
    figures = {"macro_f1": [], "micro_f1": [], "char_f2": []}
    label_f1, language_f1 = {}, {}  # per label / language, over the resamples that contain it
    for counts in draws:
        report = evaluate([e for e, c in zip(examples, counts) for _ in range(c)])
        for name in figures:
            figures[name].append(report.summary()[name])
        for label, prf in report.per_label.items():
            label_f1.setdefault(label, []).append(prf.f1)
        for language, prf in report.per_language.items():
            language_f1.setdefault(language, []).append(prf.f1)
    for name, values in figures.items():
        np.testing.assert_allclose(intervals.overall[name], np.percentile(values, [2.5, 97.5]), atol=1e-4)
    assert set(intervals.per_label) == set(label_f1) and len(label_f1["PASSPORTID"]) < 60
    for label, values in label_f1.items():
        np.testing.assert_allclose(intervals.per_label[label], np.percentile(values, [2.5, 97.5]), atol=1e-4)
    assert set(intervals.per_language) == set(language_f1) == {"de", "en", "nl"} and len(language_f1["nl"]) < 60
    for language, values in language_f1.items():
        np.testing.assert_allclose(intervals.per_language[language], np.percentile(values, [2.5, 97.5]), atol=1e-4)
    point = evaluate(examples).summary()
    assert all(lo < point[k] < hi for k, (lo, hi) in intervals.overall.items())  # a real spread around it


def test_bootstrap_intervals_of_a_perfect_model_and_of_nothing():
    gold = [("en", [(0, 4, "CITY")], [(0, 4, "CITY")])] * 5
    intervals = confidence_intervals(gold)
    assert intervals.overall == {"macro_f1": (1.0, 1.0), "micro_f1": (1.0, 1.0), "char_f2": (1.0, 1.0)}
    assert intervals.per_label == {"CITY": (1.0, 1.0)} and intervals.per_language == {"en": (1.0, 1.0)}
    empty = confidence_intervals([])
    assert empty.overall == {} and empty.per_label == {} and empty.per_language == {}


def test_paired_differences_equal_evaluating_both_systems_on_each_resample():
    import numpy as np

    a = _random_examples(np.random.default_rng(3), 40)
    rng = np.random.default_rng(4)  # system b: a's predictions without half of its correct spans
    b = [(language, gold, [p for p in pred if p not in gold or rng.random() < 0.5]) for language, gold, pred in a]
    differences = paired_differences(a, b, resamples=60, seed=5)
    draws = np.random.default_rng(5).multinomial(40, np.full(40, 1 / 40), size=60)
    deltas = {"macro_f1": [], "micro_f1": [], "char_f2": []}
    for counts in draws:  # the same resample of texts for both systems
        ra, rb = (evaluate([e for e, c in zip(x, counts) for _ in range(c)]) for x in (a, b))
        for name in deltas:
            deltas[name].append(ra.summary()[name] - rb.summary()[name])
    full_a, full_b = evaluate(a).summary(), evaluate(b).summary()
    for name, values in deltas.items():
        np.testing.assert_allclose(differences[name][1:], np.percentile(values, [2.5, 97.5]), atol=2e-4)
        assert abs(differences[name].point - (full_a[name] - full_b[name])) <= 1e-4
    assert differences["micro_f1"].low > 0  # b misses half of what a finds: a is better on any draw


def test_paired_differences_of_a_system_with_itself_and_of_different_texts():
    import numpy as np

    a = _random_examples(np.random.default_rng(3), 20)
    assert all(d == (0.0, 0.0, 0.0) for d in paired_differences(a, a).values())
    assert paired_differences([], []) == {}
    with pytest.raises(ValueError, match="same texts: 20 against 19"):
        paired_differences(a, a[1:])
    with pytest.raises(ValueError, match="differ at text 0"):
        paired_differences(a, [("xx", *a[0][1:])] + a[1:])
