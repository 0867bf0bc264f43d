"""CSV import as a landlord's ERP writes it: `;`, UTF-8 (BOM or not) or Windows-1252,
DD/MM/YYYY. Bad rows are reported by line, good rows loaded, re-runs update, bad files
change nothing."""

import pytest
from django.core.management import CommandError, call_command

from backend.estate import models as m
from backend.estate.importers import ImportFileError, import_file

RESIDENCES = """code_agence;code_residence;nom;adresse;code_postal;ville;nb_logements;frequence_controle
01;R10;Les Érables;3 rue Pasteur;37000;Tours;24;Mensuelle
01;R11;Le Clos Fleuri;8 allée des Roses;37300;Joué-lès-Tours;180;hebdomadaire
99;R12;Agence inconnue;1 rue;37000;Tours;10;mensuelle
01;R13;Code postal faux;1 rue;370;Tours;10;mensuelle
01;R14;Nombre faux;1 rue;37000;Tours;beaucoup;mensuelle
"""
BUILDINGS = "code_residence;code_batiment;nom\nR10;B1;Bâtiment A\nR11;B1;Bâtiment A\n"
ENTRANCES = "code_residence;code_batiment;code_entree;nom;adresse\nR10;B1;E1;Entrée 1;3 rue Pasteur\nR11;B1;E1;Entrée 1;8 allée des Roses\n"
UNITS = "code_residence;code_batiment;code_entree;code_logement;type;etage;porte;pieces\nR10;B1;E1;001;Appartement;0;01;3\nR10;B1;E1;002;appartement;1;11;4\nR11;B1;E1;001;Maison;;;5\n"
LEASES = """reference_contrat;code_residence;code_batiment;code_entree;code_logement;numero_module;mode_paiement;date_debut;date_fin
L/0012345;R10;B1;E1;001;07;Prélèvement;01/03/2019;
0012346;R10;B1;E1;002;08;virement;15/09/2021;30/11/2026
0012347;R11;B1;E1;001;09;chèque;31/02/2020;
0012348;R10;B1;E1;999;01;virement;01/01/2020;
"""
TENANTS = """reference_contrat;nom;prenom;role;mobile;email;canal_prefere
0012345;Lefèvre;Hélène;titulaire;06 39 98 00 01;helene@example.org;sms
0012345;Lefèvre;Noé;cotitulaire;;noe@example.org;
0012346;Martin;Paul;titulaire;01 23;;sms
0012346;Martin;Jeanne;titulaire;;pas-un-email;email
"""


def load(kind, text, organisation, encoding="utf-8"):
    return import_file(kind, text.encode(encoding), organisation)


@pytest.fixture
def imported(estate):
    org = estate.organisation
    reports = {
        "residences": load("residences", RESIDENCES, org),
        "batiments": load("batiments", BUILDINGS, org),
        "entrees": load("entrees", ENTRANCES, org),
        "logements": load("logements", UNITS, org),
        "baux": load("baux", LEASES, org),
        "locataires": load("locataires", TENANTS, org),
    }
    return org, reports


def test_good_rows_are_loaded_and_bad_rows_reported_with_their_line(imported):
    org, reports = imported
    residences = reports["residences"]
    assert residences.created == 2
    assert [(e.line, e.message) for e in residences.errors] == [
        (4, "Agence «\u00a099\u00a0» inconnue."),
        (5, "code_postal\u00a0: «\u00a0370\u00a0» n’est pas un code postal français."),
        (6, "nb_logements\u00a0: «\u00a0beaucoup\u00a0» n’est pas un nombre entier."),
    ]
    erables = m.Residence.objects.get(organisation=org, code="R10")
    assert erables.units_count == 24 and erables.inspection_frequency == 30
    assert m.Residence.objects.get(organisation=org, code="R11").inspection_frequency == 7
    assert reports["logements"].created == 3
    leases = reports["baux"]
    assert leases.created == 2
    assert [e.line for e in leases.errors] == [4, 5]
    assert "date_debut" in leases.errors[0].message
    lease = m.Lease.objects.get(organisation=org, reference="0012345")
    assert lease.payment_method == "direct_debit" and lease.module_number == "07"
    assert str(lease.start_date) == "2019-03-01"
    tenants = reports["locataires"]
    assert tenants.created == 2
    assert [e.line for e in tenants.errors] == [4, 5]
    helene = m.Person.objects.get(first_name="Hélène")
    assert helene.mobile == "+33639980001" and helene.preferred_channel == "sms"
    assert m.Person.objects.get(first_name="Noé").preferred_channel == "email"
    assert helene.household.name == "Foyer Lefèvre"


def test_a_second_run_updates_instead_of_duplicating(imported):
    org, _ = imported
    changed = RESIDENCES.replace("Les Érables;3 rue Pasteur", "Les Érables;5 rue Pasteur")
    report = load("residences", changed, org)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert m.Residence.objects.get(organisation=org, code="R10").address == "5 rue Pasteur"
    assert m.Residence.objects.filter(organisation=org, code="R10").count() == 1
    again = load("locataires", TENANTS, org)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert m.Person.objects.filter(first_name="Hélène").count() == 1


def test_windows_1252_and_bom_files_are_read(estate):
    org = estate.organisation
    report = load("residences", RESIDENCES, org, encoding="cp1252")
    assert report.encoding == "cp1252" and report.created == 2
    assert m.Residence.objects.get(organisation=org, code="R10").name == "Les Érables"
    report = import_file("residences", "\ufeff".encode() + RESIDENCES.encode(), org)
    assert report.encoding == "utf-8-sig" and report.unchanged == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"code_agence;code_residence\n01;\x81\x8d\n", "ni en UTF-8 ni en Windows-1252"),
        (RESIDENCES.replace(";", ",").encode(), "virgules"),
        (b"code_agence;code_residence;nom\n01;R10;X\n", "Colonnes manquantes"),
        (b"", "vide"),
    ],
)
def test_a_bad_file_is_refused_whole_with_a_french_reason(estate, data, message):
    with pytest.raises(ImportFileError) as info:
        import_file("residences", data, estate.organisation)
    assert message in str(info.value)
    assert not m.Residence.objects.filter(code="R10").exists()


def test_a_crash_while_writing_leaves_nothing_half_imported(estate, monkeypatch):
    from backend.estate import importers

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importers.ResidenceImporter, "save", explode)
    with pytest.raises(RuntimeError):
        import_file("residences", RESIDENCES.encode(), estate.organisation)
    assert not m.Residence.objects.filter(code__in=["R10", "R11"]).exists()


def test_the_command_reports_rows_and_exits_non_zero_on_rejections(estate, tmp_path, capsys):
    path = tmp_path / "residences.csv"
    path.write_bytes(RESIDENCES.encode("cp1252"))
    with pytest.raises(CommandError) as info:
        call_command("import_estate", "residences", str(path), organisation="TST")
    assert "3 ligne(s) rejetée(s)" in str(info.value)
    captured = capsys.readouterr()
    assert "Ligne 4\u00a0: Agence «\u00a099\u00a0» inconnue." in captured.err
    assert "2 créé(s)" in captured.out
    assert m.Residence.objects.filter(code="R10").exists()


def test_the_command_dry_run_writes_nothing(estate, tmp_path):
    path = tmp_path / "residences.csv"
    path.write_text(RESIDENCES.splitlines()[0] + "\n" + RESIDENCES.splitlines()[1] + "\n")
    call_command("import_estate", "residences", str(path), organisation="TST", dry_run=True)
    assert not m.Residence.objects.filter(code="R10").exists()


LEASE_HEADER = "reference_contrat;code_residence;code_batiment;code_entree;code_logement;date_debut;code_foyer\n"


def test_a_household_code_groups_leases_also_across_imports(imported):
    org, _ = imported
    load(
        "logements", "code_residence;code_batiment;code_entree;code_logement\nR10;B1;E1;003\n", org
    )
    first = load("baux", LEASE_HEADER + "0099001;R11;B1;E1;001;01/01/2024;F-1\n", org)
    second = load("baux", LEASE_HEADER + "0099002;R10;B1;E1;003;01/01/2024;F-1\n", org)
    assert first.created == second.created == 1, (first.errors, second.errors)
    households = {
        lease.household_id for lease in m.Lease.objects.filter(reference__startswith="00990")
    }
    assert len(households) == 1
    assert m.Household.objects.get(pk=households.pop()).external_code == "F-1"


def test_two_leases_at_once_on_one_unit_are_refused(imported):
    org, _ = imported
    report = load("baux", LEASE_HEADER + "0099003;R10;B1;E1;001;01/01/2024;\n", org)
    assert report.created == 0
    assert "L0012345" in report.errors[0].message
    # Once the tenant of 002 has moved out (30/11/2026), the next lease is welcome.
    report = load("baux", LEASE_HEADER + "0099004;R10;B1;E1;002;01/12/2026;\n", org)
    assert report.created == 1, report.errors


def test_missing_optional_columns_change_nothing(imported):
    org, _ = imported
    load("locataires", "reference_contrat;nom;prenom\n0012345;Lefèvre;Hélène\n", org)
    helene = m.Person.objects.get(first_name="Hélène")
    assert helene.mobile == "+33639980001" and helene.email == "helene@example.org"
    assert helene.preferred_channel == "sms"
    header = "reference_contrat;code_residence;code_batiment;code_entree;code_logement;date_debut\n"
    report = load("baux", header + "0012345;R10;B1;E1;001;01/03/2019\n", org)
    assert report.unchanged == 1, report
    lease = m.Lease.objects.get(reference="0012345")
    assert lease.payment_method == "direct_debit" and lease.module_number == "07"


def test_a_renamed_residence_and_a_moved_entrance_reach_the_units(imported):
    org, _ = imported
    renamed = (
        RESIDENCES.splitlines()[0]
        + "\n01;R10;Les Grands Érables;3 rue Pasteur;37000;Tours;24;Mensuelle\n"
    )
    load("residences", renamed, org)
    unit = m.Unit.objects.get(residence__code="R10", code="001")
    assert "grands erables" in unit.search_text
    load("batiments", "code_residence;code_batiment;nom\nR11;B2;Bâtiment B\n", org)
    entrance = m.Entrance.objects.get(building__residence__code="R10", code="E1")
    entrance.building = m.Building.objects.get(residence__code="R11", code="B2")
    entrance.save()
    unit.refresh_from_db()
    lease = m.Lease.objects.get(reference="0012345")
    assert unit.residence.code == "R11" and lease.residence.code == "R11"
    assert "batiment b" in unit.search_text


def test_a_file_mixing_two_encodings_is_refused(estate):
    data = (
        RESIDENCES.splitlines()[0].encode()
        + b"\n"
        + "01;R10;Les Érables;1 rue;37000;Tours;1;mensuelle".encode()
    )
    data += b"\n" + "01;R11;Les Cèdres;1 rue;37000;Tours;1;mensuelle".encode("cp1252") + b"\n"
    with pytest.raises(ImportFileError) as info:
        import_file("residences", data, estate.organisation)
    assert "La ligne 3" in str(info.value) and "deux encodages" in str(info.value)
