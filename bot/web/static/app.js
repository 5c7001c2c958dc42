// pawpost review page: live caption counts, a picked candidate fills the caption box, a time picks "at", and a
// regenerate's progress, polled until it is done (then the page reloads, unless the owner is typing).
(function () {
  var TAG = /(^|[^\w#])#\w+/gu, MENTION = /(^|[^\w@])@[\w.]+/gu;
  function count(box) {
    var text = box.value.trim(), form = box.form;
    var n = {chars: text.length, hashtags: (text.match(TAG) || []).length, mentions: (text.match(MENTION) || []).length};
    var max = {chars: +box.dataset.maxChars, hashtags: +box.dataset.maxHashtags, mentions: +box.dataset.maxMentions};
    var over = [];
    Object.keys(n).forEach(function (k) {
      var el = form.querySelector('[data-count="' + k + '"]');
      if (el) { el.textContent = n[k]; el.classList.toggle('over', n[k] > max[k]); }
      if (n[k] > max[k]) over.push('too many ' + k);
    });
    form.querySelector('.problem').textContent = text ? over.join(', ') : 'the caption is empty';
  }
  document.querySelectorAll('textarea[name="caption"]').forEach(function (box) {
    box.addEventListener('input', function () { count(box); });
    box.form.querySelectorAll('input[name="pick"]').forEach(function (radio) {
      radio.addEventListener('change', function () {
        box.value = radio.parentNode.querySelector('.text').textContent; count(box);
      });
    });
  });
  document.querySelectorAll('input[type="datetime-local"]').forEach(function (input) {
    input.addEventListener('input', function () {
      var at = input.form.querySelector('input[name="when"][value="at"]');
      if (at) at.checked = true;
    });
  });
  var typed = false;
  document.addEventListener('input', function () { typed = true; });
  document.querySelectorAll('[data-progress]').forEach(function (box) {
    var bar = box.querySelector('progress'), step = box.querySelector('.step');
    function poll() {
      fetch(box.dataset.progress, {credentials: 'same-origin', cache: 'no-store'})
        .then(function (r) { return r.json(); })
        .then(function (job) {
          if (job.state === 'running') {
            bar.max = job.total; bar.value = job.done; step.textContent = job.step;
            setTimeout(poll, 1000);
          } else if (!typed) {
            location.reload();
          } else {
            bar.remove();
            box.querySelector('p').textContent = job.state === 'done'
              ? 'New captions written: ' + job.message + '. Reload to see them.'
              : 'The new captions were not written: ' + job.message;
          }
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    setTimeout(poll, 1000);
  });
})();
// A Reel's cover picker: the slider shows its picture in the player; "use the picture shown" takes the player's.
(function () {
  document.querySelectorAll('input[type="range"][data-video]').forEach(function (range) {
    var video = document.getElementById(range.dataset.video), start = +range.dataset.start || 0;
    var out = range.form.querySelector('output');
    function said() { if (out) out.textContent = (range.value - start).toFixed(1); }
    range.addEventListener('input', function () {
      if (video) { video.pause(); video.currentTime = range.value - start; }
      said();
    });
    var use = range.form.querySelector('.use-frame');
    if (use && video) use.addEventListener('click', function () {
      range.value = Math.min(+range.max, Math.max(+range.min, video.currentTime + start)); said();
    });
  });
})();
