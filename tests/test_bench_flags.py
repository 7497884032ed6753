"""The benchmarks refuse a world no call centre can have with a usage error that names the
flag (exit status 2), before they build anything: bench/world_flags.py, and each script's
use of it, parsing its real command line in this process."""
from __future__ import annotations

import argparse
import importlib.util
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
]


def run_main(name: str, argv: list[str], monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", [f"bench/{name}.py", *argv])
    monkeypatch.setattr(sys, "path", list(sys.path))      # the scripts put their folders first
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)   # its dataclasses look themselves up
    spec.loader.exec_module(module)
    main = module.main
    main(argv) if main.__code__.co_argcount else main()


@pytest.mark.parametrize("name, argv, says", BAD, ids=[f"{n}{' '.join(a)}" for n, a, _ in BAD])
def test_a_world_no_centre_can_have_is_refused_naming_the_flag(name, argv, says, monkeypatch,
                                                              capsys):
    with pytest.raises(SystemExit) as stopped:
        run_main(name, argv, monkeypatch)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
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
