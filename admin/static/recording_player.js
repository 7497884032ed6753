// The recording page's player: the waveform (peaks from /recordings/<id>/peaks) in a canvas,
// click to seek, the played part shaded, comment marks; playback speed; comments take the
// current moment.
(function () {
  var player = document.getElementById('player');
  var audio = document.getElementById('recording-audio');
  if (!player || !audio) { return; }
  var canvas = document.getElementById('waveform');
  var speed = document.getElementById('speed');
  var atMs = document.getElementById('at-ms');
  var durationMs = parseInt(player.dataset.durationMs, 10) || 0;
  var peaks = [];
  var marks = Array.prototype.map.call(document.querySelectorAll('.comment'), function (li) {
    return parseInt(li.dataset.atMs, 10) || 0;
  });

  function total() { return (audio.duration && isFinite(audio.duration)) ? audio.duration * 1000 : durationMs; }

  function draw() {
    var width = canvas.clientWidth || 600;
    canvas.width = width;
    var h = canvas.height, ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, width, h);
    var played = total() ? audio.currentTime * 1000 / total() : 0;
    for (var x = 0; x < width; x++) {
      var p = peaks.length ? peaks[Math.floor(x * peaks.length / width)] : 0;
      var bar = Math.max(1, p / 100 * (h - 4));
      ctx.fillStyle = x / width <= played ? '#0d6efd' : '#adb5bd';
      ctx.fillRect(x, (h - bar) / 2, 1, bar);
    }
    ctx.fillStyle = '#dc3545';
    marks.forEach(function (ms) { if (total()) { ctx.fillRect(Math.round(ms / total() * width), 0, 2, h); } });
  }

  function follow() {
    if (atMs) { atMs.value = Math.round(audio.currentTime * 1000); }
    draw();
  }

  function seek(ms) { audio.currentTime = ms / 1000; follow(); }

  canvas.addEventListener('click', function (e) {
    var rect = canvas.getBoundingClientRect();
    seek((e.clientX - rect.left) / rect.width * total());
  });
  speed.addEventListener('change', function () { audio.playbackRate = parseFloat(speed.value) || 1; });
  audio.addEventListener('ratechange', function () { speed.value = audio.playbackRate.toFixed(2).replace(/0$/, ''); });
  audio.addEventListener('timeupdate', follow);
  audio.addEventListener('seeked', follow);
  audio.addEventListener('loadedmetadata', draw);
  document.querySelectorAll('a.seek').forEach(function (a) {
    a.addEventListener('click', function (e) { e.preventDefault(); seek(parseInt(a.dataset.atMs, 10) || 0); audio.play(); });
  });
  window.addEventListener('resize', draw);
  fetch(player.dataset.peaksUrl, {headers: {'Accept': 'application/json'}, credentials: 'same-origin'})
    .then(function (r) { return r.json(); })
    .then(function (data) { peaks = data.peaks || []; draw(); player.dataset.peaksLoaded = peaks.length; });
  draw();
})();
