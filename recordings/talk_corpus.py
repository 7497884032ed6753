"""Generated two-sided calls with known talk spans, for recordings/talk.py's tests and
bench/talk_analytics.py.

    generate(target_dir, seed=1, count=10) -> [GeneratedCall]

A call is a conversation of turns between an agent and a customer: Mandarin sentences spoken by
espeak-ng (two different voices), trimmed of espeak's own silence so each utterance's span is
exactly known; pauses of 0.4–1.5 s between turns, sometimes an interruption (the next speaker
starts before the other has finished: cross-talk), sometimes a silence of 10.5–14 s (the agent
looking something up), and in about a third of the calls an agent who talks on while the
customer only says "嗯" or "好的". Each side is written as its own 8 kHz 16-bit WAV, as
MixMonitor's r()/t() files are, over its own line noise (sox: telephone band, gain, sometimes a
G.711 µ-law round trip). The same seed gives the same calls. Nothing generated is committed."""
from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

from .amd_corpus import SAMPLE_RATE, _pcm, _run, _silence, _sox, _tool, _write

AGENT_LONG = ["您好，我是达盟科技的客户经理小王，请问您现在方便说话吗？",
              "我们公司主要做企业电话营销系统，可以帮您的销售团队提高外呼效率。",
              "这个系统支持自动外呼、来电弹屏和通话录音，很多客户反映用了以后业绩提升很明显。",
              "价格方面我们有三种套餐，您可以根据坐席数量来选择，最便宜的一种每个月只要几百元。",
              "如果您有兴趣的话，我可以先给您发一份资料，您看一下再决定，好吗？",
              "我们下周在上海有一个产品演示会，欢迎您来现场看一下实际效果。"]
AGENT_SHORT = ["好的。", "明白。", "您说得对。", "那我记一下。", "请问您贵姓？"]
CUSTOMER_LONG = ["我们现在用的是另外一家的系统，用了两年了，还可以吧。",
                 "主要是价格问题，你们的报价比他们高不少。",
                 "你把资料发到我的邮箱吧，我看一下再跟领导商量。",
                 "我们公司大概有二十个销售，每天打的电话还挺多的。"]
CUSTOMER_SHORT = ["嗯。", "好的。", "喂，你好。", "哪位？", "可以。", "对。", "行吧。"]
VARIANTS = ["+m1", "+m3", "+f2", "+f4"]
MANIFEST = "calls.json"


@dataclasses.dataclass
class GeneratedCall:
    name: str
    agent_wav: Path
    customer_wav: Path
    seconds: float
    agent_spans: list[tuple[float, float]]
    customer_spans: list[tuple[float, float]]

    def truth_frames(self, frame_ms: int = 30) -> tuple[list[bool], list[bool]]:
        """Per frame (by its middle): inside one of the side's spans."""
        n = int(self.seconds * 1000 // frame_ms)

        def flags(spans):
            return [any(a <= (i + 0.5) * frame_ms / 1000 < b for a, b in spans) for i in range(n)]
        return flags(self.agent_spans), flags(self.customer_spans)


class _Voice:
    """espeak-ng utterances of one speaker, rendered once per text and trimmed."""

    def __init__(self, work: Path, tag: str, variant: str, speed: int, pitch: int):
        self.work, self.tag, self.variant, self.speed, self.pitch = work, tag, variant, speed, pitch
        self.cache: dict[str, bytes] = {}

    def say(self, text: str) -> bytes:
        if text not in self.cache:
            n = len(self.cache)
            raw, out = self.work / f"{self.tag}{n}.wav", self.work / f"{self.tag}{n}-8k.wav"
            _run([_tool("espeak-ng"), "-v", "cmn-latn-pinyin" + self.variant, "-s", self.speed,
                  "-p", self.pitch, "-w", raw, "--stdin"], stdin=text.encode("utf-8"))
            _sox(raw, "-r", SAMPLE_RATE, "-c", 1, "-b", 16, out,
                 "silence", 1, 0.01, "0.1%", "reverse", "silence", 1, 0.01, "0.1%", "reverse")
            self.cache[text] = _pcm(out)
        return self.cache[text]


def _place(track: bytearray, pcm: bytes, start: float) -> None:
    offset = round(start * SAMPLE_RATE) * 2
    if len(track) < offset + len(pcm):
        track.extend(b"\0" * (offset + len(pcm) - len(track)))
    track[offset:offset + len(pcm)] = pcm


def render_call(rng: random.Random, name: str, target: Path, work: Path) -> GeneratedCall:
    work.mkdir(parents=True, exist_ok=True)
    variants = rng.sample(VARIANTS, 2)
    voices = {"agent": _Voice(work, "a", variants[0], rng.randint(170, 230), rng.randint(35, 65)),
              "customer": _Voice(work, "c", variants[1], rng.randint(170, 230), rng.randint(35, 65))}
    dominant = rng.random() < 0.35
    tracks = {"agent": bytearray(), "customer": bytearray()}
    spans: dict[str, list] = {"agent": [], "customer": []}
    t, side, long_silence_left = rng.uniform(0.3, 1.0), "agent", rng.random() < 0.4
    for _ in range(rng.randint(6, 10)):
        if side == "agent":
            text = rng.choice(AGENT_LONG if dominant or rng.random() < 0.6 else AGENT_SHORT)
        else:
            text = rng.choice(CUSTOMER_SHORT if dominant or rng.random() < 0.5 else CUSTOMER_LONG)
        pcm = voices[side].say(text)
        seconds = len(pcm) / 2 / SAMPLE_RATE
        _place(tracks[side], pcm, t)
        spans[side].append((round(t, 3), round(t + seconds, 3)))
        roll = rng.random()
        if roll < 0.15 and seconds > 1.5:
            gap = -rng.uniform(0.4, 1.0)                 # the other one cuts in
        elif long_silence_left and roll > 0.85:
            gap, long_silence_left = rng.uniform(10.5, 14.0), False
        else:
            gap = rng.uniform(0.4, 1.5)
        t = max(t + 0.2, t + seconds + gap)
        side = "customer" if side == "agent" else "agent"
    seconds = max(len(b) for b in tracks.values()) / 2 / SAMPLE_RATE + rng.uniform(0.5, 1.5)
    paths = {}
    for side, track in tracks.items():
        clean = work / f"{side}-clean.wav"
        _write(clean, bytes(track) + _silence(seconds - len(track) / 2 / SAMPLE_RATE))
        bed = work / f"{side}-bed.wav"
        _sox("-n", "-r", SAMPLE_RATE, "-c", 1, "-b", 16, bed, "synth", f"{seconds:.3f}",
             rng.choice(("pinknoise", "whitenoise", "brownnoise")), "gain", f"{rng.uniform(-60, -42):.1f}")
        mixed = work / f"{side}-mixed.wav"
        _sox("-m", "-v", 1, clean, "-v", 1, bed, "-b", 16, mixed, "sinc", "300-3400",
             "gain", f"{rng.uniform(-6, 0):.1f}", "trim", 0, f"{seconds:.3f}")
        paths[side] = target / f"{name}-{side}.wav"
        if rng.random() < 0.4:
            coded = work / f"{side}.ul"
            _sox(mixed, "-r", SAMPLE_RATE, coded)
            _sox("-r", SAMPLE_RATE, "-c", 1, "-e", "u-law", coded, "-e", "signed-integer", "-b", 16,
                 paths[side])
        else:
            paths[side].write_bytes(mixed.read_bytes())
    return GeneratedCall(name, paths["agent"], paths["customer"], round(seconds, 3),
                         spans["agent"], spans["customer"])


def generate(target_dir, seed: int = 1, count: int = 10) -> list[GeneratedCall]:
    """Render ``count`` calls for ``seed`` into target_dir (plus calls.json, the truth)."""
    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    calls = [render_call(random.Random(rng.random()), f"call{i:03d}", target, target / "work" / str(i))
             for i in range(count)]
    (target / MANIFEST).write_text(json.dumps(
        [dict(dataclasses.asdict(c), agent_wav=str(c.agent_wav), customer_wav=str(c.customer_wav))
         for c in calls], ensure_ascii=False, indent=1))
    return calls
