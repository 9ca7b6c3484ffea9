def _submit(at, text):
    at.text_area(key="case_text").set_value(text)
    at.button[0].click()  # the form's submit button
    at.run()
    assert not at.exception, at.exception
    return at


def test_case_page_shows_ranked_differential(app):
    at = _submit(app, "I have a fever and a bad cough with chills")
    assert not at.error
    md = " ".join(m.value for m in at.markdown) + " ".join(h.value for h in at.html)
    assert "Ranked differential" in " ".join(h.value for h in at.subheader)
    table = at.dataframe[0].value
    assert list(table.columns) == ["#", "Probability (%)", "Diagnosis"]
    cells = table["Probability (%)"].tolist()  # text: "12.3", "<0.1" (never "0.0" for a probability above 0)
    values = [0.0 if c.startswith("<") else float(c) for c in cells]
    assert abs(sum(values) - 100) < 1.0 or len(table) == 3
    assert "0.0" not in cells
    assert set(table["Diagnosis"]) <= {"flu", "migraine", "rash"}
    assert "Decision support for clinicians" in " ".join(i.value for i in at.info)
    assert "fever" in md  # the highlighted case text


def test_case_page_empty_input_warns(app):
    at = _submit(app, "   ")
    assert any("empty" in w.value for w in at.warning)
    assert not at.dataframe


def test_case_page_escapes_html(app):
    at = _submit(app, "fever <script>alert('x')</script> cough")
    html_blocks = [m.value for m in at.html if "<span" in m.value]  # st.html: never parsed as Markdown
    assert html_blocks, "highlighted text missing"
    assert "<script" not in html_blocks[0] and "</script" not in html_blocks[0]
    assert "&lt;" in html_blocks[0] and "&#x27;" in html_blocks[0]


def test_case_page_odd_inputs_do_not_crash(app):
    for text in ["发烧了 😷😷", "x" * 100_000, "🤒", "fever " * 50]:
        at = _submit(app, text)
        assert at.warning, f"expected a warning for {text[:20]!r}"


def test_a_saved_case_loses_the_identifiers_found_and_says_so(app):
    """Session 14 (a newcomer pasted a letter headed "Re: Mr John Harris"): a saved case text is stored without the
    names, dates and numbers medviz.text.vocab.remove_identifiers finds, and the page names the kinds removed."""
    from medviz.store import cases, get_engine

    at = _submit(app, "Re: Mr John Harris, DOB 12/03/1950. Fever and a bad cough with chills for 3 days")
    next(b for b in at.button if b.label == "💾 Save case for outcome feedback").click()
    at.run()
    assert not at.exception, at.exception
    assert any("Removed before saving: a name after a title or a name field, a date" in i.value for i in at.info)
    assert any("Do not enter names" in c.value for c in at.caption)
    (saved,) = cases.list_cases(get_engine(), created_by="tester")
    text = cases.get_case(get_engine(), saved.case_id, decrypt=True).content
    assert "Harris" not in text and "1950" not in text
    assert text == "[removed], DOB [removed]. Fever and a bad cough with chills for 3 days"


def test_remove_identifiers_keeps_clinical_text():
    from medviz.text.vocab import remove_identifiers

    clinical = "72M, 2/7 productive cough, T 39.2, SpO2 88% RA, denies CP. BP 120/80, HR 100. Patient: known to renal"
    assert remove_identifiers(clinical) == (clinical, [])
    assert remove_identifiers("Dear Dr Smith, thank you for seeing Mrs A. Patel; Ms. O'Brien and Prof Chan-Lee") == (
        "Dear [removed], thank you for seeing [removed]; [removed] and [removed]", ["name"])
    assert remove_identifiers("Name: Jane Doe\nNHS 943 476 5919") == ("[removed]\nNHS [removed]", ["name", "phone"])

