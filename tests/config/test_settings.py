from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings


def test_defaults_listen_on_loopback(tmp_path):
    s = load_settings({"DIALFUNNEL_DATA_DIR": str(tmp_path)})
    assert (s.web_host, s.agi_host, s.ami_host) == ("127.0.0.1",) * 3
    assert s.db_url == f"sqlite:///{tmp_path.resolve()}/dialfunnel.db"
    assert s.secret_key == ""


def test_file_then_environment(tmp_path):
    cfg = tmp_path / "dialfunnel.toml"
    cfg.write_text('database_url = "postgresql+psycopg://x/y"\nweb_port = 9000\nsecret_key = "s"\n')
    s = load_settings({"DIALFUNNEL_CONFIG": str(cfg), "DIALFUNNEL_WEB_PORT": "9100"})
    assert (s.db_url, s.web_port, s.secret_key) == ("postgresql+psycopg://x/y", 9100, "s")


@pytest.mark.parametrize("content, env, message", [
    ("bogus = 1\n", {}, "unknown settings: bogus"),
    ("web_port = [\n", {}, "cannot read config file"),
    ("", {"DIALFUNNEL_AGI_PORT": "many"}, "agi_port must be a number"),
    ("dialer_trunk_lines = -1\n", {}, "dialer_trunk_lines must be 0"),
])
def test_bad_settings_are_clear(tmp_path, content, env, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(content)
    with pytest.raises(SettingsError, match=message):
        load_settings({"DIALFUNNEL_CONFIG": str(cfg), **env})


def test_missing_config_file_is_clear(tmp_path):
    with pytest.raises(SettingsError, match="cannot read config file"):
        load_settings({"DIALFUNNEL_CONFIG": str(tmp_path / "nope.toml")})


def test_dead_causes_per_trunk_from_the_file_then_the_environment(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[dead_causes]\ndialfunnel-trunk = [22, 28]\n"*" = [1, 20, 22, 28]\n')
    s = load_settings({"DIALFUNNEL_CONFIG": str(cfg)})
    assert s.dead_causes == {"dialfunnel-trunk": (22, 28), "*": (1, 20, 22, 28)}
    s = load_settings({"DIALFUNNEL_CONFIG": str(cfg), "DIALFUNNEL_DEAD_CAUSES": "carrier-b=1, 3; 22,28"})
    assert s.dead_causes == {"carrier-b": (1, 3), "*": (22, 28)}
    assert load_settings({}).dead_causes == {}


@pytest.mark.parametrize("content, env, message", [
    ('dead_causes = "x"\n', {}, "needs a list of cause numbers"),
    ("[dead_causes]\ntrunk = 22\n", {}, "trunk needs a list of cause numbers"),
    ("[dead_causes]\ntrunk = [1, 200]\n", {}, "causes are 1 to 127"),
    ("dead_causes = [1]\n", {}, "must be a table"),
    ("", {"DIALFUNNEL_DEAD_CAUSES": "trunk=1,x"}, "trunk needs a list of cause numbers"),
])
def test_bad_dead_causes_are_clear(tmp_path, content, env, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(content)
    with pytest.raises(SettingsError, match=message):
        load_settings({"DIALFUNNEL_CONFIG": str(cfg), **env})


def test_the_recordings_folders(tmp_path):
    """One place names both folders (the worker, the listener, recording_done, retention, AMD
    and the web all use them)."""
    s = load_settings({"DIALFUNNEL_DATA_DIR": str(tmp_path)})
    assert (s.recordings_path, s.recordings_incoming_path) == (
        tmp_path / "recordings", tmp_path / "recordings" / "incoming")
    s = load_settings({"DIALFUNNEL_DATA_DIR": str(tmp_path),
                       "DIALFUNNEL_RECORDINGS_DIR": "/srv/recordings"})
    assert (s.recordings_path, s.recordings_incoming_path) == (
        Path("/srv/recordings"), Path("/srv/recordings/incoming"))
    s = load_settings({"DIALFUNNEL_DATA_DIR": str(tmp_path),
                       "DIALFUNNEL_RECORDINGS_INCOMING": "/var/spool/asterisk/monitor/dialfunnel"})
    assert (s.recordings_path, s.recordings_incoming_path) == (
        tmp_path / "recordings", Path("/var/spool/asterisk/monitor/dialfunnel"))


def test_the_prompts_folder(tmp_path):
    """`prompts generate` and the prompts page write where Asterisk plays (DF_PROMPTS)."""
    s = load_settings({"DIALFUNNEL_DATA_DIR": str(tmp_path)})
    assert s.prompts_path == tmp_path / "sounds" / "dialfunnel"
    s = load_settings({"DIALFUNNEL_PROMPTS_DIR": "/var/lib/asterisk/sounds/dialfunnel"})
    assert s.prompts_path == Path("/var/lib/asterisk/sounds/dialfunnel")


def test_prompts_generate_writes_to_the_prompts_folder(tmp_path, monkeypatch):
    from dialfunnel import cli
    target = tmp_path / "asterisk-sounds"
    monkeypatch.setenv("DIALFUNNEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIALFUNNEL_PROMPTS_DIR", str(target))
    assert cli.main(["prompts", "generate"]) in (0, None)
    assert (target / "abandon.wav").exists() and not (tmp_path / "data" / "sounds").exists()
