from pii_assets.sft import snippets


def _span(text, value, label):
    start = text.index(value)
    return {"value": value, "label": label, "start": start, "end": start + len(value)}


def test_units_split_lines_and_sentences_but_never_inside_a_value():
    text = "Kontakt: Anna Weber.\nSie wohnt in der Hauptstr. Nord 5. Tel. 030 1234 ist neu!  Danke."
    spans = [_span(text, "Anna", "FIRSTNAME"), _span(text, "Hauptstr. Nord", "STREET")]
    units = snippets.units(text, spans)
    pieces = [text[u.start:u.end] for u in units]
    assert pieces == ["Kontakt: Anna Weber.", "Sie wohnt in der Hauptstr. Nord 5.", "Tel.", "030 1234 ist neu!",
                      "Danke."]
    assert units[1].labels == {"STREET"} and units[0].labels == {"FIRSTNAME"}


def test_short_units_get_neighbours_and_long_ones_are_clipped_around_the_value():
    text = "PLZ: 10115\nOrt: Berlin\n" + "Ein langer Absatz über das Wetter " * 12 + "mit Anna am Ende " + "und mehr " * 30
    spans = [_span(text, "10115", "ZIP"), _span(text, "Anna", "FIRSTNAME")]
    units = snippets.units(text, spans)
    start, end = snippets.positive_window(text, units, spans[0], 40, 200)
    assert text[start:end] == "PLZ: 10115\nOrt: Berlin"  # extended to the next line, not into the paragraph
    start, end = snippets.positive_window(text, units, spans[1], 40, 200)
    assert "Anna" in text[start:end] and end - start <= 200
    assert text[start - 1] == " " and text[end] == " "  # cut at word boundaries


def test_negative_windows_avoid_the_label():
    text = "Name: Anna.\nDas Wetter ist schön.\nBis bald."
    spans = [_span(text, "Anna", "FIRSTNAME")]
    units = snippets.units(text, spans)
    start, end = snippets.negative_window(text, units, 1, "FIRSTNAME", 40, 200)
    assert text[start:end] == "Das Wetter ist schön.\nBis bald."
