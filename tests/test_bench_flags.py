"""The benchmarks refuse a world no call centre can have with a usage error that names the
flag (exit status 2), before they build anything: bench/world_flags.py, and each script's
use of it, parsing its real command line in this process."""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys

import pytest

from tests.repo_paths import ROOT

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench.world_flags import COUNT, SHARE, check, ints  # noqa: E402

BAD = [   # script, arguments, what the error names
    ("voice_campaign", ["--answer", "1.5"], "--answer: 1.5 is not a share between 0 and 1"),
    ("voice_campaign", ["--answer", "0.6", "--machine", "0.5"], "more than the whole"),
    ("voice_campaign", ["--lines", "20,x"], "--lines"),
    ("voice_campaign", ["--ring-min", "20", "--ring-max", "3"], "--ring-min (20.0) is above --ring-max"),
    ("dialer_servers", ["--servers", "0"], "--servers: 0 is not a whole number of at least 1"),
    ("dialer_servers", ["--kill", "pbx9"], "--kill: 'pbx9' is not one of the servers"),
    ("pacing_model", ["--pacers", "greedy"], "--pacers: unknown greedy"),
    ("pacing_model", ["--hours", "nan"], "--hours: nan is not a number above 0"),
    ("wallboard", ["--talk", "40", "5"], "--talk: its MIN (40.0) is above its MAX (5.0)"),
    ("web_load", ["--clients", "0"], "--clients: 0 is not a whole number of at least 1"),
    ("dialer_decisions", ["--agents", "-5"], "--agents: -5"),
    ("early_media", ["--ulaw-share", "2"], "--ulaw-share: 2.0 is not a share"),
    ("talk_analytics", ["--rounds", "0"], "--rounds: 0"),
    ("amd_accuracy", ["--count", "0"], "--count: 0"),
    ("import_export", ["--rows", "-1"], "--rows: -1"),
    ("crm_scale", ["--repeat", "0"], "--repeat: 0"),
    ("dialer_sim", ["--agents", "0,20"], "--agents: 0 is not a whole number of at least 1"),
    ("dialer_sim", ["--answer", "0.9", "--dead", "0.2"], "more than the whole"),
    ("dialer_sim", ["--pacers", "greedy"], "--pacers: unknown greedy"),
    ("agi_load", ["--levels", "100", "0"], "--levels: 0"),
    ("agi_load", ["--db-pool-size", "0"], "--db-pool-size: 0"),
    ("call_log", ["--talk", "6", "2"], "--talk: its MIN (6.0) is above its MAX (2.0)"),
    ("call_log", ["--mix", "inbound=1,fax=1"], "--mix: unknown kind 'fax'"),
]


LOADED: dict = {}     # a script is loaded once
OWN_PROCESS = {"agi_load"}   # registers a FastAGI handler of its own when loaded: not in ours


def run_main(name: str, argv: list[str], monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", [f"bench/{name}.py", *argv])
    monkeypatch.setattr(sys, "path", list(sys.path))      # the scripts put their folders first
    module = LOADED.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
        module = LOADED[name] = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module                   # its dataclasses look themselves up
        spec.loader.exec_module(module)
    main = module.main
    main(argv) if main.__code__.co_argcount else main()


@pytest.mark.parametrize("name, argv, says", BAD, ids=[f"{n}{' '.join(a)}" for n, a, _ in BAD])
def test_a_world_no_centre_can_have_is_refused_naming_the_flag(name, argv, says, monkeypatch,
                                                              capsys):
    if name in OWN_PROCESS:
        done = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), *argv],
                              capture_output=True, text=True, timeout=120)
        code, err = done.returncode, done.stderr
    else:
        with pytest.raises(SystemExit) as stopped:
            run_main(name, argv, monkeypatch)
        code, err = stopped.value.code, capsys.readouterr().err
    assert code == 2
    assert says in err and "Traceback" not in err


def test_check_lets_a_possible_world_through_and_reads_lists():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=ints, default="5,20")
    parser.add_argument("--answer", type=float, default=0.3)
    args = parser.parse_args(["--agents", "1,500"])
    check(parser, args, {"agents": COUNT, "answer": SHARE})
    assert args.agents == [1, 500]
    with pytest.raises(SystemExit):
        check(parser, parser.parse_args(["--agents", "3,0"]), {"agents": COUNT})
