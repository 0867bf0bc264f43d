from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import render
from django.views.decorators.http import require_GET

from backend.accounts.scoping import get_scoped_or_404, may_see_personal_data, scoped
from backend.core.text import search_terms
from backend.estate import services
from backend.estate.models import Building, Equipment, EstateDocument, Residence


@require_GET
@login_required
def residence_list(request):
    query = request.GET.get("q", "")[:100]
    residences = scoped(request.user, Residence).select_related("agency")
    for term in search_terms(query):
        residences = residences.filter(search_text__contains=term)
    page = Paginator(residences.order_by("name", "pk"), 30).get_page(request.GET.get("page"))
    return render(request, "estate/residence_list.html", {"page": page, "query": query})


@require_GET
@login_required
def residence_detail(request, pk: int):
    residence = get_scoped_or_404(request.user, Residence.objects.select_related("agency"), pk=pk)
    buildings = (
        scoped(request.user, Building)
        .filter(residence=residence)
        .prefetch_related("entrances")
        .annotate(units_total=Count("entrances__units"))
        .order_by("name")
    )
    equipment = (
        scoped(request.user, Equipment)
        .filter(residence=residence)
        .select_related("building", "entrance")
    )
    documents = scoped(request.user, EstateDocument).filter(residence=residence)
    units_per_building = [(b.name, b.units_total) for b in buildings]
    return render(
        request,
        "estate/residence_detail.html",
        {
            "residence": residence,
            "buildings": buildings,
            "equipment": equipment,
            "documents": documents,
            "units_per_building": units_per_building,
        },
    )


@require_GET
@login_required
def search(request):
    query = request.GET.get("q", "")[:200]
    hits = []
    total = 0
    if query.strip():
        units = services.search_units(request.user, query)
        total = units.count()
        hits = services.search_hits(units[:50])
    return render(
        request,
        "estate/search.html",
        {
            "query": query,
            "hits": hits,
            "total": total,
            "personal": may_see_personal_data(request.user),
        },
    )
