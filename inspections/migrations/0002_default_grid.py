from django.db import migrations


def create_default_grid(apps, schema_editor):
    from inspections.grids import DEFAULT_GRID, DEFAULT_GRID_NAME, parse

    Grid = apps.get_model("inspections", "Grid")
    GridVersion = apps.get_model("inspections", "GridVersion")
    Zone = apps.get_model("inspections", "Zone")
    Item = apps.get_model("inspections", "Item")
    if Grid.objects.filter(organisation=None, contract=None, name=DEFAULT_GRID_NAME).exists():
        return
    grid = Grid.objects.create(name=DEFAULT_GRID_NAME, category="cleaning", threshold=80)
    version = GridVersion.objects.create(grid=grid, number=1)
    for z_order, parsed in enumerate(parse(DEFAULT_GRID)):
        zone = Zone.objects.create(version=version, name=parsed.name, order=z_order)
        for n, item in enumerate(parsed.items):
            Item.objects.create(zone=zone, label=item.label, weight=item.weight, critical=item.critical, order=n)


class Migration(migrations.Migration):
    dependencies = [("inspections", "0001_initial")]

    operations = [migrations.RunPython(create_default_grid, migrations.RunPython.noop)]
