from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backend.core.backups import BackupError, create_backup


class Command(BaseCommand):
    help = "Write a consistent copy of the database and the uploaded files to one archive."

    def add_arguments(self, parser):
        parser.add_argument("--output-dir", type=Path, help="Default: BACKUP_DIR (var/backups).")

    def handle(self, *args, output_dir=None, **options):
        try:
            archive = create_backup(output_dir)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(str(archive))
