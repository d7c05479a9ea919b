// jitbot local console: the page. Plain browser JavaScript, no build step and no network beyond the
// bot itself. Cards arrive as Adaptive Card JSON (the same JSON Teams gets) and are drawn by the
// adaptivecards UMD build (window.AdaptiveCards). Every piece of user text reaches the DOM as a text
// node; the only HTML built from strings is the markdown below, which escapes its input first.
(function () {
  'use strict';

  var AC = window.AdaptiveCards;
  var FONT = '"Segoe UI", system-ui, -apple-system, "Helvetica Neue", "Liberation Sans", "DejaVu Sans", Arial, sans-serif';
  var MONO = '"Cascadia Mono", Consolas, "SFMono-Regular", Menlo, "DejaVu Sans Mono", "Liberation Mono", monospace';
  var VERBS = ['approve', 'deny', 'extend', 'release', 'cancel'];
  var THREAD_VISIBLE = 3;

  var state = {
    people: [],
    me: null,
    events: null,
    /** Server time minus page time, so the clock ticks between updates without asking the server. */
    clockSkewMs: 0,
    clockKnown: false,
    conversation: new Map(),
    channel: new Map(),
    azure: null,
    azureTimer: 0,
    history: [],
    historyAt: -1,
  };

  // ---- small DOM helpers --------------------------------------------------------------------------

  /** Element builder: strings become text nodes, never HTML. */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null || v === false) return;
        if (k === 'class') el.className = v;
        else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) return child.forEach(function (c) { append(el, c); });
    el.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }

  function $(id) {
    return document.getElementById(id);
  }

  function initials(name) {
    var parts = String(name || '?').trim().split(/\s+/);
    return ((parts[0] || '?')[0] + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase();
  }

  /** A stable, pleasant colour per person, so each one is recognisable across the three panes. */
  function hue(text) {
    var n = 0;
    for (var i = 0; i < text.length; i++) n = (n * 31 + text.charCodeAt(i)) % 360;
    return n;
  }

  function avatar(person, extra) {
    var a = h('span', { class: 'avatar' + (extra ? ' ' + extra : ''), 'aria-hidden': 'true' }, initials(person.name));
    a.style.setProperty('--avatar-hue', String(hue(person.email || person.name)));
    return a;
  }

  // ---- time ---------------------------------------------------------------------------------------

  function serverNow() {
    return new Date(Date.now() + state.clockSkewMs);
  }

  function setServerNow(iso) {
    var t = Date.parse(iso);
    if (!isNaN(t)) {
      state.clockSkewMs = t - Date.now();
      state.clockKnown = true;
      renderClock();
    }
  }

  /** `14:05 UTC`, with the date in front on another day: the bot's own way of writing times. */
  function formatUtc(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return '';
    var s = d.toISOString();
    var time = s.slice(11, 16) + ' UTC';
    return serverNow().toISOString().slice(0, 10) === s.slice(0, 10) ? time : s.slice(0, 10) + ' ' + time;
  }

  /** `in 54m`, `in 2h 5m`, `3m ago`. */
  function relative(iso) {
    var ms = new Date(iso).getTime() - serverNow().getTime();
    var mins = Math.round(Math.abs(ms) / 60000);
    var text = mins < 1 ? 'under a minute' : mins < 60 ? mins + 'm' : Math.floor(mins / 60) + 'h' + (mins % 60 ? ' ' + (mins % 60) + 'm' : '');
    return ms >= 0 ? 'in ' + text : text + ' ago';
  }

  // ---- markdown, as Teams draws it ----------------------------------------------------------------
  // Teams draws TextBlock and fact text as markdown; so does this page, with markdown-it and raw HTML
  // off, so a card shows here what it shows there. The bot escapes every text it did not write
  // (src/cards/markdown.ts); markdown-it refuses javascript: and data: links, and its output is built
  // by its renderer, never by pasting strings, so no attribute can be smuggled into a link.
  // The same options are in test/teams/card-text.ts.
  var md = window.markdownit({ html: false, linkify: false, breaks: true });
  var defaultLinkOpen =
    md.renderer.rules.link_open ||
    function (tokens, idx, options, env, self) {
      return self.renderToken(tokens, idx, options);
    };
  md.renderer.rules.link_open = function (tokens, idx, options, env, self) {
    tokens[idx].attrSet('target', '_blank');
    tokens[idx].attrSet('rel', 'noopener noreferrer');
    return defaultLinkOpen(tokens, idx, options, env, self);
  };

  AC.AdaptiveCard.onProcessMarkdown = function (text, result) {
    result.outputHtml = md.render(text);
    result.didProcess = true;
  };

  // ---- Adaptive Cards -----------------------------------------------------------------------------

  function colors(def, subtle) {
    return { default: def, subtle: subtle || def };
  }

  // The reader's colour scheme, as Teams follows the client's theme.
  var DARK = !!(window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches);

  var FOREGROUND = DARK
    ? {
        default: colors('#E6E8EF', '#A9AFBF'),
        dark: colors('#242424', '#616161'),
        light: colors('#FFFFFF', '#F0F0F0'),
        accent: colors('#A6A7F0', '#9EA2FF'),
        good: colors('#7FD47F', '#92C353'),
        warning: colors('#F0C36B', '#E8B04A'),
        attention: colors('#F08A9C', '#E57384'),
      }
    : {
        default: colors('#242424', '#616161'),
        dark: colors('#242424', '#616161'),
        light: colors('#FFFFFF', '#F0F0F0'),
        accent: colors('#4F52B2', '#6264A7'),
        good: colors('#0E700E', '#2E7D32'),
        warning: colors('#8A5300', '#A0670A'),
        attention: colors('#C4314B', '#B4303F'),
      };

  function container(bg) {
    return { backgroundColor: bg, foregroundColors: FOREGROUND };
  }

  // Close to Teams' light theme, so a card looks here as it will there.
  var hostConfig = new AC.HostConfig({
    supportsInteractivity: true,
    fontFamily: FONT,
    fontTypes: {
      default: {
        fontFamily: FONT,
        fontSizes: { small: 12, default: 14, medium: 16, large: 20, extraLarge: 24 },
        fontWeights: { lighter: 300, default: 400, bolder: 600 },
      },
      monospace: {
        fontFamily: MONO,
        fontSizes: { small: 12, default: 13, medium: 15, large: 18, extraLarge: 22 },
        fontWeights: { lighter: 300, default: 400, bolder: 600 },
      },
    },
    spacing: { small: 4, default: 8, medium: 16, large: 24, extraLarge: 32, padding: 16 },
    separator: { lineThickness: 1, lineColor: '#E6E6E6' },
    containerStyles: DARK
      ? {
          default: container('#262A36'),
          emphasis: container('#20232E'),
          accent: container('#262944'),
          good: container('#1D3320'),
          attention: container('#3B1E25'),
          warning: container('#3A2F17'),
        }
      : {
      default: container('#FFFFFF'),
      emphasis: container('#F5F5F7'),
      accent: container('#EEF0FC'),
      good: container('#EAF6EA'),
      attention: container('#FCEEF0'),
      warning: container('#FFF6E0'),
    },
    actions: {
      maxActions: 6,
      spacing: 'default',
      buttonSpacing: 8,
      actionsOrientation: 'horizontal',
      actionAlignment: 'left',
      showCard: { actionMode: 'inline', inlineTopMargin: 12 },
    },
    adaptiveCard: { allowCustomStyle: true },
    factSet: {
      title: { color: 'default', size: 'default', isSubtle: true, weight: 'default', wrap: true, maxWidth: 120 },
      value: { color: 'default', size: 'default', isSubtle: false, weight: 'default', wrap: true },
      spacing: 12,
    },
    inputs: {
      label: { requiredInputs: { suffix: ' *', suffixColor: 'attention' }, optionalInputs: { weight: 'default' } },
      errorMessage: { color: 'attention', size: 'small' },
    },
  });

  /** Draw card JSON; `ctx` tells the buttons where they live (for the answer under the card). */
  function renderCard(json, ctx) {
    var card = new AC.AdaptiveCard();
    card.hostConfig = hostConfig;
    card.onExecuteAction = function (action) {
      onCardAction(action, ctx);
    };
    try {
      card.parse(json);
      var el = card.render();
      if (el) {
        // A message is read, not focused: only its buttons and inputs are tab stops.
        el.removeAttribute('tabindex');
        el.querySelectorAll('[tabindex]').forEach(function (n) {
          if (!/^(BUTTON|INPUT|SELECT|TEXTAREA|A)$/.test(n.tagName)) n.removeAttribute('tabindex');
        });
        return el;
      }
    } catch (err) {
      console.error('jitbot console: could not draw a card', err, json);
    }
    return h('p', { class: 'card-error' }, 'This card could not be drawn; the browser console has the details.');
  }

  function cardFrame(json, ctx, extraClass) {
    ctx.frame = h('div', { class: 'ac-frame' + (extraClass ? ' ' + extraClass : '') });
    ctx.frame.appendChild(renderCard(json, ctx));
    ctx.note = h('p', { class: 'action-note', role: 'status', hidden: true });
    return h('div', { class: 'card-wrap' }, ctx.frame, ctx.note);
  }

  function showNote(ctx, ok, text) {
    if (!ctx.note) return toast(text, ok);
    ctx.note.hidden = false;
    ctx.note.className = 'action-note ' + (ok ? 'ok' : 'refused');
    ctx.note.textContent = '';
    append(ctx.note, [h('span', { class: 'only-you' }, 'Only you can see this'), text]);
  }

  function setBusy(ctx, busy) {
    if (!ctx.frame) return;
    ctx.frame.classList.toggle('busy', busy);
    ctx.frame.querySelectorAll('button').forEach(function (b) {
      b.disabled = busy;
    });
  }

  function onCardAction(action, ctx) {
    // A link on a card (the from-me page, an audit download) opens as a link, never as a button of ours.
    if (typeof action.getJsonTypeName === 'function' && action.getJsonTypeName() === 'Action.OpenUrl') {
      if (/^https?:\/\//.test(action.url || '')) window.open(action.url, '_blank', 'noopener');
      return;
    }
    var data = action.data && typeof action.data === 'object' ? action.data : {};
    var verb = action.verb || data.verb;
    if (verb === 'submit-form') return submitForm(data, ctx);
    if (VERBS.indexOf(verb) < 0 || !data.requestId) return toast('This button does nothing in the console.', false);
    setBusy(ctx, true);
    post('/console/action', { as: state.me.email, verb: verb, requestId: data.requestId, key: newKey() })
      .then(function (r) {
        showNote(ctx, r.ok, r.message);
      })
      .catch(function (err) {
        showNote(ctx, false, err.message);
      })
      .then(function () {
        setBusy(ctx, false);
      });
  }

  function submitForm(data, ctx) {
    setBusy(ctx, true);
    post('/console/form', { as: state.me.email, input: data, key: newKey() })
      .then(function (r) {
        if (r.ok) {
          ctx.frame.classList.add('done');
          ctx.frame.querySelectorAll('input, select, textarea, button').forEach(function (el) {
            el.disabled = true;
          });
          (r.entries || []).forEach(addEntry);
          return;
        }
        // The form comes back with the values and a line under each field to fix.
        ctx.frame.textContent = '';
        ctx.frame.appendChild(renderCard(r.card, ctx));
        setBusy(ctx, false);
      })
      .catch(function (err) {
        setBusy(ctx, false);
        showNote(ctx, false, err.message);
      });
  }

  // ---- HTTP ---------------------------------------------------------------------------------------

  function newKey() {
    return 'k' + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  function post(url, body) {
    return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(readJson);
  }

  function get(url) {
    return fetch(url, { headers: { accept: 'application/json' } }).then(readJson);
  }

  function readJson(res) {
    return res.text().then(function (text) {
      var body = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch (e) {
        body = null;
      }
      if (!res.ok) {
        var err = new Error((body && body.error) || 'jitbot answered ' + res.status);
        err.status = res.status;
        throw err;
      }
      return body;
    });
  }

  var toastTimer = 0;
  function toast(text, ok) {
    var t = $('toast');
    t.textContent = text;
    t.className = 'toast show ' + (ok ? 'ok' : 'refused');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () {
      t.className = 'toast';
    }, 5000);
  }

  // ---- people -------------------------------------------------------------------------------------

  function personByEmail(email) {
    return state.people.filter(function (p) {
      return p.email === email;
    })[0];
  }

  function choosePerson(email) {
    var person = personByEmail(email) || state.people[0];
    if (!person) return;
    state.me = person;
    $('person').value = person.email;
    try {
      localStorage.setItem('jitbot.console.as', person.email);
    } catch (e) {
      /* storage may be off (private mode); the choice then lasts for this page only */
    }
    var url = new URL(location.href);
    url.searchParams.set('as', person.email);
    history.replaceState(null, '', url.toString());
    var me = $('me-avatar');
    me.textContent = initials(person.name);
    me.style.setProperty('--avatar-hue', String(hue(person.email)));
    $('groups').textContent = person.groups.length ? person.groups.join(' · ') : 'no groups';
    $('chat-title').textContent = 'Chat with jitbot as ' + person.name;
    document.title = person.name + ' · jitbot console';
    connect();
  }

  // ---- the live stream ----------------------------------------------------------------------------

  function connect() {
    if (state.events) state.events.close();
    setLive(false, 'connecting…');
    state.conversation.clear();
    state.channel.clear();
    $('conversation').textContent = '';
    $('channel').textContent = '';
    var es = new EventSource('/console/events?as=' + encodeURIComponent(state.me.email));
    state.events = es;
    var on = function (name, fn) {
      es.addEventListener(name, function (e) {
        if (state.events !== es) return;
        var data;
        try {
          data = JSON.parse(e.data);
        } catch (err) {
          return;
        }
        fn(data);
      });
    };
    on('snapshot', function (s) {
      setServerNow(s.now);
      state.conversation.clear();
      state.channel.clear();
      $('conversation').textContent = '';
      $('channel').textContent = '';
      s.conversation.forEach(addEntry);
      s.channel.forEach(upsertCard);
      renderEmptyStates();
      setLive(true);
      refreshAzure();
    });
    on('message', function (entry) {
      addEntry(entry);
      refreshAzureSoon();
    });
    on('card', function (card) {
      upsertCard(card);
      refreshAzureSoon();
    });
    on('thread', function (t) {
      addThreadReply(t.cardId, t.reply);
      refreshAzureSoon();
    });
    on('clock', function (c) {
      setServerNow(c.now);
      refreshAzureSoon();
    });
    es.onerror = function () {
      if (state.events === es) setLive(false);
    };
  }

  function setLive(live, text) {
    var el = $('live');
    el.className = 'live ' + (live ? 'on' : 'off');
    el.textContent = text || (live ? 'live' : 'reconnecting…');
  }

  // ---- the conversation ---------------------------------------------------------------------------

  function addEntry(entry) {
    var drawn = JSON.stringify(entry.card || null);
    var known = state.conversation.get(entry.id);
    if (known) {
      // The requester's copy of a card that moved on: redraw it in place, keeping the note under it.
      if (known.ctx && known.drawn !== drawn) {
        known.drawn = drawn;
        known.ctx.frame.textContent = '';
        known.ctx.frame.appendChild(renderCard(entry.card, known.ctx));
        followIfFollowing();
      }
      return;
    }
    var list = $('conversation');
    var ctx = entry.from === 'me' ? null : {};
    var el = ctx ? botMessage(entry, ctx) : myMessage(entry);
    state.conversation.set(entry.id, { ctx: ctx, drawn: drawn });
    list.appendChild(el);
    renderEmptyStates();
    followIfFollowing();
  }

  // Whether the reader is at the bottom of the chat. Only scrolling changes it: content that grows
  // (a card drawn, a reply redrawn) fires no scroll event, so the chat keeps following.
  var following = true;
  function followIfFollowing() {
    if (!following) return;
    var scroller = $('conversation-scroller');
    scroller.scrollTop = scroller.scrollHeight;
    // Cards finish their layout a frame later; follow that too.
    requestAnimationFrame(function () {
      if (following) scroller.scrollTop = scroller.scrollHeight;
    });
  }
  function watchScrolling() {
    var scroller = $('conversation-scroller');
    scroller.addEventListener('scroll', function () {
      following = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    });
  }

  function myMessage(entry) {
    return h(
      'li',
      { class: 'msg mine', 'data-entry': entry.id },
      h('div', { class: 'msg-body' }, h('div', { class: 'msg-meta' }, h('time', { datetime: entry.at }, formatUtc(entry.at))), h('div', { class: 'bubble' }, entry.text)),
      avatar(state.me),
    );
  }

  function botMessage(entry, ctx) {
    var label = entry.kind === 'dm' ? 'Direct message' : null;
    return h(
      'li',
      { class: 'msg bot' + (entry.kind === 'dm' ? ' dm' : ''), 'data-entry': entry.id, 'data-kind': entry.kind, 'data-request-id': entry.requestId },
      h('span', { class: 'avatar bot-avatar', 'aria-hidden': 'true' }, 'J'),
      h(
        'div',
        { class: 'msg-body' },
        h('div', { class: 'msg-meta' }, h('strong', null, 'jitbot'), label ? h('span', { class: 'pill' }, label) : null, h('time', { datetime: entry.at }, formatUtc(entry.at))),
        cardFrame(entry.card, ctx),
      ),
    );
  }

  // ---- the approvals channel ----------------------------------------------------------------------

  function upsertCard(c) {
    var existing = state.channel.get(c.id);
    var ctx = existing ? existing.ctx : {};
    var previousNote = ctx.note;
    var wrap = cardFrame(c.card, ctx);
    var badge = c.forApprover
      ? h('span', { class: 'pill approver' }, 'You can approve')
      : c.forRequester
        ? h('span', { class: 'pill mine' }, 'Your request')
        : null;
    var meta = h(
      'div',
      { class: 'msg-meta' },
      h('strong', null, 'jitbot'),
      h('span', { class: 'state state-' + c.state }, c.state),
      badge,
      h('time', { datetime: c.postedAt }, formatUtc(c.postedAt)),
      c.updatedAt !== c.postedAt ? h('span', { class: 'edited' }, '(edited ' + formatUtc(c.updatedAt) + ')') : null,
    );
    if (existing) {
      // Keep the answer to the last click visible while the card redraws around it.
      wrap.replaceChild(previousNote, ctx.note);
      ctx.note = previousNote;
      existing.meta.replaceWith(meta);
      existing.wrap.replaceWith(wrap);
      existing.meta = meta;
      existing.wrap = wrap;
      existing.el.setAttribute('data-state', c.state);
      existing.el.classList.toggle('for-approver', c.forApprover);
      c.thread.forEach(function (r) {
        addThreadReply(c.id, r);
      });
      return;
    }
    var replies = h('ol', { class: 'thread collapsed', 'aria-label': 'Thread replies' });
    var count = h('button', { type: 'button', class: 'thread-count', hidden: true, 'aria-expanded': 'false' });
    count.addEventListener('click', function () {
      replies.classList.toggle('collapsed');
      renderThreadCount(item);
    });
    var el = h(
      'li',
      { class: 'post' + (c.forApprover ? ' for-approver' : ''), 'data-request-id': c.requestId, 'data-state': c.state, id: 'card-' + c.id },
      h('span', { class: 'avatar bot-avatar', 'aria-hidden': 'true' }, 'J'),
      h('div', { class: 'msg-body' }, meta, wrap, count, replies),
    );
    var item = { el: el, meta: meta, wrap: wrap, ctx: ctx, replies: replies, count: count, seen: new Set() };
    state.channel.set(c.id, item);
    var list = $('channel');
    list.insertBefore(el, list.firstChild);
    c.thread.forEach(function (r) {
      addThreadReply(c.id, r);
    });
    renderEmptyStates();
  }

  function addThreadReply(cardId, r) {
    var item = state.channel.get(cardId);
    if (!item || item.seen.has(r.id)) return;
    item.seen.add(r.id);
    var ctx = {};
    item.replies.appendChild(
      h(
        'li',
        { class: 'reply', 'data-kind': r.kind, 'data-reply': r.id },
        h('div', { class: 'msg-meta' }, h('strong', null, 'jitbot'), h('span', { class: 'muted' }, 'replied in thread'), h('time', { datetime: r.at }, formatUtc(r.at))),
        cardFrame(r.card, ctx, 'compact'),
      ),
    );
    renderThreadCount(item);
  }

  /** Like a chat client, a long thread shows its latest replies until asked for the rest. */
  function renderThreadCount(item) {
    var n = item.seen.size;
    var hidden = n - THREAD_VISIBLE;
    var collapsed = item.replies.classList.contains('collapsed');
    item.count.hidden = n === 0;
    item.count.disabled = hidden <= 0;
    item.count.setAttribute('aria-expanded', String(!collapsed));
    item.count.textContent =
      (n === 1 ? '1 reply' : n + ' replies') + (hidden > 0 ? (collapsed ? ' · show ' + hidden + ' earlier' : ' · show latest only') : '');
  }

  function renderEmptyStates() {
    $('channel-empty').hidden = state.channel.size > 0;
    var hello = $('conversation-empty');
    hello.hidden = state.conversation.size > 0;
    if (!hello.hidden && state.me) $('hello-name').textContent = state.me.name;
  }

  // ---- the composer -------------------------------------------------------------------------------

  function send(text) {
    var typed = text.trim();
    if (!state.me) return;
    $('command').value = '';
    if (typed) {
      state.history.push(typed);
      state.historyAt = state.history.length;
    }
    var form = $('composer');
    form.classList.add('sending');
    // Sending something means wanting to see the answer.
    following = true;
    post('/console/command', { as: state.me.email, text: typed, key: newKey() })
      .then(function (r) {
        r.entries.forEach(addEntry);
      })
      .catch(function (err) {
        toast(err.message, false);
      })
      .then(function () {
        form.classList.remove('sending');
        refreshAzureSoon();
      });
  }

  function wireComposer() {
    $('composer').addEventListener('submit', function (e) {
      e.preventDefault();
      send($('command').value);
    });
    $('command').addEventListener('keydown', function (e) {
      if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return;
      if (!state.history.length) return;
      e.preventDefault();
      state.historyAt = Math.max(0, Math.min(state.history.length, state.historyAt + (e.key === 'ArrowUp' ? -1 : 1)));
      $('command').value = state.history[state.historyAt] || '';
    });
    document.querySelectorAll('[data-command]').forEach(function (b) {
      b.addEventListener('click', function () {
        var text = b.getAttribute('data-command');
        if (b.hasAttribute('data-fill')) {
          $('command').value = text;
          $('command').focus();
        } else send(text);
      });
    });
  }

  // ---- the clock ----------------------------------------------------------------------------------

  function renderClock() {
    if (!state.clockKnown) return;
    var now = serverNow();
    var s = now.toISOString();
    $('now').textContent = s.slice(11, 19) + ' UTC';
    $('now').setAttribute('datetime', s);
    $('today').textContent = s.slice(0, 10);
    var ahead = Math.round(state.clockSkewMs / 60000);
    $('ahead').textContent = ahead >= 1 ? '+' + formatMinutes(ahead) + ' ahead of real time' : 'real time';
    $('ahead').classList.toggle('ahead', ahead >= 1);
  }

  function formatMinutes(m) {
    var d = Math.floor(m / 1440);
    var hrs = Math.floor((m % 1440) / 60);
    var mins = m % 60;
    return (d ? d + 'd' : '') + (hrs ? hrs + 'h' : '') + (mins || (!d && !hrs) ? mins + 'm' : '');
  }

  function advance(by) {
    var panel = $('clock-panel');
    panel.classList.add('busy');
    return post('/_local/clock/advance', { by: by })
      .then(function (r) {
        setServerNow(r.now);
        toast('Clock moved ' + by + ' forward: due reminders and expiries ran.', true);
        refreshAzure();
      })
      .catch(function (err) {
        toast(err.status === 404 ? 'The clock can only be moved in local mode.' : err.message, false);
      })
      .then(function () {
        panel.classList.remove('busy');
      });
  }

  function wireClock() {
    document.querySelectorAll('[data-advance]').forEach(function (b) {
      b.addEventListener('click', function () {
        advance(b.getAttribute('data-advance'));
      });
    });
    $('advance-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var by = $('advance-by').value.trim();
      if (!by) return $('advance-by').focus();
      advance(by).then(function () {
        $('advance-by').value = '';
      });
    });
    get('/_local/clock')
      .then(function (r) {
        setServerNow(r.now);
      })
      .catch(function () {
        $('clock-panel').classList.add('fixed');
      });
    setInterval(renderClock, 1000);
  }

  // ---- the simulated Azure panel ------------------------------------------------------------------

  function refreshAzureSoon() {
    clearTimeout(state.azureTimer);
    state.azureTimer = setTimeout(refreshAzure, 150);
  }

  function refreshAzure() {
    clearTimeout(state.azureTimer);
    return get('/console/state')
      .then(function (s) {
        state.azure = s;
        if (s.now) setServerNow(s.now);
        renderAzure();
      })
      .catch(function (err) {
        var box = $('azure');
        box.textContent = '';
        box.appendChild(h('p', { class: 'card-error' }, err.message));
      });
  }

  function portLabel(p) {
    return p.protocol === '*' ? String(p.port) : p.port + '/' + p.protocol;
  }

  function ruleDetail(r) {
    var parts = [];
    if (r.sources.length) parts.push(r.sources.indexOf('*') >= 0 ? 'any source' : r.sources.join(', '));
    if (r.max) parts.push('max ' + r.max);
    return parts.length ? parts.join(' · ') : 'under JIT';
  }

  function renderAzure() {
    var s = state.azure;
    var box = $('azure');
    box.textContent = '';
    if (!s) return;
    if (s.note) box.appendChild(h('p', { class: 'muted small' }, s.note));
    var openCount = 0;
    s.vms.forEach(function (vm) {
      openCount += (vm.open || []).length;
    });
    $('azure-summary').textContent = s.vms.length + ' VMs · ' + (openCount ? openCount + ' open port' + (openCount > 1 ? 's' : '') : 'all ports closed');
    s.vms.forEach(function (vm) {
      box.appendChild(vmCard(vm));
    });
  }

  function vmCard(vm) {
    var open = vm.open || [];
    var head = h(
      'div',
      { class: 'vm-head' },
      h('span', { class: 'vm-status ' + (open.length ? 'open' : 'closed'), title: open.length ? 'ports open' : 'closed' }),
      h('strong', { class: 'vm-name' }, vm.name),
      vm.os ? h('span', { class: 'os os-' + vm.os }, vm.os === 'windows' ? 'Windows' : 'Linux') : null,
    );
    var where = vm.resourceGroup ? h('p', { class: 'vm-where' }, vm.resourceGroup + ' · ' + vm.location) : null;
    var policy;
    if (vm.error) policy = h('p', { class: 'card-error small' }, vm.error);
    else if (!vm.jit) policy = h('p', { class: 'muted small' }, 'Not under JIT');
    else
      policy = h(
        'ul',
        { class: 'rules', 'aria-label': 'JIT policy of ' + vm.name },
        vm.jit.map(function (r) {
          var isOpen = open.some(function (o) {
            return o.port === r.port;
          });
          return h(
            'li',
            { class: 'rule' + (isOpen ? ' is-open' : '') },
            h('span', { class: 'port' }, portLabel(r)),
            h('span', { class: 'rule-detail' }, ruleDetail(r)),
          );
        }),
      );
    var openList = open.length
      ? h(
          'ul',
          { class: 'open-list', 'aria-label': 'Open ports on ' + vm.name },
          open.map(function (o) {
            return h(
              'li',
              { class: 'open-port', 'data-port': o.port },
              h('span', { class: 'badge-open' }, 'OPEN'),
              h('span', { class: 'port' }, portLabel(o)),
              h('span', null, ' from ', h('code', null, o.source)),
              h('span', { class: 'until' }, 'until ' + formatUtc(o.until) + ' · ' + relative(o.until)),
            );
          }),
        )
      : vm.jit
        ? h('p', { class: 'closed-line' }, 'All JIT ports closed')
        : null;
    return h('article', { class: 'vm' + (open.length ? ' has-open' : ''), 'data-vm': vm.name }, head, where, policy, openList);
  }

  // ---- start --------------------------------------------------------------------------------------

  function start() {
    wireComposer();
    wireClock();
    watchScrolling();
    // The console is for typing commands: the box has focus from the start.
    $('command').focus();
    $('person').addEventListener('change', function (e) {
      choosePerson(e.target.value);
    });
    get('/console/people')
      .then(function (r) {
        state.people = r.people;
        var select = $('person');
        r.people.forEach(function (p) {
          select.appendChild(h('option', { value: p.email }, p.name + ' — ' + p.email));
        });
        var wanted = new URL(location.href).searchParams.get('as');
        var remembered = null;
        try {
          remembered = localStorage.getItem('jitbot.console.as');
        } catch (e) {
          remembered = null;
        }
        choosePerson((wanted || remembered || '').toLowerCase());
      })
      .catch(function (err) {
        toast('Could not load the people of the config: ' + err.message, false);
      });
    setInterval(function () {
      if (document.visibilityState === 'visible') refreshAzure();
    }, 10000);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
