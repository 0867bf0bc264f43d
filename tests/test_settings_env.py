import pytest

from backend import env


def test_typed_helpers_read_and_fail_loudly(monkeypatch):
    monkeypatch.setenv("X_BOOL", "oui")
    with pytest.raises(env.ConfigurationError, match="X_BOOL"):
        env.env_bool("X_BOOL")
    monkeypatch.setenv("X_BOOL", "TRUE")
    assert env.env_bool("X_BOOL") is True
    monkeypatch.setenv("X_INT", "douze")
    with pytest.raises(env.ConfigurationError, match="X_INT"):
        env.env_int("X_INT", 1)
    monkeypatch.setenv("X_INT", "0")
    with pytest.raises(env.ConfigurationError, match="at least 1"):
        env.env_int("X_INT", 5, minimum=1)
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env.env_list("X_LIST") == ["a", "b", "c"]
    monkeypatch.setenv("X_CHOICE", "rabbitmq")
    with pytest.raises(env.ConfigurationError, match="q2, celery"):
        env.env_choice("X_CHOICE", ["q2", "celery"], "q2")
    monkeypatch.setenv("X_RATES", "36180=30, RONDE=10")
    assert env.env_rates("X_RATES") == {"36180": 30.0, "RONDE": 10.0}
    monkeypatch.setenv("X_RATES", "36180:30")
    with pytest.raises(env.ConfigurationError, match="SENDER=rate"):
        env.env_rates("X_RATES")
    monkeypatch.delenv("X_MISSING", raising=False)
    assert env.env_str("X_MISSING", "default") == "default"


def test_a_bad_database_url_stops_the_start(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import backend.settings"],
        env={"DATABASE_URL": "mysql://nope/x", "RONDE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        cwd=str(__import__("pathlib").Path(__file__).parent.parent),
    )
    assert result.returncode != 0 and "DATABASE_URL" in result.stderr


def test_every_environment_variable_is_documented():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    settings_text = (root / "backend" / "settings.py").read_text()
    variables = set(
        re.findall(
            r'env_(?:str|bool|int|list|choice|decimal|rates)\(\s*"([A-Z0-9_]+)"', settings_text
        )
    )
    documented = (root / "docs" / "configuration.md").read_text()
    missing = sorted(v for v in variables if f"`{v}`" not in documented)
    assert variables and not missing, missing
