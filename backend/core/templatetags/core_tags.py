from django import template

from backend.core import charts, files

register = template.Library()


@register.simple_tag
def bar_chart(title, items, **options):
    return charts.bar_chart(title, items, **options)


@register.simple_tag
def line_chart(title, labels, series, **options):
    return charts.line_chart(title, labels, series, **options)


@register.simple_tag
def protected_url(instance, field):
    return files.protected_url(instance, field)
