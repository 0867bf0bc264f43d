"""A backup holds a consistent copy of the database and the uploaded files; a restore
brings both back (round trip on SQLite and PostgreSQL: the suite runs on both)."""

import tarfile

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from backend.core.backups import BackupError, create_backup, restore_backup
from backend.estate import models as m


@pytest.fixture
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.mark.django_db(transaction=True)
def test_a_backup_round_trip_restores_database_and_files(tmp_path, media_root):
    org = m.Organisation.objects.create(code="BK", name="Sauvegarde")
    agency = m.Agency.objects.create(organisation=org, code="01", name="Agence")
    residence = m.Residence.objects.create(
        agency=agency,
        code="R1",
        name="Les Tilleuls",
        address="1 rue",
        postcode="37000",
        city="Tours",
    )
    document = m.EstateDocument(residence=residence, title="Règlement", kind="rules")
    document.file.save("reglement.pdf", ContentFile(b"%PDF-1.4 original"), save=True)

    archive = create_backup(tmp_path / "backups")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "manifest.json" in names and any(n.startswith("media/") for n in names)

    residence.name = "Renommée après la sauvegarde"
    residence.save()
    m.Residence.objects.create(
        agency=agency, code="R2", name="Nouvelle", address="2 rue", postcode="37000", city="Tours"
    )
    (media_root / document.file.name).write_bytes(b"corrupted")

    restore_backup(archive)

    assert list(m.Residence.objects.values_list("code", "name")) == [("R1", "Les Tilleuls")]
    restored = m.EstateDocument.objects.get()
    assert (media_root / restored.file.name).read_bytes() == b"%PDF-1.4 original"


@pytest.mark.django_db(transaction=True)
def test_the_commands_write_and_read_an_archive(tmp_path, media_root, capsys):
    m.Organisation.objects.create(code="CMD", name="Commande")
    call_command("backup", output_dir=tmp_path)
    archive = capsys.readouterr().out.strip()
    assert archive.endswith(".tar.gz")
    m.Organisation.objects.all().delete()
    call_command("restore", archive, yes=True)
    assert m.Organisation.objects.filter(code="CMD").exists()


def test_a_file_that_is_not_a_backup_is_refused(tmp_path, db):
    bogus = tmp_path / "bogus.tar.gz"
    with tarfile.open(bogus, "w:gz") as tar:
        note = tmp_path / "note.txt"
        note.write_text("hello")
        tar.add(note, arcname="note.txt")
    with pytest.raises(BackupError):
        restore_backup(bogus)
    with pytest.raises(BackupError):
        restore_backup(tmp_path / "missing.tar.gz")
