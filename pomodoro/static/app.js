/* Pomodoro pages: the live countdown, the event socket, keyboard shortcuts,
 * the chime, notifications, the tab title and the favicon.
 *
 * The server keeps the clock. The countdown is always recomputed from the
 * session's ends_at and the measured offset between the server's clock and
 * this one, never by counting ticks: background tabs throttle timers, so a
 * tick may come late, but the time it shows is still right.
 */
(function () {
  'use strict';

  var root = document.documentElement;
  root.classList.remove('no-js');
  root.classList.add('js');

  var LABELS = { work: 'Focus', short_break: 'Short break', long_break: 'Long break' };
  var clock = {
    offset: 0,          // server clock minus this clock, in ms
    status: 'idle',     // idle | running | paused
    endsAt: null,       // ms on the server's clock
    remaining: 0,       // seconds, when not running
    duration: 0,
    type: 'work',
    sessionId: '',
    announced: ''
  };
  var done = { text: '', until: 0 };
  var baseTitle = document.title;
  var lastAction = { name: '', at: 0 };
  var overdueChecked = '';

  // -- the countdown ----------------------------------------------------------

  function serverNow() { return Date.now() + clock.offset; }

  function secondsLeft() {
    if (clock.status === 'running' && clock.endsAt !== null) {
      return Math.max(0, (clock.endsAt - serverNow()) / 1000);
    }
    return clock.remaining;
  }

  function formatClock(seconds) {
    var whole = Math.ceil(seconds - 0.0005);
    if (whole < 0) whole = 0;
    var hours = Math.floor(whole / 3600);
    var minutes = Math.floor((whole % 3600) / 60);
    var secs = whole % 60;
    var mmss = String(minutes).padStart(2, '0') + ':' + String(secs).padStart(2, '0');
    return hours ? hours + ':' + mmss : mmss;
  }

  function readTimer() {
    var timer = document.getElementById('timer');
    if (!timer) return;
    var data = timer.dataset;
    var writtenAt = Date.parse(data.serverTime);
    if (clock.status === 'running' && clock.sessionId && data.sessionId !== clock.sessionId &&
        clock.endsAt !== null && writtenAt >= clock.endsAt - 500) {
      // The session ran out and the page learnt it without the socket's word (it may be down).
      // Judged by the server's clock when it wrote this part, not by the offset
      // measured earlier: a slow answer must not hide the end it brings.
      sessionDone({ id: clock.sessionId, type: clock.type }, data.status === 'running' ? { type: data.type } : null);
    }
    if (!isNaN(writtenAt)) clock.offset = writtenAt - Date.now();
    clock.shownAt = writtenAt;  // how new what is shown is (the server's clock)
    clock.status = data.status;
    clock.type = data.type;
    clock.sessionId = data.sessionId;
    clock.endsAt = data.endsAt ? Date.parse(data.endsAt) : null;
    clock.remaining = parseFloat(data.remaining) || 0;
    clock.duration = parseFloat(data.duration) || 0;
    var said = data.sessionId + data.status + data.type;
    if (clock.announced && said !== clock.announced) announce(data.announce);
    clock.announced = said;
    tick();
  }

  function applySession(session) {
    // Moves the clock at once from an event; the fragment that follows fills in the rest.
    if (!session || !document.getElementById('timer')) return;
    // An event that comes after the page already shows something newer of the
    // same session (its own button's answer, say) must not turn the clock back.
    var written = Date.parse(session.server_time);
    if (session.id === clock.sessionId && written < clock.shownAt) return;
    if (!isNaN(written)) clock.shownAt = written;
    if (session.status !== 'running' && session.status !== 'paused') {
      if (session.id !== clock.sessionId) return;
      clock.status = 'idle';
      clock.remaining = 0;
    } else {
      var serverTime = Date.parse(session.server_time);
      if (!isNaN(serverTime)) clock.offset = serverTime - Date.now();
      clock.status = session.status;
      clock.sessionId = session.id;
      clock.type = session.type;
      clock.endsAt = session.ends_at ? Date.parse(session.ends_at) : null;
      clock.remaining = session.remaining_seconds;
      clock.duration = session.duration_seconds;
    }
    tick();
  }

  function tick() {
    var left = secondsLeft();
    var text = formatClock(left);
    var countdown = document.getElementById('countdown');
    if (countdown && countdown.textContent !== text) countdown.textContent = text;
    var ring = document.getElementById('ring-fill');
    if (ring && clock.duration > 0) {
      var offset = (1000 * (1 - left / clock.duration)).toFixed(1);
      if (ring.getAttribute('stroke-dashoffset') !== offset) ring.setAttribute('stroke-dashoffset', offset);
    }
    updateTitle(text);
    updateFavicon();
    if (clock.status === 'running' && left <= 0 && overdueChecked !== clock.sessionId) {
      // The socket should say it is over within a moment; if it stays silent, ask the page.
      overdueChecked = clock.sessionId;
      setTimeout(function () { if (clock.status === 'running' && secondsLeft() <= 0) refresh(); }, 1500);
    }
  }

  function updateTitle(text) {
    var title;
    var label = LABELS[clock.type] || 'Pomodoro';
    var onTimer = !!document.getElementById('timer');
    var showDone = done.text && (Date.now() < done.until || document.hidden);
    if (!showDone) done.text = '';
    if (onTimer && clock.status === 'running') title = text + ' · ' + label;
    else if (onTimer && clock.status === 'paused') title = 'Paused · ' + text + ' · ' + label;
    else title = onTimer ? 'Pomodoro' : baseTitle;
    if (showDone) title = done.text + (onTimer && clock.status === 'running' ? ' · ' + title : ' · Pomodoro');
    if (document.title !== title) document.title = title;
  }

  function updateFavicon() {
    var icon = document.querySelector('link[rel="icon"]');
    if (!icon || !document.getElementById('timer')) return;
    var wanted = icon.dataset[clock.status === 'running' ? 'running' : clock.status === 'paused' ? 'paused' : 'idle'];
    if (wanted && icon.getAttribute('href') !== wanted) icon.setAttribute('href', wanted);
  }

  function announce(text) {
    var announcer = document.getElementById('announcer');
    if (announcer && text) announcer.textContent = text;
  }

  // -- fragments --------------------------------------------------------------

  var refreshTimer = null;
  var refreshing = false;  // a refresh's requests are on their way
  var refreshAgain = false;  // something changed while they were
  var whenRefreshed = [];  // what waits for the coming refresh to be swapped in
  function refresh(then) {
    // Several events often come together (completed, started, cycle.finished): fetch once.
    // One refresh at a time: one asked for while another is on its way runs
    // after it, against the parts then on the page (a request queued behind
    // another would swap into a part the first had already replaced).
    if (then) whenRefreshed.push(then);
    if (refreshing) { refreshAgain = true; return; }
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      refreshing = true;
      var waiting = whenRefreshed;
      whenRefreshed = [];
      var swaps = [];
      if (window.htmx) {
        document.querySelectorAll('[data-refresh]').forEach(function (element) {
          if (!element.id) return;
          // Each part is its own source, so the parts are fetched side by side.
          swaps.push(window.htmx.ajax('GET', element.dataset.refresh, { source: element, target: element, swap: 'outerHTML' }));
        });
      }
      Promise.allSettled(swaps).then(function () {
        refreshing = false;
        waiting.forEach(function (callback) { callback(); });
        if (refreshAgain || whenRefreshed.length) { refreshAgain = false; refresh(); }
      });
    }, 30);
  }

  function renderedAt(html) {
    var match = /data-server-time="([^"]+)"/.exec(html || '');
    return match ? Date.parse(match[1]) : NaN;
  }

  function wireHtmx() {
    document.body.addEventListener('htmx:beforeSwap', function (event) {
      // A slow answer must not paint over a newer one.
      var target = event.detail.target;
      if (!target || target.id !== 'timer') return;
      var incoming = renderedAt(event.detail.serverResponse);
      var shown = Date.parse(target.dataset.serverTime);
      if (!isNaN(incoming) && !isNaN(shown) && incoming < shown) event.detail.shouldSwap = false;
    });
    document.body.addEventListener('htmx:afterSwap', function () { readTimer(); setupPage(); });
    document.body.addEventListener('htmx:responseError', function (event) {
      var status = event.detail.xhr ? event.detail.xhr.status : 0;
      toast(status === 401 ? 'You were logged out; log in again.' : 'Something went wrong (' + status + '). Please try again.');
    });
    document.body.addEventListener('htmx:sendError', function () {
      toast('Cannot reach the server. Check your connection and try again.');
    });
    document.body.addEventListener('htmx:beforeRequest', function (event) {
      var elt = event.detail.elt;
      // A part fetched again (data-refresh) holds buttons too, but no one pressed them.
      if (!elt || !elt.querySelector || elt.hasAttribute('data-refresh')) return;
      var button = elt.querySelector('[data-action]');
      if (!button) return;
      lastAction = { name: button.dataset.action, at: Date.now() };
      var notice = document.getElementById('notice');
      if (notice) notice.hidden = true;  // the person has moved on
    });
  }

  function toast(text) {
    var element = document.getElementById('toast');
    if (!element) return;
    element.textContent = text;
    element.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { element.hidden = true; }, 6000);
  }

  // -- the socket -------------------------------------------------------------

  var socket = null;
  var attempts = 0;
  var retry = null;

  function setLive(state) {
    var live = document.getElementById('live');
    if (!live) return;
    live.dataset.state = state;
    var text = live.querySelector('.live-text');
    if (text) text.textContent = state === 'on' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  }

  function connect() {
    var path = document.body.dataset.socket;
    if (!path || (socket && socket.readyState <= 1)) return;
    clearTimeout(retry);
    setLive('connecting');
    // Same origin as the page, whatever address the server wrote down.
    var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    socket = new WebSocket(scheme + location.host + new URL(path, location.href).pathname);
    socket.addEventListener('open', function () { attempts = 0; });  // live once the hello is heard and shown
    socket.addEventListener('message', function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (error) { return; }
      handle(event);
    });
    socket.addEventListener('close', function () {
      socket = null;
      setLive('off');
      // Back off: 0.25 s, 0.5 s, 1 s ... up to 5 s, with jitter so a restarted server is not stampeded.
      var delay = Math.min(5000, 250 * Math.pow(2, attempts)) * (0.75 + Math.random() / 2);
      attempts += 1;
      // Still refused after a few tries: maybe the log-in has ended. Asking the
      // page either redirects to the log-in page or says the server is away.
      if (attempts === 4) refresh();
      retry = setTimeout(connect, delay);
    });
  }

  function reconnectNow() {
    if (socket) return;
    attempts = 0;
    connect();
  }

  function handle(event) {
    var data = event.data || {};
    if (event.event === 'hello') {
      applySession(data.session);
      // Live once the page shows whatever it missed before the socket opened:
      // a click then meets the buttons that stay, not ones about to be swapped.
      var heard = socket;
      refresh(function () { if (socket === heard && heard.readyState === 1) setLive('on'); });
      return;
    }
    if (event.event && event.event.indexOf('session.') === 0) applySession(data.session);
    if (event.event === 'session.completed') {
      sessionDone(data.session, data.next_session);
      if (data.next_session) applySession(data.next_session);
    }
    refresh();
  }

  // -- when a session ends ----------------------------------------------------

  var alerted = {};
  function sessionDone(session, next) {
    if (!session || alerted[session.id]) return;
    alerted[session.id] = true;
    var label = LABELS[session.type] || 'Session';
    var text = session.type === 'work' ? 'Focus session complete.' : label + ' over.';
    if (next) text += ' ' + (LABELS[next.type] || 'The next session') + ' has started.';
    else text += session.type === 'work' ? ' Time for a break.' : ' Ready to focus?';
    done.text = '✓ ' + label + ' done';
    done.until = Date.now() + 8000;
    showNotice(text);
    var byHand = lastAction.name === 'finish' && Date.now() - lastAction.at < 3000;
    if (!byHand) {
      chime();
      notify(text, session.id);
    }
    tick();
  }

  function showNotice(text) {
    var notice = document.getElementById('notice');
    if (!notice) { toast(text); return; }
    document.getElementById('notice-text').textContent = text;
    notice.hidden = false;
  }

  var audio = null;
  function audioContext() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    try {
      audio = audio || new Context();
      if (audio.state === 'suspended') audio.resume();
    } catch (error) { return null; }
    return audio;
  }

  function chime() {
    // Three soft bell-like notes, made on the spot: no audio file to fetch.
    root.dataset.chimes = String((parseInt(root.dataset.chimes, 10) || 0) + 1);
    var context = audioContext();
    if (!context) return;
    var start = context.currentTime + 0.05;
    [659.25, 830.61, 987.77].forEach(function (frequency, index) {
      var at = start + index * 0.22;
      var oscillator = context.createOscillator();
      var overtone = context.createOscillator();
      var gain = context.createGain();
      oscillator.type = 'sine';
      oscillator.frequency.value = frequency;
      overtone.type = 'sine';
      overtone.frequency.value = frequency * 2.01;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.22, at + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 1.4);
      oscillator.connect(gain);
      overtone.connect(gain);
      gain.connect(context.destination);
      [oscillator, overtone].forEach(function (node) { node.start(at); node.stop(at + 1.5); });
    });
  }

  function notify(text, tag) {
    if (!('Notification' in window) || Notification.permission !== 'granted') return;
    try {
      var icon = document.querySelector('link[rel="icon"]');
      new Notification('Pomodoro', { body: text, tag: tag, icon: icon ? icon.dataset.idle : undefined });
      root.dataset.notified = String((parseInt(root.dataset.notified, 10) || 0) + 1);
    } catch (error) { /* some browsers only notify from a service worker */ }
  }

  function askForNotifications() {
    if (!('Notification' in window) || Notification.permission !== 'default') return;
    var request = Notification.requestPermission();
    if (request && request.then) request.then(setupNotificationButton);
  }

  function setupNotificationButton() {
    var button = document.getElementById('enable-notifications');
    if (!button) return;
    button.hidden = !('Notification' in window) || Notification.permission !== 'default';
  }

  // -- keyboard and clicks ----------------------------------------------------

  function press(id) {
    var button = document.getElementById(id);
    if (!button || button.disabled) return false;
    button.click();
    return true;
  }

  function onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (!document.getElementById('timer')) return;
    var target = event.target;
    var typing = target.closest && target.closest('input, textarea, select, [contenteditable]');
    if (typing) return;
    if (event.key === ' ' || event.code === 'Space') {
      // Space on a focused control belongs to that control.
      if (target.closest && target.closest('button, a, summary')) return;
      if (press('primary-action')) event.preventDefault();
    } else if (event.key === 's' || event.key === 'S') {
      if (press('skip-action')) event.preventDefault();
    } else if (event.key === 'f' || event.key === 'F') {
      if (press('finish-action')) event.preventDefault();
    }
  }

  function onClick(event) {
    audioContext();  // browsers let a page make sound only after a gesture
    var target = event.target.closest ? event.target : null;
    if (!target) return;
    var start = target.closest('[data-action="start"], [data-action="resume"]');
    if (start) askForNotifications();
    if (target.closest('#enable-notifications')) askForNotifications();
    if (target.closest('#notice-close')) document.getElementById('notice').hidden = true;
  }

  // -- settings and sign-up: the browser's time zone -----------------------------

  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (error) { return ''; }
  }

  function setupPage() {
    var zone = browserZone();
    document.querySelectorAll('input[data-browser-zone]').forEach(function (input) {
      if (!input.value) input.value = zone;
    });
    var select = document.querySelector('select[data-user-zone]');
    var chosen = false;
    try { chosen = localStorage.getItem('pomodoro.zone-chosen') === '1'; } catch (error) { /* private mode */ }
    if (select && !select.dataset.filled && !chosen && zone && zone !== 'UTC' &&
        select.dataset.userZone === 'UTC' && select.querySelector('option[value="' + CSS.escape(zone) + '"]')) {
      select.value = zone;
      select.dataset.filled = '1';
      var hint = document.querySelector('[data-browser-hint]');
      if (hint) {
        hint.textContent = 'Filled in from your browser (' + zone.replace(/_/g, ' ') + '); save to keep it.';
        hint.hidden = false;
      }
    }
    setupNotificationButton();
  }

  function onSubmit(event) {
    if (event.target && event.target.id === 'settings-form') {
      try { localStorage.setItem('pomodoro.zone-chosen', '1'); } catch (error) { /* private mode */ }
    }
  }

  // -- start --------------------------------------------------------------------

  function init() {
    wireHtmx();
    readTimer();
    setupPage();
    document.addEventListener('keydown', onKey);
    document.addEventListener('click', onClick);
    document.addEventListener('submit', onSubmit, true);
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) {
        if (done.text) done.until = Math.max(done.until, Date.now() + 5000);
        reconnectNow();
      }
      tick();
    });
    window.addEventListener('online', reconnectNow);
    window.addEventListener('pageshow', function (event) { if (event.persisted) refresh(); });
    setInterval(tick, 250);
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();

/* -- Tasks: the task list's buttons through htmx, editing in place, reordering by
 * dragging and by keyboard (Alt+↑/↓), and the `+` key that adds a minute.
 *
 * Every task button names its URL in `formaction` and works as a plain form
 * post; here it is posted through htmx instead and the list swapped in place.
 */
(function () {
  'use strict';

  var focusAfterSwap = null;  // a selector to focus once the board is swapped in
  var submittedTitle = null;  // what the new-task field held when it was sent

  // The person's own requests for the board on their way. Each names the board
  // shown when it was sent, so a refresh must not replace that board first:
  // the answer (an edit form, say) would land nowhere. What the refresh would
  // show, the answer shows too, being newer.
  var ownRequests = 0;

  function listUrl() {
    var board = document.getElementById('task-board');
    return board ? board.dataset.list : null;
  }

  function swapList(verb, url, source, values) {
    if (!window.htmx || !url) return false;
    var board = document.getElementById('task-board');
    values = values || {};
    if (board && board.dataset.all) values.all = '1';  // the whole list stays shown
    ownRequests += 1;
    var done = function () { ownRequests -= 1; };
    window.htmx.ajax(verb, url, { source: source, target: '#task-board', swap: 'outerHTML', values: values })
      .then(done, done);
    return true;
  }

  function rowOf(element) { return element && element.closest ? element.closest('li.task[data-task]') : null; }

  function onClick(event) {
    var target = event.target;
    if (!target.closest || !target.closest('#tasks')) return;
    var button = target.closest('button[formaction]');
    var edit = target.closest('a[data-edit]');
    if (button && swapList('POST', button.getAttribute('formaction'), button)) {
      event.preventDefault();
      var row = rowOf(button);
      if (row && button.dataset.move) focusAfterSwap = '#task-' + row.dataset.task + ' [data-move="' + button.dataset.move + '"]';
    } else if (edit && swapList('GET', edit.dataset.edit, edit)) {
      event.preventDefault();
      focusAfterSwap = '#task-' + rowOf(edit).dataset.task + ' .task-edit input[name="title"]';
    } else if (target.closest('a[data-list]') && swapList('GET', target.closest('a[data-list]').dataset.list, target)) {
      event.preventDefault();
    } else if (target.closest('.task-cancel') && swapList('GET', listUrl(), target)) {
      event.preventDefault();
    }
  }

  function onSubmit(event) {
    if (event.target && event.target.classList && event.target.classList.contains('task-add')) {
      var input = document.getElementById('new-task');
      submittedTitle = input ? input.value : null;
    }
  }

  function afterRequest(event) {
    // The new-task field is outside the board, so no swap takes what is typed
    // there; once its task is added it is emptied (unless typed on since).
    var form = event.detail && event.detail.elt;
    if (!form || !form.classList || !form.classList.contains('task-add') || !event.detail.successful) return;
    var input = document.getElementById('new-task');
    if (input && input.value === submittedTitle) input.value = '';
    submittedTitle = null;
  }

  // A refresh swaps the board under the person's hands: the control of a row
  // that had the keyboard gets it back in the new board (the same row, the
  // same place in it), so someone working the list by keyboard keeps their place.
  var focusedBefore = null;

  function controls(row) { return Array.prototype.slice.call(row.querySelectorAll('button, a, input, textarea')); }

  function beforeBoardSwap(event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== 'task-board') return;
    var source = event.detail.requestConfig && event.detail.requestConfig.elt;  // (detail.elt is the target)
    if (ownRequests && source && source.hasAttribute && source.hasAttribute('data-refresh')) {
      event.detail.shouldSwap = false;
      return;
    }
    var row = rowOf(document.activeElement);
    focusedBefore = row && target.contains(row)
      ? { task: row.dataset.task, index: controls(row).indexOf(document.activeElement) } : null;
  }

  function afterBoardSwap(event) {
    var target = event.detail && event.detail.target;
    if (!focusedBefore || !target || target.id !== 'task-board') return;
    var row = document.getElementById('task-' + focusedBefore.task);
    var element = row && controls(row)[focusedBefore.index];
    focusedBefore = null;
    if (element && !focusAfterSwap) element.focus();
  }

  function afterSwap(event) {
    var target = event.detail && event.detail.target;
    if (!focusAfterSwap || !document.getElementById('task-board') || (target && target.id !== 'task-board')) return;
    var element = document.querySelector(focusAfterSwap);
    focusAfterSwap = null;
    // The board settles a moment after it is swapped in: someone quicker who
    // already went to another field of it keeps their place.
    var active = document.activeElement;
    if (element && (!active || active === document.body)) element.focus();
  }

  function typing(target) {
    return target.closest && target.closest('input, textarea, select, [contenteditable]');
  }

  function onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.repeat) return;
    var target = event.target;
    if (event.key === 'Escape' && target.closest && target.closest('.task-edit')) {
      if (swapList('GET', listUrl(), target)) event.preventDefault();
      return;
    }
    if (event.altKey && (event.key === 'ArrowUp' || event.key === 'ArrowDown')) {
      var row = rowOf(target);
      var move = row && row.querySelector('[data-move="' + (event.key === 'ArrowUp' ? 'up' : 'down') + '"]');
      if (move) { event.preventDefault(); move.click(); }
      return;
    }
    if (event.altKey || typing(target)) return;
    if (event.key === '+') {
      var extend = document.getElementById('extend-60');
      if (extend) { event.preventDefault(); extend.click(); }
    }
  }

  // -- dragging -------------------------------------------------------------------

  var dragged = null;

  function moveUrl(row) {
    var up = row.querySelector('[data-move="up"]');
    return up ? up.getAttribute('formaction').replace(/\/move\/up$/, '/move/to') : null;
  }

  function clearMarks() {
    document.querySelectorAll('#tasks .drop-before, #tasks .dragging').forEach(function (element) {
      element.classList.remove('drop-before', 'dragging');
    });
  }

  function onDragStart(event) {
    var row = rowOf(event.target);
    if (!row || !row.closest('#task-list')) return;
    dragged = row;
    row.classList.add('dragging');
    event.dataTransfer.effectAllowed = 'move';
    event.dataTransfer.setData('text/plain', row.dataset.task);
  }

  function onDragOver(event) {
    var row = rowOf(event.target);
    if (!dragged || !row || row === dragged || !row.closest('#task-list')) return;
    event.preventDefault();
    document.querySelectorAll('#tasks .drop-before').forEach(function (e) { e.classList.remove('drop-before'); });
    row.classList.add('drop-before');
  }

  function onDrop(event) {
    var row = rowOf(event.target);
    var from = dragged;
    dragged = null;
    clearMarks();
    if (!from || !row || row === from) return;
    event.preventDefault();
    // Dropped on a row: take its place (the list closes up behind the one moved).
    swapList('POST', moveUrl(from), from, { position: row.dataset.position });
  }

  function init() {
    document.addEventListener('click', onClick);
    document.addEventListener('submit', onSubmit, true);
    document.addEventListener('keydown', onKey);
    document.addEventListener('dragstart', onDragStart);
    document.addEventListener('dragover', onDragOver);
    document.addEventListener('drop', onDrop);
    document.addEventListener('dragend', function () { dragged = null; clearMarks(); });
    document.body.addEventListener('htmx:beforeSwap', beforeBoardSwap);
    document.body.addEventListener('htmx:afterSwap', afterBoardSwap);
    document.body.addEventListener('htmx:afterSettle', afterSwap);
    document.body.addEventListener('htmx:afterRequest', afterRequest);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();

/* == Reports (issue 13): the year's heatmap scrolled to its latest weeks on a narrow screen == */
(function () {
  'use strict';

  function showLatest() {
    document.querySelectorAll('.scroll-x').forEach(function (box) { box.scrollLeft = box.scrollWidth; });
  }

  function wire() {
    showLatest();
    document.body.addEventListener('htmx:afterSettle', showLatest);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', wire);
  else wire();
})();
/* == end of Reports == */

/* == Copy buttons: the calendar feed's address (reports, issue 13) and a new
 * token or webhook secret (integrations, issue 14). One handler for every
 * [data-copy] button: it copies its field's value (an input) or text (a code
 * element). Without JavaScript the button stays hidden and the text is there
 * to select and copy. */
(function () {
  'use strict';

  function textOf(field) {
    return field.tagName === 'INPUT' || field.tagName === 'TEXTAREA' ? field.value : field.textContent.trim();
  }

  function select(field) {
    if (field.select) { field.select(); return; }
    var range = document.createRange();
    range.selectNodeContents(field);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function wire() {
    document.querySelectorAll('[data-copy]').forEach(function (button) {
      var field = document.getElementById(button.getAttribute('data-copy'));
      if (!field || !navigator.clipboard || button.dataset.wired) return;
      button.dataset.wired = '1';
      button.hidden = false;
      button.addEventListener('click', function () {
        navigator.clipboard.writeText(textOf(field)).then(function () {
          button.textContent = 'Copied';
        }, function () {
          select(field);  // the person copies the selected text themselves
        });
      });
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', wire);
  else wire();
})();
/* == end of Copy buttons == */
