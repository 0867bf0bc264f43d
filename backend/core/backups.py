"""Backups: one archive holds a consistent copy of the database and the uploaded files.

- SQLite: `VACUUM INTO` writes a consistent copy while the web server and the worker go on.
- PostgreSQL: `pg_dump --format=custom` (a consistent snapshot), restored with `pg_restore
  --clean`. The client tools must match the server's major version.

Archive layout (tar.gz): manifest.json, database.sqlite3 or database.pgdump, media/...
Restoring replaces the database and the media folder; run it with the server stopped.
"""

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

FORMAT_VERSION = 1


class BackupError(Exception):
    pass


def _pg_env(db: dict) -> tuple[list[str], dict]:
    args = [
        "--host",
        db.get("HOST") or "127.0.0.1",
        "--port",
        str(db.get("PORT") or 5432),
        "--username",
        db.get("USER") or "postgres",
    ]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return args, env


def _run(command: list[str], env=None) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[:2000]}")


def create_backup(destination_dir: Path | None = None) -> Path:
    destination_dir = Path(destination_dir or settings.BACKUP_DIR)
    destination_dir.mkdir(parents=True, exist_ok=True)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    db = connection.settings_dict
    vendor = connection.vendor
    with tempfile.TemporaryDirectory(dir=destination_dir) as tmp:
        tmp_path = Path(tmp)
        if vendor == "sqlite":
            db_file = tmp_path / "database.sqlite3"
            with connection.cursor() as cursor:
                cursor.execute("VACUUM INTO %s", [str(db_file)])
        elif vendor == "postgresql":
            db_file = tmp_path / "database.pgdump"
            args, env = _pg_env(db)
            _run(
                [
                    "pg_dump",
                    *args,
                    "--format=custom",
                    "--no-owner",
                    "--file",
                    str(db_file),
                    db["NAME"],
                ],
                env,
            )
        else:
            raise BackupError(f"Unsupported database: {vendor}")
        manifest = {
            "format": FORMAT_VERSION,
            "created_at": timezone.now().isoformat(),
            "database": vendor,
            "database_file": db_file.name,
            "media_files": sum(1 for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())
            if Path(settings.MEDIA_ROOT).exists()
            else 0,
        }
        (tmp_path / "manifest.json").write_text(json.dumps(manifest, indent=2))
        archive = destination_dir / f"ronde-{stamp}.tar.gz"
        partial = archive.with_suffix(".partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(tmp_path / "manifest.json", arcname="manifest.json")
            tar.add(db_file, arcname=db_file.name)
            media = Path(settings.MEDIA_ROOT)
            if media.exists():
                tar.add(media, arcname="media")
        partial.replace(archive)
    return archive


def restore_backup(archive: Path) -> dict:
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"No such backup: {archive}")
    vendor = connection.vendor
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(tmp_path, filter="data")
        try:
            manifest = json.loads((tmp_path / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise BackupError(f"Not a Ronde backup (manifest unreadable): {exc}") from None
        if manifest.get("format") != FORMAT_VERSION:
            raise BackupError(f"Unknown backup format {manifest.get('format')!r}")
        if manifest.get("database") != vendor:
            raise BackupError(
                f"This backup holds a {manifest.get('database')} database; the current one is {vendor}."
            )
        db_file = tmp_path / manifest["database_file"]
        db = connection.settings_dict
        connections.close_all()
        if vendor == "sqlite":
            target = Path(db["NAME"])
            staged = target.with_name(target.name + ".restoring")
            shutil.copyfile(db_file, staged)
            for suffix in ("-wal", "-shm"):
                Path(str(target) + suffix).unlink(missing_ok=True)
            staged.replace(target)
        else:
            args, env = _pg_env(db)
            _run(
                [
                    "pg_restore",
                    *args,
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    "--dbname",
                    db["NAME"],
                    str(db_file),
                ],
                env,
            )
        # The new media folder is copied beside the old one first, then swapped: a copy that
        # fails half-way leaves the current files in place.
        media = Path(settings.MEDIA_ROOT)
        restored_media = tmp_path / "media"
        staged_media = media.with_name(media.name + ".restoring")
        shutil.rmtree(staged_media, ignore_errors=True)
        if restored_media.exists():
            shutil.copytree(restored_media, staged_media)
        else:
            staged_media.mkdir(parents=True)
        old_media = media.with_name(media.name + ".old")
        shutil.rmtree(old_media, ignore_errors=True)
        if media.exists():
            media.rename(old_media)
        staged_media.rename(media)
        shutil.rmtree(old_media, ignore_errors=True)
    manifest["restored_at"] = datetime.now().isoformat()
    return manifest
