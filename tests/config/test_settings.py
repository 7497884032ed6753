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


def test_servers_default_to_the_one_of_the_ami_keys(tmp_path):
    s = load_settings({"DIALFUNNEL_AMI_PORT": "5039", "DIALFUNNEL_DIALER_TRUNK_LINES": "30"})
    [one] = s.ami_servers
    assert (one.name, one.ami_port, one.trunk_lines, one.extensions) == ("default", 5039, 30, ())
    assert one.has_extension("8001") and one.has_extension(None)


def test_servers_from_the_file_then_the_environment(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('ami_secret = "shared"\n'
                   '[[servers]]\nname = "pbx1"\nami_host = "10.0.0.1"\ntrunk_lines = 60\nextensions = "8000-8099, 8150"\n'
                   '[[servers]]\nname = "pbx2"\nami_port = 5040\nami_secret = "own"\nextensions = ["8100-8149"]\n')
    s = load_settings({"DIALFUNNEL_CONFIG": str(cfg)})
    pbx1, pbx2 = s.ami_servers
    assert (pbx1.ami_host, pbx1.ami_port, pbx1.ami_secret, pbx1.trunk_lines) == ("10.0.0.1", 5038, "shared", 60)
    assert pbx1.extensions == ((8000, 8099), (8150, 8150)) and pbx2.extensions == ((8100, 8149),)
    assert (pbx2.ami_port, pbx2.ami_secret) == (5040, "own")
    assert pbx1.has_extension("8150") and not pbx1.has_extension("8100") and pbx2.has_extension("8100")
    assert not pbx1.has_extension("abc") and not pbx1.has_extension(None)
    env = load_settings({"DIALFUNNEL_CONFIG": str(cfg),
                         "DIALFUNNEL_SERVERS": '[{"name": "only", "extensions": "1-9"}]'})
    assert [x.name for x in env.ami_servers] == ["only"]


@pytest.mark.parametrize("servers, message", [
    ('"[x"', "JSON list"),
    ('"{}"', "list of tables"),
    ('[{"extensions": "1-2"}]', "needs a name"),
    ('[{"name": "a", "extensions": "1-2"}, {"name": "a", "extensions": "3"}]', "needs a name of its own"),
    ('[{"name": "a", "extensions": "1-20"}, {"name": "b", "extensions": "10-30"}]', "10-30 are given twice"),
    ('[{"name": "a", "extensions": "1-2"}, {"name": "b"}]', "each needs its extensions"),
    ('[{"name": "a", "extensions": "9-1"}]', "runs backwards"),
    ('[{"name": "a", "extensions": "80x"}]', "must be numbers or ranges"),
    ('[{"name": "a", "trunk_lines": -1}]', "trunk_lines must be 0"),
    ('[{"name": "a", "ami_port": "many"}]', "must be numbers"),
    ('[{"name": "a", "secret": "s"}]', "unknown keys secret"),
])
def test_bad_servers_are_clear(servers, message):
    with pytest.raises(SettingsError, match=message):
        load_settings({"DIALFUNNEL_SERVERS": servers.strip('"') if servers.startswith('"') else servers})
