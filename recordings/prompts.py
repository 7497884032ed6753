"""IVR prompt audio (SPEC T2): text-to-speech for ivr_flows/prompts.yaml, and admin uploads,
both converted to what Asterisk plays.

    generate_prompts(target_dir)               # every prompt of prompts.yaml, spoken by
                                               # espeak-ng's Mandarin voice (see VOICE)
    convert_upload(upload, target_dir, "welcome")   # any audio ffmpeg reads -> same files

Each prompt id becomes `<id>.wav` (8 kHz, mono, 16-bit PCM: Asterisk's `wav`/slin), `<id>.gsm`
and `<id>.ulaw` (G.711 mu-law, headerless) in `target_dir`; Asterisk picks the cheapest format
for the channel. Install them where the flows' `sound_dir` points, e.g.
/var/lib/asterisk/sounds/dialfunnel/ (or /var/lib/asterisk/sounds/zh/dialfunnel/).

Decoding is ffmpeg (forced to a whitelist of audio containers, local files only: an uploaded
playlist cannot make ffmpeg open other files or URLs), processing is pydub (level
normalisation, format), encoding to .gsm/.ulaw is sox (ffmpeg as a fallback). Files are written
to a temporary name and renamed, so Asterisk never plays half a file.

`target_dir/.prompts.json` remembers what made each file: a text that did not change is not
spoken again, and a prompt an admin uploaded is never overwritten by text-to-speech (unless
`force=True`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SAMPLE_RATE = 8000
FORMATS = ("wav", "gsm", "ulaw")
# espeak-ng 1.51 (Debian 12) has two Mandarin voices. Measured with `espeak-ng -x`: `cmn`
# ("latin as English") reads 您好 as the English words "nin two hao three" (pinyin with tone
# digits, spoken by its English rules); `cmn-latn-pinyin` speaks the same text in Mandarin with
# its tones (n'i35n X'Au214). So the default is the latter; see mandarin_phonemes().
VOICE = "cmn-latn-pinyin"
SPEED = 160                   # words per minute; espeak-ng's 175 is hurried in Mandarin
HEADROOM_DB = 1.0
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_SECONDS = 600
MANIFEST = ".prompts.json"
PROMPT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
TOOL_TIMEOUT = 120
# Prompts whose id starts so are segments a value is spoken from, one character each
# (ivr_flows/say_zh.py): played back to back, so their silence is cut to SEGMENT_PAD_MS.
SEGMENT_PREFIX = "say-"
SEGMENT_PAD_MS = 40
SEGMENT_SILENCE_DBFS = -45.0

# Containers ffmpeg may open (its demuxer names). Playlists (hls, concat...) and raw guesses
# are left out on purpose.
AUDIO_DEMUXERS = ("wav", "w64", "mp3", "ogg", "flac", "aac", "mov", "mp4", "m4a", "3gp", "3g2",
                  "mj2", "matroska", "webm", "amr", "au", "aiff", "caf", "asf", "wv", "ac3",
                  "voc")

MESSAGES = {
    "audio.not_audio": ("文件不是可识别的音频（请上传 wav、mp3、ogg、m4a 等格式）",
                        "The file is not audio we can read (upload wav, mp3, ogg, m4a...)"),
    "audio.no_sound": ("文件中没有音轨", "The file has no audio track"),
    "audio.too_large": ("文件太大（最大 {limit} MB）", "The file is too large (at most {limit} MB)"),
    "audio.too_long": ("音频太长（最长 {limit} 秒）", "The audio is too long (at most {limit} s)"),
    "audio.empty": ("音频是空的", "The audio is empty"),
    "audio.bad_text": ("要朗读的文字为空或太长", "The text to speak is empty or too long"),
    "audio.bad_name": ("提示音编号只能包含小写字母、数字和 -", "A prompt id has lower-case "
                       "letters, digits and '-' only"),
    "audio.tool_missing": ("服务器缺少音频工具 {tool}", "The server lacks the audio tool {tool}"),
    "audio.failed": ("音频转换失败", "The audio conversion failed"),
}


class AudioError(ValueError):
    """A refused or failed conversion. `key` names it; `text(lang)` says it to a person."""

    def __init__(self, key: str, detail: str = "", **params):
        self.key, self.detail, self.params = key, detail, params
        super().__init__(self.text("en") + (f": {detail}" if detail else ""))

    def text(self, lang: str = "zh") -> str:
        zh, en = MESSAGES[self.key]
        return (zh if lang.startswith("zh") else en).format(**self.params)


@dataclasses.dataclass
class GenerateReport:
    generated: list[str] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)
    uploaded: list[str] = dataclasses.field(default_factory=list)   # kept: an admin's recording
    files: list[Path] = dataclasses.field(default_factory=list)


# -- tools ----------------------------------------------------------------------------------

def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AudioError("audio.tool_missing", tool=name)
    return path


def _run(argv: list[str], *, stdin: bytes | None = None, what: str) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, timeout=TOOL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AudioError("audio.failed", f"{what}: timed out") from None
    if done.returncode != 0:
        raise AudioError("audio.failed", f"{what}: {done.stderr.decode('utf-8', 'replace').strip()[-300:]}")
    return done


def probe(path: Path) -> dict:
    """What ffprobe sees in a file, opened only as one of AUDIO_DEMUXERS. Raises AudioError
    when it is not such a file or holds no audio stream."""
    argv = [_tool("ffprobe"), "-v", "error", "-protocol_whitelist", "file",
            "-format_whitelist", ",".join(AUDIO_DEMUXERS),
            "-show_entries", "format=format_name,duration:stream=codec_type,duration",
            "-of", "json", "file:" + str(path)]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise AudioError("audio.not_audio", "ffprobe timed out") from None
    if done.returncode != 0:
        raise AudioError("audio.not_audio", done.stderr.decode("utf-8", "replace").strip()[-200:])
    info = json.loads(done.stdout or b"{}")
    fmt = (info.get("format") or {}).get("format_name") or ""
    if not fmt or not set(fmt.split(",")) & set(AUDIO_DEMUXERS):
        raise AudioError("audio.not_audio", f"format {fmt!r}")
    if not any(s.get("codec_type") == "audio" for s in info.get("streams") or []):
        raise AudioError("audio.no_sound")
    return {"format": fmt.split(",")[0], "duration": float((info.get("format") or {})
                                                          .get("duration") or 0)}


def _decode(src: Path, fmt: str, out: Path, max_seconds: float) -> None:
    """Any whitelisted audio -> 8 kHz mono 16-bit WAV (ffmpeg resamples with a proper filter)."""
    _run([_tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error",
          "-protocol_whitelist", "file", "-format_whitelist", ",".join(AUDIO_DEMUXERS),
          "-f", fmt, "-i", "file:" + str(src), "-map", "0:a:0", "-vn", "-t", str(max_seconds),
          "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", "-f", "wav", "-y",
          "file:" + str(out)], what="decode")


def _encode(wav: Path, out: Path, fmt: str) -> None:
    sox = shutil.which("sox")
    if sox:
        kind = {"gsm": "gsm", "ulaw": "ul"}[fmt]
        _run([sox, "-q", str(wav), "-r", str(SAMPLE_RATE), "-c", "1", "-t", kind, str(out)],
             what=f"sox {fmt}")
        return
    codec = {"gsm": ["-c:a", "libgsm", "-f", "gsm"], "ulaw": ["-c:a", "pcm_mulaw", "-f", "mulaw"]}[fmt]
    _run([_tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(wav),
          "-ar", str(SAMPLE_RATE), "-ac", "1", *codec, "-y", str(out)], what=f"ffmpeg {fmt}")


def trim_silence(sound, pad_ms: int = SEGMENT_PAD_MS):
    """The sound without its leading and trailing silence but `pad_ms` of each."""
    from pydub import silence

    lead = silence.detect_leading_silence(sound, silence_threshold=SEGMENT_SILENCE_DBFS)
    trail = silence.detect_leading_silence(sound.reverse(), silence_threshold=SEGMENT_SILENCE_DBFS)
    if lead + trail >= len(sound):
        return sound
    return sound[max(0, lead - pad_ms):len(sound) - max(0, trail - pad_ms)]


def _finish(decoded: Path, target_dir: Path, prompt_id: str, formats, normalize: bool,
            max_seconds: float, trim: bool = False) -> list[Path]:
    """pydub: level and format check; then write every format under its final name."""
    from pydub import AudioSegment, effects

    sound = AudioSegment.from_wav(str(decoded))
    if len(sound) == 0 or sound.frame_count() == 0:
        raise AudioError("audio.empty")
    if len(sound) > max_seconds * 1000 + 50:
        raise AudioError("audio.too_long", limit=int(max_seconds))
    sound = sound.set_channels(1).set_frame_rate(SAMPLE_RATE).set_sample_width(2)
    if trim:
        sound = trim_silence(sound)
    if normalize and sound.max_dBFS != float("-inf"):
        sound = effects.normalize(sound, headroom=HEADROOM_DB)
    target_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(dir=target_dir, prefix=".tmp-") as tmp:
        wav = Path(tmp) / f"{prompt_id}.wav"
        sound.export(str(wav), format="wav")
        staged = {"wav": wav}
        for fmt in formats:
            if fmt != "wav":
                staged[fmt] = Path(tmp) / f"{prompt_id}.{fmt}"
                _encode(wav, staged[fmt], fmt)
        for fmt in formats:
            final = target_dir / f"{prompt_id}.{fmt}"
            os.replace(staged[fmt], final)
            written.append(final)
    return written


def _check_formats(formats) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(formats))
    unknown = set(formats) - set(FORMATS)
    if unknown or not formats:
        raise ValueError(f"formats must be among {FORMATS}, not {sorted(unknown) or formats}")
    return formats


# -- the manifest ---------------------------------------------------------------------------

_manifest_lock = threading.Lock()


def _read_manifest(target_dir: Path) -> dict:
    try:
        return json.loads((target_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _update_manifest(target_dir: Path, changes: dict) -> None:
    with _manifest_lock:
        data = _read_manifest(target_dir)
        data.update(changes)
        tmp = target_dir / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True),
                       encoding="utf-8")
        os.replace(tmp, target_dir / MANIFEST)


# -- text to speech -------------------------------------------------------------------------

def speak(text: str, out: Path, *, voice: str = VOICE, speed: int = SPEED) -> None:
    """espeak-ng's Mandarin voice saying `text` into a WAV file (22 kHz)."""
    _run([_tool("espeak-ng"), "-v", voice, "-s", str(speed), "-w", str(out), "--stdin"],
         stdin=text.encode("utf-8"), what="espeak-ng")


def mandarin_phonemes(text: str = "您好", voice: str = VOICE) -> str:
    """espeak-ng's phonemes for `text`; a voice that falls back to English shows `(en)`."""
    done = _run([_tool("espeak-ng"), "-v", voice, "-q", "-x", "--stdin"],
                stdin=text.encode("utf-8"), what="espeak-ng")
    return done.stdout.decode("utf-8", "replace").strip()


def _fingerprint(text: str, voice: str, speed: int, formats, trim: bool = False) -> str:
    trimmed = f"|trim{SEGMENT_PAD_MS}" if trim else ""
    return hashlib.sha256(f"{voice}|{speed}|{','.join(formats)}{trimmed}|{text}".encode()
                          ).hexdigest()[:20]


def generate_prompts(target_dir: str | os.PathLike, texts: dict[str, str], *,
                     voice: str | None = None,
                     speed: int = SPEED, formats=FORMATS, force: bool = False,
                     workers: int | None = None, on_progress=None) -> GenerateReport:
    """Speak every prompt ({id: text}, e.g. ivr_flows.flows.prompt_texts()) into `target_dir`.

    Unchanged texts are skipped, uploaded recordings kept, unless `force`. `on_progress(done,
    total)` is called as prompts are finished (skipped ones count as done at once)."""
    formats = _check_formats(formats)
    voice = voice or VOICE
    for prompt_id in texts:
        if not PROMPT_ID.match(prompt_id):
            raise AudioError("audio.bad_name", prompt_id)
    for tool in ("espeak-ng", "ffmpeg", "ffprobe"):
        _tool(tool)
    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(target)
    report = GenerateReport()
    todo = []
    for prompt_id, text in texts.items():
        entry = manifest.get(prompt_id) or {}
        present = all((target / f"{prompt_id}.{f}").exists() for f in formats)
        if not force and entry.get("source") == "upload" and present:
            report.uploaded.append(prompt_id)
            continue
        print_ = _fingerprint(text, voice, speed, formats, prompt_id.startswith(SEGMENT_PREFIX))
        if not force and entry.get("fingerprint") == print_ and present:
            report.unchanged.append(prompt_id)
            continue
        todo.append((prompt_id, text, print_))

    def one(job):
        prompt_id, text, print_ = job
        with tempfile.TemporaryDirectory(prefix="dialfunnel-tts-") as tmp:
            raw = Path(tmp) / "tts.wav"
            speak(text, raw, voice=voice, speed=speed)
            decoded = Path(tmp) / "8k.wav"
            _decode(raw, "wav", decoded, MAX_SECONDS)
            files = _finish(decoded, target, prompt_id, formats, True, MAX_SECONDS,
                            trim=prompt_id.startswith(SEGMENT_PREFIX))
        return prompt_id, print_, files

    total, finished = len(texts), len(texts) - len(todo)
    if on_progress:
        on_progress(finished, total)
    with ThreadPoolExecutor(max_workers=workers or min(8, (os.cpu_count() or 2) * 2)) as pool:
        for prompt_id, print_, files in pool.map(one, todo):
            finished += 1
            if on_progress:
                on_progress(finished, total)
            report.generated.append(prompt_id)
            report.files.extend(files)
            _update_manifest(target, {prompt_id: {"source": "tts", "fingerprint": print_,
                                                  "voice": voice}})
    return report


SPOKEN_PREFIX = "tts-"
SPOKEN_MAX_CHARS = 40
_spoken_lock = threading.Lock()


def spoken_prompt(target_dir: str | os.PathLike, text: str, *, voice: str | None = None) -> str:
    """The prompt id saying `text` (a customer's or contact's name), made in `target_dir` the
    first time it is needed and kept: ``tts-<hash of voice and text>``. Raises AudioError for
    an empty or overlong text, and what generate_prompts raises when espeak-ng fails."""
    text = " ".join(text.split())
    if not text or len(text) > SPOKEN_MAX_CHARS:
        raise AudioError("audio.bad_text", text[:SPOKEN_MAX_CHARS])
    voice = voice or VOICE
    prompt_id = SPOKEN_PREFIX + hashlib.sha256(f"{voice}|{text}".encode()).hexdigest()[:20]
    target = Path(target_dir)
    with _spoken_lock:
        if not all((target / f"{prompt_id}.{f}").exists() for f in FORMATS):
            generate_prompts(target, {prompt_id: text}, voice=voice, workers=1)
    return prompt_id


# -- uploads --------------------------------------------------------------------------------

def convert_audio(source, target_dir: str | os.PathLike, prompt_id: str, *, formats=FORMATS,
                  max_bytes: int = MAX_UPLOAD_BYTES, max_seconds: float = MAX_SECONDS,
                  normalize: bool = True) -> list[Path]:
    """Convert any audio file ffmpeg reads (path, bytes or a binary file object) into
    `<prompt_id>.wav/.gsm/.ulaw` in `target_dir`. Raises AudioError for what is not audio,
    too large or too long; nothing is written then."""
    formats = _check_formats(formats)
    if not isinstance(prompt_id, str) or not PROMPT_ID.match(prompt_id):
        raise AudioError("audio.bad_name", repr(prompt_id))
    with tempfile.TemporaryDirectory(prefix="dialfunnel-upload-") as tmp:
        src = Path(tmp) / "upload"
        if isinstance(source, (bytes, bytearray)):
            data = bytes(source)
            if len(data) > max_bytes:
                raise AudioError("audio.too_large", limit=max_bytes // (1024 * 1024))
            src.write_bytes(data)
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if not path.is_file():
                raise AudioError("audio.not_audio", f"{path} is not a file")
            if path.stat().st_size > max_bytes:
                raise AudioError("audio.too_large", limit=max_bytes // (1024 * 1024))
            shutil.copyfile(path, src)
        elif isinstance(source, io.IOBase) or hasattr(source, "read"):
            with open(src, "wb") as out:
                total = 0
                while True:
                    chunk = source.read(1 << 20)
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > max_bytes:
                        raise AudioError("audio.too_large", limit=max_bytes // (1024 * 1024))
                    out.write(chunk)
        else:
            raise TypeError("source must be a path, bytes or a binary file object")
        if src.stat().st_size == 0:
            raise AudioError("audio.empty")
        info = probe(src)
        if info["duration"] > max_seconds + 0.05:
            raise AudioError("audio.too_long", limit=int(max_seconds))
        decoded = Path(tmp) / "8k.wav"
        _decode(src, info["format"], decoded, max_seconds)
        return _finish(decoded, Path(target_dir), prompt_id, formats, normalize, max_seconds)


def convert_upload(source, target_dir: str | os.PathLike, prompt_id: str, **kwargs) -> list[Path]:
    """An admin's recording for a prompt: converted like `convert_audio`, and remembered so
    that `generate_prompts` keeps it."""
    files = convert_audio(source, target_dir, prompt_id, **kwargs)
    _update_manifest(Path(target_dir), {prompt_id: {"source": "upload"}})
    return files


__all__ = ["AUDIO_DEMUXERS", "AudioError", "FORMATS", "GenerateReport", "SAMPLE_RATE",
           "convert_audio", "convert_upload", "generate_prompts", "probe",
           "speak"]
