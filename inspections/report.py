"""The report of a joint inspection (procès-verbal), as PDF: dated, with the score per zone,
the findings with their photos, and the provider representative's signature.

reportlab's standard fonts use WinAnsi encoding, which covers French (é, œ, ’, « », €).
"""

import io
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from inspections import scoring, services
from inspections.models import Answer


def _p(text, style):
    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def render_report(visit) -> bytes:
    styles = getSampleStyleSheet()
    normal = styles["BodyText"]
    small = ParagraphStyle("small", parent=normal, fontSize=8, leading=10)
    zone = visit.residence.organisation.zone
    finished = timezone.localtime(visit.finished_at, zone)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=_("Joint inspection report"),
        author=visit.residence.organisation.name,
    )
    story = [
        _p(_("Joint inspection report"), styles["Title"]),
        _p(visit.residence.organisation.name, styles["Heading3"]),
        Table(
            [
                [
                    _("Residence"),
                    f"{visit.residence.name}, {visit.residence.address}, {visit.residence.postcode} {visit.residence.city}",
                ],
                [_("Date"), finished.strftime("%d/%m/%Y %H:%M")],
                [_("Agent"), visit.agent.display_name if visit.agent else ""],
                [_("Provider"), visit.contract.provider.name if visit.contract else ""],
                [_("Contract"), visit.contract.reference if visit.contract else ""],
                [_("Grid"), f"{visit.grid_version.grid.name} (v{visit.grid_version.number})"],
                [_("Score"), f"{visit.score} %" if visit.score is not None else "—"],
                [_("Result"), _("compliant") if visit.passed else _("not compliant")],
            ],
            colWidths=[40 * mm, 134 * mm],
            style=TableStyle(
                [
                    ("FONTNAME", (0, 0), (0, -1), "Helvetica-Bold"),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            ),
        ),
        Spacer(1, 6 * mm),
    ]
    items = services.visit_items(visit)
    answers = {a.item_id: a for a in Answer.objects.filter(visit=visit).prefetch_related("photos")}
    score = scoring.of_items(items, answers)
    story.append(_p(_("Score per zone"), styles["Heading2"]))
    table = [[_("Zone"), _("Score")]] + [
        [z.name, f"{z.percent} %" if z.percent is not None else "—"] for z in score.zones
    ]
    story.append(
        Table(
            table,
            colWidths=[130 * mm, 44 * mm],
            style=TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ]
            ),
        )
    )
    story.append(Spacer(1, 6 * mm))
    story.append(_p(_("Findings"), styles["Heading2"]))
    findings = [
        (item.label, item.zone.name, answers[item.pk])
        for item in items
        if item.pk in answers and answers[item.pk].is_defect
    ]
    if not findings:
        story.append(_p(_("No finding: every item is compliant or not applicable."), normal))
    for label, zone_name, answer in findings:
        story.append(
            _p(
                f"{zone_name} — {label} : {answer.get_value_display()} ({answer.get_cause_display()})",
                normal,
            )
        )
        if answer.comment:
            story.append(_p(answer.comment, small))
        for photo in answer.photos.all()[:4]:
            with photo.thumbnail.open("rb") as handle:
                data = io.BytesIO(handle.read())
            image = Image(data)
            ratio = min(60 * mm / image.imageWidth, 45 * mm / image.imageHeight)
            image.drawWidth, image.drawHeight = image.imageWidth * ratio, image.imageHeight * ratio
            story.append(image)
        story.append(Spacer(1, 3 * mm))
    story.append(Spacer(1, 8 * mm))
    story.append(
        _p(
            _("Signed by the provider's representative: %(name)s") % {"name": visit.signatory_name},
            normal,
        )
    )
    if visit.signature:
        with visit.signature.open("rb") as handle:
            signature = Image(io.BytesIO(handle.read()))
        ratio = min(70 * mm / signature.imageWidth, 30 * mm / signature.imageHeight)
        signature.drawWidth, signature.drawHeight = (
            signature.imageWidth * ratio,
            signature.imageHeight * ratio,
        )
        story.append(signature)
    doc.build(story)
    return out.getvalue()
