from xml.etree import ElementTree

from backend.core.charts import bar_chart, line_chart


def svg_of(html: str) -> ElementTree.Element:
    start, end = html.index("<svg"), html.index("</svg>") + len("</svg>")
    return ElementTree.fromstring(html[start:end])


def test_bar_widths_are_proportional_and_the_target_is_drawn():
    html = bar_chart("Visites", [("A", 10), ("B", 5), ("C", None)], target=8, max_value=10)
    svg = svg_of(html)
    ns = "{http://www.w3.org/2000/svg}"
    rects = svg.findall(f"{ns}rect") or svg.findall("rect")
    widths = [float(r.get("width")) for r in rects]
    assert widths[0] == 2 * widths[1] and widths[2] == 0
    line = svg.find("line") if svg.find("line") is not None else svg.find(f"{ns}line")
    assert float(line.get("x1")) == 0.8 * widths[0]
    assert "A : 10" in html and "C : —" in html  # text alternative, missing value shown


def test_labels_and_values_are_escaped():
    html = bar_chart("<b>titre</b>", [("<script>", 1)])
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_line_chart_breaks_on_gaps_and_lists_its_data():
    html = line_chart(
        "Conformité",
        ["S1", "S2", "S3", "S4"],
        {"Ronde": [80, None, 90, 95], "Cible": [85, 85, 85, 85]},
        unit="%",
    )
    svg = svg_of(html)
    polylines = [el for el in svg.iter() if el.tag.endswith("polyline")]
    assert len(polylines) == 3  # the gap splits the first series in two
    assert "S3 : 90" in html and html.count("<tr>") == 3
    assert "chart-legend" in html


def test_an_empty_chart_says_so():
    assert "Aucune donnée" in bar_chart("Vide", [])
