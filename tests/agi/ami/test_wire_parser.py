"""The incremental AMI parser gives the same messages however the bytes are cut (it decodes
and splits whole chunks at once)."""
from agi.ami.wire import Message, Parser, encode

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
STREAM = (BANNER
          + encode([("Response", "Success"), ("ActionID", "1"), ("Message", "Authentication accepted")])
          + encode([("Event", "UserEvent"), ("UserEvent", "通知"), ("Note", "您拨打的电话已关机"),
                    ("Empty", ""), ("Colons", "a: b:c")])
          + b"NoColon\nEvent: Bare\n\n\r\n"            # a bare \n and a stray empty line
          + encode([("Event", "Hangup"), ("Cause", "16")]))


def _feed(cuts: list[int]) -> tuple[str | None, list[list[tuple[str, str]]]]:
    parser, out, start = Parser(expect_banner=True), [], 0
    for end in [*cuts, len(STREAM)]:
        out += parser.feed(STREAM[start:end])
        start = end
    assert parser.pending_bytes == 0
    return parser.banner, [m.headers for m in out]


def test_whole_stream():
    banner, messages = _feed([])
    assert banner == "Asterisk Call Manager/11.0.0"
    assert messages == [
        [("Response", "Success"), ("ActionID", "1"), ("Message", "Authentication accepted")],
        [("Event", "UserEvent"), ("UserEvent", "通知"), ("Note", "您拨打的电话已关机"), ("Empty", ""),
         ("Colons", "a: b:c")],
        [("NoColon", ""), ("Event", "Bare")],
        [("Event", "Hangup"), ("Cause", "16")]]


def test_every_cut_and_byte_by_byte():
    whole = _feed([])
    for cut in range(1, len(STREAM)):       # cuts inside CR LF and inside UTF-8 characters too
        assert _feed([cut]) == whole, cut
    assert _feed(list(range(1, len(STREAM)))) == whole


def test_parsed_messages_look_up_like_built_ones():
    msg = Parser().feed(encode([("Event", "Hangup"), ("Uniqueid", "1.2")]))[0]
    assert msg == Message([("Event", "Hangup"), ("Uniqueid", "1.2")])
    assert msg.get("UNIQUEID") == "1.2" and msg.name == "Hangup" and msg.get("Uniqueid2") is None
