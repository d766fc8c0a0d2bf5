"""Start-up secrets: generated once into owner-only files, reused, refused when weak or missing in production."""
import os
import stat

import pytest
from cryptography.fernet import Fernet

from portal import keys


def _config(tmp_path, **values):
    config = {"INSTANCE_PATH": str(tmp_path), "PORTAL_ENV": "development", "SECRET_KEY": None, "TOKEN_ENC_KEYS": None}
    config.update(values)
    return config


def test_generates_owner_only_keys_and_reuses_them(tmp_path):
    first = _config(tmp_path)
    keys.resolve(first)
    for name in (keys.SECRET_KEY_FILE, keys.TOKEN_KEYS_FILE):
        mode = stat.S_IMODE(os.stat(tmp_path / name).st_mode)
        assert mode == 0o600
    assert len(first["SECRET_KEY"]) >= 32
    Fernet(first["TOKEN_ENC_KEYS"])
    second = _config(tmp_path)
    keys.resolve(second)
    assert second["SECRET_KEY"] == first["SECRET_KEY"] and second["TOKEN_ENC_KEYS"] == first["TOKEN_ENC_KEYS"]


def test_environment_wins_over_files(tmp_path):
    keys.resolve(_config(tmp_path))
    key = Fernet.generate_key().decode()
    config = _config(tmp_path, SECRET_KEY="k" * 20 + "abcdefghijklmnop", TOKEN_ENC_KEYS=key)
    keys.resolve(config)
    assert config["TOKEN_ENC_KEYS"] == key


@pytest.mark.parametrize("secret", ["changeme", "change-me-please-0123456789abcdefghij", "secret", "x" * 40, "short"])
def test_placeholder_secret_key_refused(tmp_path, secret):
    with pytest.raises(keys.KeyConfigError, match="SECRET_KEY"):
        keys.resolve(_config(tmp_path, SECRET_KEY=secret))


def test_bad_token_key_refused(tmp_path):
    with pytest.raises(keys.KeyConfigError, match="key #2 is not a valid Fernet key"):
        keys.resolve(_config(tmp_path, TOKEN_ENC_KEYS=Fernet.generate_key().decode() + ",placeholder"))


def test_production_refuses_missing_keys(tmp_path):
    with pytest.raises(keys.KeyConfigError, match="SECRET_KEY is not set"):
        keys.resolve(_config(tmp_path, PORTAL_ENV="production"))
    assert not (tmp_path / keys.SECRET_KEY_FILE).exists()
    with pytest.raises(keys.KeyConfigError, match="TOKEN_ENC_KEYS is not set"):
        keys.resolve(_config(tmp_path, PORTAL_ENV="production", SECRET_KEY="a-real-random-secret-value-0123456789"))


def test_wsgi_refuses_to_start_with_a_clear_message(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PORTAL_ENV": "production", "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "changeme",
           "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "Shop Portal cannot start: SECRET_KEY is a placeholder" in result.stderr
    assert "Traceback" not in result.stderr
