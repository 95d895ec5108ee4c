/* scanflow review: the piece screen's keyboard flow, page viewer and line crops.
 *
 * Plain JavaScript, no libraries, no build step. The page works without this file (the
 * form saves every line at once); with it, each line is saved to the teacher's draft as
 * they leave it, and the page image follows the line being typed.
 *
 * Keys in a line box:
 *   Enter / ↓       save the line (marking it read against the page) and go to the next
 *   ↑               back to the line above
 *   Esc             undo the changes to this line since it was last saved
 *   Shift+Enter     split the line at the cursor
 *   Ctrl+Enter      add an empty line below
 *   Backspace       at the very start: join with the line above (an empty line is removed)
 *   Delete          at the very end: join with the line below
 *   Ctrl+S          save a version of the piece
 */
(function () {
  "use strict";

  var dataEl = document.getElementById("piece-data");
  if (!dataEl) return;
  var data = JSON.parse(dataEl.textContent);

  var state = {
    basedOn: data.based_on,
    rev: data.rev,
    lines: data.lines,
    saved: data.lines.map(function (l) { return l.text; }),
    current: -1,
    zoom: 1,
    pageIndex: 0,
    chain: Promise.resolve(),
    pending: 0,
    busy: false,
    hasDraft: data.has_draft,
    conflictShown: !!data.conflict
  };

  var el = {
    list: document.getElementById("lines"),
    form: document.getElementById("lines-form"),
    basedOn: document.getElementById("based-on"),
    rev: document.getElementById("rev"),
    status: document.getElementById("save-state"),
    version: document.getElementById("version-label"),
    conflict: document.getElementById("conflict"),
    conflictMsg: document.getElementById("conflict-message"),
    discardBtn: document.getElementById("discard-button"),
    discardForm: document.getElementById("discard-form"),
    reviewForm: document.getElementById("review-form"),
    reviewBtn: document.getElementById("review-button"),
    saveBtn: document.getElementById("save-button"),
    viewer: document.getElementById("viewer"),
    stage: document.getElementById("stage"),
    img: document.getElementById("page-img"),
    boxes: document.getElementById("boxes"),
    tabs: document.getElementById("page-tabs"),
    zoomLevel: document.getElementById("zoom-level"),
    pane: document.querySelector(".lines-pane")
  };

  var CROP_LINE_PX = 28;  // a line's picture on screen: legible, and 12+ lines fit
  var pagesById = {};
  data.pages.forEach(function (p, i) { p.index = i; pagesById[p.id] = p; });

  // ---------------------------------------------------------------- talking to the server

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": data.csrf },
      body: JSON.stringify(body || {})
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (json) {
        if (!resp.ok) {
          var err = new Error(json.error || ("The server answered " + resp.status +
            ". Your text is still here; try again, or reload the page."));
          err.status = resp.status;
          err.conflict = !!json.conflict;
          err.merge = !!json.merge;
          throw err;
        }
        return json;
      });
    }, function () {
      throw new Error("scanflow could not be reached (is the server still running?). " +
        "Your text is still here; try again when it is back.");
    });
  }

  // Requests go one after another, each naming the draft revision the one before made.
  function enqueue(task) {
    state.pending += 1;
    var run = state.chain.then(task);
    state.chain = run.then(done, function (err) { done(); showError(err); });
    return run;
  }

  function done() {
    state.pending -= 1;
    if (state.pending === 0 && state.hasDraft && !el.status.classList.contains("error")) {
      setStatus("Every line is kept in your draft. Press Ctrl+S to save a version.");
    }
  }

  function setStatus(text, isError) {
    el.status.textContent = text;
    el.status.title = text;  // the header shows one line; the whole message on hover
    el.status.classList.toggle("error", !!isError);
  }

  function showError(err) {
    if (err && err.merge) {
      // Lines both people changed: the page lays them side by side to choose from.
      window.location.reload();
      return;
    }
    if (err && err.conflict) { showConflict(err.message); return; }
    setStatus((err && err.message) || String(err), true);
  }

  function showConflict(message) {
    el.conflictMsg.textContent = message;
    el.conflict.hidden = false;
    state.conflictShown = true;
  }

  function draftStarted(rev) {
    state.rev = rev;
    el.rev.value = rev;
    if (!state.hasDraft) {
      state.hasDraft = true;
      if (el.discardBtn) el.discardBtn.hidden = false;
    }
  }

  function afterDraftChange(r) {
    el.status.classList.remove("error");
    draftStarted(r.rev);
    if (r.conflict && !state.conflictShown) showConflict(r.conflict);
  }

  // --------------------------------------------------------------------- the lines list

  function lineItems() { return el.list ? el.list.children : []; }
  function inputAt(i) { var li = lineItems()[i]; return li ? li.querySelector("input") : null; }

  // `asServed`: the list is the one in the page's HTML (opening the piece), so it is
  // only wired up, not built again: the first line can be typed in sooner.
  function renderLines(asServed) {
    if (!el.list) return;
    if (!asServed) buildLines();
    planPictures();
    Array.prototype.forEach.call(lineItems(), function (li, i) {
      wireLine(li, i);
      if (!asServed || flagged(state.lines[i]).length) drawMirror(i);
    });
    drawCrops();
    drawBoxes();
  }

  function drawCrops() {
    var first = lineItems()[0];
    var avail = first ? first.querySelector(".edit").clientWidth : 0;  // one layout, not 36
    state.lines.forEach(function (_, i) { drawCrop(i, avail); });
  }

  function buildLines() {
    var frag = document.createDocumentFragment();
    state.lines.forEach(function (line, i) {
      var li = document.createElement("li");
      li.className = "line";
      li.dataset.index = i;
      var crop = document.createElement("div");
      crop.className = "crop";
      crop.setAttribute("aria-hidden", "true");
      var edit = document.createElement("div");
      edit.className = "edit";
      var mirror = document.createElement("div");
      mirror.className = "mirror";
      mirror.setAttribute("aria-hidden", "true");
      var input = document.createElement("input");
      input.name = "line";
      input.value = line.text;
      input.setAttribute("aria-label", "Line " + (i + 1));
      input.spellcheck = false;
      input.setAttribute("autocapitalize", "off");
      input.setAttribute("autocorrect", "off");
      input.autocomplete = "off";
      edit.appendChild(mirror);
      edit.appendChild(input);
      li.appendChild(crop);
      li.appendChild(edit);
      frag.appendChild(li);
    });
    el.list.textContent = "";
    el.list.appendChild(frag);
  }

  function wireLine(li, i) {
    var input = li.querySelector("input");
    input.addEventListener("keydown", onKey);
    input.addEventListener("focus", function () { setCurrent(index(input)); });
    input.addEventListener("blur", function () {
      // A list redrawn after a split or join removes the old boxes: nothing to save there.
      if (input.isConnected) commitLine(index(input), false);
    });
    input.addEventListener("input", function () {
      var k = index(input);
      drawMirror(k);
      li.classList.remove("saved");
    });
    input.addEventListener("scroll", function () { li.querySelector(".mirror").scrollLeft = input.scrollLeft; });
  }

  function index(input) { return Number(input.closest(".line").dataset.index); }

  function flagged(line) {
    return line.confidence !== null && line.flags && line.flags.length ? line.flags : [];
  }

  // The child's low-confidence words, marked behind the text box as the teacher types.
  function drawMirror(i) {
    var li = lineItems()[i];
    if (!li) return;
    var mirror = li.querySelector(".mirror");
    var input = li.querySelector("input");
    var words = {};
    flagged(state.lines[i]).forEach(function (f) { words[f.text] = true; });
    mirror.textContent = "";
    input.value.split(/(\s+)/).forEach(function (tok) {
      if (words[tok]) {
        var mark = document.createElement("mark");
        mark.textContent = tok;
        mirror.appendChild(mark);
      } else {
        mirror.appendChild(document.createTextNode(tok));
      }
    });
    mirror.scrollLeft = input.scrollLeft;
  }

  // Line boxes are upright rectangles around lines that slope as the page was scanned
  // (pages.skew, the angle the cleaning step levelled them by). The line itself is a
  // narrower band turned by that angle: this finds its centre and true size.
  function band(line, page) {
    var t = (page.skew || 0) * Math.PI / 180, c = Math.cos(t), s = Math.abs(Math.sin(t));
    var d = c * c - s * s;
    var w = (line.w * c - line.h * s) / d, h = (line.h * c - line.w * s) / d;
    if (!(h > line.h * 0.3) || !(w > line.w * 0.5)) { w = line.w; h = line.h; t = 0; }
    return { cx: line.x + line.w / 2, cy: line.y + line.h / 2, w: w, h: h,
             deg: t ? page.skew : 0 };
  }

  // Each page's lines come as one picture from the server (/page/ID/lines.jpg): row k
  // is the k-th box named in its address, levelled, ROW pixels high, with the ink of the
  // lines above and below painted out. Its address lists the boxes, so it follows splits
  // and joins; the same boxes give the same address, which the browser keeps.
  var pictureRow = {};  // line index -> [picture URL, its row, rows in the picture]
  // Opening a piece, the pictures are asked for once the focused first line is on the
  // screen: on a page's first view the server cuts them then (~0.1 s of work), and
  // that work should not hold up the line the teacher can already type in.
  var picturesShown = false;

  function showPictures() {
    picturesShown = true;
    Array.prototype.forEach.call(document.querySelectorAll(".crop[data-picture]"), function (c) {
      c.style.backgroundImage = "url(\"" + c.dataset.picture + "\")";
    });
  }

  function planPictures() {
    var perPage = {};
    pictureRow = {};
    state.lines.forEach(function (line, i) {
      var page = pagesById[line.page_id];
      if (!page || !page.lines_picture || line.x === null || line.w === null || !line.w || !line.h) return;
      var boxes = perPage[line.page_id] || (perPage[line.page_id] = []);
      pictureRow[i] = [line.page_id, boxes.length];
      boxes.push([line.x, line.y, line.w, line.h].map(Math.round).join(","));
    });
    Object.keys(pictureRow).forEach(function (i) {
      var at = pictureRow[i];
      var boxes = perPage[at[0]];
      pictureRow[i] = [pagesById[at[0]].lines_picture + "&b=" + boxes.join(";"), at[1], boxes.length];
    });
  }

  function drawCrop(i, avail) {
    var li = lineItems()[i];
    if (!li) return;
    var crop = li.querySelector(".crop");
    var line = state.lines[i];
    var page = pagesById[line.page_id];
    var at = pictureRow[i];
    crop.textContent = "";
    if (!page || !at) {
      crop.classList.add("nobox");
      crop.style.backgroundImage = "";
      delete crop.dataset.picture;
      return;
    }
    crop.classList.remove("nobox");
    var b = band(line, page);
    var padY = Math.max(3, Math.round(b.h * 0.08)), padX = 10;  // as the server pads
    var cw = b.w + 2 * padX, ch = b.h + 2 * padY;
    if (!avail) avail = li.querySelector(".edit").clientWidth || 600;  // as wide as the text box
    // Never blow a crop up past the display picture's own resolution, nor a short line
    // up to giant size: about twice the height of the typed text is easy to compare.
    var s = Math.min(avail / cw, page.display_width / page.width, CROP_LINE_PX / ch);
    var height = ch * s, f = height / data.line_row;
    crop.style.width = Math.round(cw * s) + "px";
    crop.style.height = Math.round(height) + "px";
    crop.dataset.picture = at[0];
    if (picturesShown) crop.style.backgroundImage = "url(\"" + at[0] + "\")";
    crop.style.backgroundSize = "auto " + (f * data.line_row * at[2]).toFixed(2) + "px";
    crop.style.backgroundPosition = "0 " + (-f * data.line_row * at[1]).toFixed(2) + "px";
    var left = b.cx - cw / 2, top = b.cy - ch / 2;
    flagged(line).forEach(function (w) {
      var m = document.createElement("div");
      m.className = "wordflag";
      m.title = w.why === "unknown"
        ? "“" + w.text + "” is not in the dictionary: a misreading, or the child's own spelling (keep it if so)"
        : "The recogniser was unsure of “" + w.text + "” (" + w.confidence + "%)";
      m.style.left = Math.round((w.x - left) * s) + "px";
      m.style.top = Math.round((w.y - top) * s) + "px";
      m.style.width = Math.round(w.w * s) + "px";
      m.style.height = Math.round(w.h * s) + "px";
      crop.appendChild(m);
    });
  }

  function setCurrent(i) {
    if (i === state.current) return;
    var items = lineItems();
    if (items[state.current]) items[state.current].classList.remove("current");
    state.current = i;
    if (items[i]) items[i].classList.add("current");
    var line = state.lines[i];
    if (line && pagesById[line.page_id]) showPage(pagesById[line.page_id].index, true);
    highlightBox(i);
    if (items[i]) items[i].scrollIntoView({ block: "nearest" });
  }

  function go(i, caret) {
    var n = state.lines.length;
    if (i >= n) {
      var target = el.reviewBtn || el.saveBtn;
      if (target) target.focus();
      setStatus("That was the last line. Save (Ctrl+S), or mark the piece reviewed to go to the next one.");
      return;
    }
    if (i < 0) return;
    var input = inputAt(i);
    if (!input) return;
    input.focus();
    var pos = caret === undefined ? input.value.length : Math.min(caret, input.value.length);
    input.setSelectionRange(pos, pos);
  }

  // Save one line to the draft. `confirm`: the teacher pressed Enter on it, so it counts as
  // read against the page even if nothing changed.
  function commitLine(i, confirm) {
    var input = inputAt(i);
    var line = state.lines[i];
    if (!input || !line || state.busy) return;
    var text = input.value;
    if (text === state.saved[i] && (!confirm || line.confidence === null)) return;
    var before = { saved: state.saved[i], confidence: line.confidence };
    state.saved[i] = text;
    line.text = text;
    line.confidence = null;
    var li = lineItems()[i];
    li.classList.remove("saved", "failed");
    li.classList.add("saving");
    setStatus("Saving…");
    enqueue(function () {
      return post(data.urls.line, { based_on: state.basedOn, rev: state.rev, index: i, text: text })
        .then(function (r) {
          afterDraftChange(r);
          li.classList.remove("saving");
          li.classList.add("saved");
          drawCrop(i);
          drawMirror(i);
          markBox(i);
        }, function (err) {
          state.saved[i] = before.saved;  // so the next Enter tries again
          line.confidence = before.confidence;
          li.classList.remove("saving");
          li.classList.add("failed");
          throw err;
        });
    });
  }

  // Split, join, add and remove change the list: the server returns the new list.
  function structural(op, body, focusIndex, caret) {
    if (state.busy) return;
    var cur = state.current;
    if (cur >= 0 && op !== "merge" && op !== "split") commitLine(cur, false);
    state.busy = true;
    setStatus("Saving…");
    body.based_on = state.basedOn;
    enqueue(function () {
      body.rev = state.rev;
      body.want_lines = true;
      return post(data.urls[op], body).then(function (r) {
        afterDraftChange(r);
        state.lines = r.lines;
        state.saved = r.lines.map(function (l) { return l.text; });
        state.current = -1;
        state.busy = false;
        renderLines();
        go(Math.max(0, Math.min(focusIndex, state.lines.length - 1)), caret);
      }, function (err) {
        state.busy = false;
        throw err;
      });
    });
  }

  function onKey(e) {
    var input = e.target;
    var i = index(input);
    var plain = !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey;
    var start = input.selectionStart, end = input.selectionEnd;
    if (state.busy) { e.preventDefault(); return; }
    if ((e.key === "Enter" && plain) || (e.key === "ArrowDown" && plain)) {
      e.preventDefault();
      commitLine(i, true);
      go(i + 1, e.key === "ArrowDown" ? start : undefined);
    } else if (e.key === "ArrowUp" && plain) {
      e.preventDefault();
      commitLine(i, false);
      go(i - 1, start);
    } else if (e.key === "Enter" && e.shiftKey && !e.ctrlKey) {
      e.preventDefault();
      structural("split", { index: i, at: start, text: input.value }, i + 1, 0);
    } else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      structural("insert", { index: i + 1 }, i + 1, 0);
    } else if (e.key === "Backspace" && plain && start === 0 && end === 0 && i > 0) {
      e.preventDefault();
      var prev = inputAt(i - 1).value;
      if (input.value === "") {
        structural("delete", { index: i }, i - 1, prev.length);
      } else {
        var caret = prev.replace(/\s+$/, "").length + (prev.trim() ? 1 : 0);
        structural("merge", { index: i - 1, texts: [prev, input.value] }, i - 1, caret);
      }
    } else if (e.key === "Backspace" && plain && start === 0 && end === 0 && i === 0 &&
               input.value === "" && state.lines.length > 1) {
      e.preventDefault();
      structural("delete", { index: 0 }, 0, 0);
    } else if (e.key === "Delete" && plain && start === input.value.length && end === start &&
               i < state.lines.length - 1) {
      e.preventDefault();
      var here = input.value;
      structural("merge", { index: i, texts: [here, inputAt(i + 1).value] }, i,
        here.replace(/\s+$/, "").length + (here.trim() ? 1 : 0));
    } else if (e.key === "Escape") {
      e.preventDefault();
      input.value = state.saved[i];
      drawMirror(i);
    }
  }

  // --------------------------------------------------------------------- saving versions

  function whenIdle() {
    return state.chain.then(function () {});
  }

  // The choice made for each line both people changed (the conflict banner's radios).
  function mergeChoices() {
    var body = {};
    var theirs = document.getElementById("merge-theirs");
    if (!theirs) return body;
    body.theirs = Number(theirs.value);
    document.querySelectorAll("#clashes input[type=radio]:checked").forEach(function (r) {
      body[r.name] = r.value;
    });
    return body;
  }

  function saveVersion() {
    if (state.current >= 0) commitLine(state.current, false);
    setStatus("Saving…");
    return enqueue(function () {
      return post(data.urls.save, mergeChoices()).then(function (r) {
        if (r.merged) {
          // Their changes are now in the text too: show the combined version.
          window.location.reload();
          return r;
        }
        state.basedOn = r.based_on;
        state.rev = 0;
        el.basedOn.value = r.based_on;
        el.rev.value = 0;
        state.hasDraft = false;
        if (el.discardBtn) el.discardBtn.hidden = true;
        el.conflict.hidden = true;
        state.conflictShown = false;
        if (r.number) {
          el.version.textContent = "Version " + r.number + " · saved just now";
          setStatus("Saved as version " + r.number + ": " + r.note + ".");
        } else {
          setStatus("Nothing to save: the text is as it was.");
        }
        return r;
      });
    });
  }

  if (el.form) {
    el.form.addEventListener("submit", function (e) {
      e.preventDefault();
      var who = e.submitter || {};
      var thenReview = who.name === "then" && who.value === "review";
      saveVersion().then(function () {
        if (thenReview && el.reviewForm) el.reviewForm.submit();
      }, function () { /* shown by enqueue */ });
    });
  }

  if (el.reviewForm) {
    el.reviewForm.addEventListener("submit", function (e) {
      e.preventDefault();
      if (state.current >= 0) commitLine(state.current, false);
      setStatus("Saving…");
      // The server saves the draft as a version (or refuses, keeping it) and moves on.
      whenIdle().then(function () { el.reviewForm.submit(); });
    });
  }

  if (el.discardForm) {
    el.discardForm.addEventListener("submit", function (e) {
      if (!window.confirm("Throw away your unsaved changes to this piece and load the latest saved version?")) {
        e.preventDefault();
      }
    });
  }

  document.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === "s" || e.key === "S")) {
      e.preventDefault();
      performance.mark("save-asked", { startTime: e.timeStamp });  // for the benchmark
      saveVersion(false).then(function () { markPainted("saved-painted"); }, function () {});
      return;
    }
    var inField = e.target && (e.target.tagName === "INPUT" || e.target.tagName === "SELECT");
    if (inField || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "+" || e.key === "=") { setZoom(state.zoom * 1.25); e.preventDefault(); }
    else if (e.key === "-") { setZoom(state.zoom / 1.25); e.preventDefault(); }
  });

  window.addEventListener("beforeunload", function (e) {
    var input = inputAt(state.current);
    var unsent = state.pending > 0 || (input && input.value !== state.saved[state.current]);
    if (unsent) {
      if (input) commitLine(state.current, false);
      e.preventDefault();
      e.returnValue = "";
    }
  });

  // ---------------------------------------------------------------------- the page viewer

  function currentPage() { return data.pages[state.pageIndex]; }

  function showPage(index, keepZoom) {
    var page = data.pages[index];
    if (!page || !el.img) return;
    var changed = index !== state.pageIndex || !el.img.dataset.ready;
    state.pageIndex = index;
    if (changed) {
      el.img.dataset.ready = "1";
      el.img.src = pictureFor(page);
      el.img.alt = "Page " + (page.position || index + 1);
      if (el.tabs) {
        Array.prototype.forEach.call(el.tabs.children, function (b, k) {
          b.setAttribute("aria-pressed", k === index ? "true" : "false");
        });
      }
      layoutStage();
      drawBoxes();
    }
    if (!keepZoom) layoutStage();
  }

  // A display copy is plenty up to its own resolution; beyond that, the full scan.
  function pictureFor(page) {
    var shown = fitScale(page) * state.zoom * (window.devicePixelRatio || 1);
    return shown > (page.display_width / page.width) * 1.15 ? page.full : page.display;
  }

  function fitScale(page) {
    var width = el.viewer.clientWidth - 24;
    return Math.max(0.05, width / page.width);
  }

  function layoutStage() {
    var page = currentPage();
    if (!page) return;
    var s = fitScale(page) * state.zoom;
    el.stage.style.width = Math.round(page.width * s) + "px";
    el.stage.style.height = Math.round(page.height * s) + "px";
    el.zoomLevel.textContent = Math.round(state.zoom * 100) + "%";
    var want = pictureFor(page);
    if (el.img.getAttribute("src") !== want) el.img.src = want;
  }

  function setZoom(z, anchorX, anchorY) {
    var page = currentPage();
    if (!page) return;
    z = Math.max(0.5, Math.min(5, z));
    var v = el.viewer;
    var ax = anchorX === undefined ? v.clientWidth / 2 : anchorX;
    var ay = anchorY === undefined ? v.clientHeight / 2 : anchorY;
    var fx = (v.scrollLeft + ax) / el.stage.offsetWidth, fy = (v.scrollTop + ay) / el.stage.offsetHeight;
    state.zoom = z;
    layoutStage();
    v.scrollLeft = fx * el.stage.offsetWidth - ax;
    v.scrollTop = fy * el.stage.offsetHeight - ay;
  }

  function pct(v, whole) { return (100 * v / whole) + "%"; }

  function drawBoxes() {
    if (!el.boxes) return;
    el.boxes.textContent = "";
    var page = currentPage();
    if (!page) return;
    state.lines.forEach(function (line, i) {
      if (line.page_id !== page.id || line.x === null || !line.w) return;
      var b = document.createElement("div");
      b.className = "box" + (line.confidence === null ? " checked" : "") + (i === state.current ? " current" : "");
      b.dataset.index = i;
      b.title = "Line " + (i + 1);
      var k = band(line, page);
      b.style.left = pct(k.cx - k.w / 2, page.width);
      b.style.top = pct(k.cy - k.h / 2, page.height);
      b.style.width = pct(k.w, page.width);
      b.style.height = pct(k.h, page.height);
      if (k.deg) b.style.transform = "rotate(" + k.deg + "deg)";
      b.addEventListener("click", function () { go(i); });
      el.boxes.appendChild(b);
      flagged(line).forEach(function (f) {
        var m = document.createElement("div");
        m.className = "wordflag";
        m.style.left = pct(f.x, page.width);
        m.style.top = pct(f.y, page.height);
        m.style.width = pct(f.w, page.width);
        m.style.height = pct(f.h, page.height);
        el.boxes.appendChild(m);
      });
    });
  }

  function boxFor(i) { return el.boxes ? el.boxes.querySelector('.box[data-index="' + i + '"]') : null; }

  function markBox(i) {
    var b = boxFor(i);
    if (b) b.classList.add("checked");
    if (el.boxes) {
      // the word marks of a line go once a person has read it
      drawBoxes();
      highlightBox(state.current);
    }
  }

  function highlightBox(i) {
    if (!el.boxes) return;
    Array.prototype.forEach.call(el.boxes.querySelectorAll(".box.current"), function (b) { b.classList.remove("current"); });
    var b = boxFor(i);
    if (!b) return;
    b.classList.add("current");
    // Keep the line in the upper third of the viewer, so the lines after it show too.
    var v = el.viewer;
    var top = b.offsetTop - v.clientHeight / 3;
    var left = el.stage.offsetWidth > v.clientWidth ? b.offsetLeft - 24 : 0;
    // Glide from line to line; on opening the piece, jump (nothing to follow yet, and
    // frames spent animating are frames before the first line can be typed in).
    v.scrollTo({ top: Math.max(0, top), left: Math.max(0, left),
                 behavior: document.body.dataset.ready ? "smooth" : "auto" });
  }

  function wireViewer() {
    if (!el.viewer) return;
    document.getElementById("zoom-in").addEventListener("click", function () { setZoom(state.zoom * 1.25); });
    document.getElementById("zoom-out").addEventListener("click", function () { setZoom(state.zoom / 1.25); });
    document.getElementById("zoom-fit").addEventListener("click", function () { setZoom(1); });
    if (el.tabs) {
      Array.prototype.forEach.call(el.tabs.children, function (b, k) {
        b.addEventListener("click", function () { showPage(k); });
      });
    }
    el.viewer.addEventListener("wheel", function (e) {
      if (!e.ctrlKey) return;  // plain wheel scrolls; Ctrl+wheel zooms about the pointer
      e.preventDefault();
      var r = el.viewer.getBoundingClientRect();
      setZoom(state.zoom * (e.deltaY < 0 ? 1.15 : 1 / 1.15), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    // Drag anywhere to pan; a press that hardly moves is a click (on a box: go to its line).
    var drag = null;
    el.viewer.addEventListener("pointerdown", function (e) {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, left: el.viewer.scrollLeft, top: el.viewer.scrollTop,
               moved: false, id: e.pointerId };
    });
    el.viewer.addEventListener("pointermove", function (e) {
      if (!drag) return;
      var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 5) return;
      if (!drag.moved) {
        drag.moved = true;
        el.viewer.classList.add("panning");
        el.viewer.setPointerCapture(drag.id);
      }
      el.viewer.scrollLeft = drag.left - dx;
      el.viewer.scrollTop = drag.top - dy;
    });
    function stop() {
      if (drag && drag.moved) {
        // swallow the click that ends a drag
        window.addEventListener("click", function (e) { e.stopPropagation(); }, { capture: true, once: true });
      }
      drag = null;
      el.viewer.classList.remove("panning");
    }
    // Looking around the page must not take the caret out of the line being typed.
    el.viewer.addEventListener("mousedown", function (e) { e.preventDefault(); });
    el.viewer.addEventListener("pointerup", stop);
    el.viewer.addEventListener("pointercancel", stop);
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      layoutStage();
      drawCrops();
    }, 120);
  });

  // ---------------------------------------------------------------------- scoring panel

  // Suggestions read the whole text, so they are fetched only when the panel is opened.
  var scoring = document.getElementById("scoring-details");
  function loadScoring() {
    if (!scoring || !scoring.open || scoring.dataset.loaded) return;
    scoring.dataset.loaded = "1";
    var body = document.getElementById("scoring-body");
    fetch(scoring.dataset.src, { credentials: "same-origin" }).then(function (resp) {
      if (!resp.ok) throw new Error("status " + resp.status);
      return resp.text();
    }).then(function (html) {
      body.innerHTML = html;  // our own server-rendered, escaped HTML; no scripts in it
      focusCriterion(nextWaiting(0));
    }, function () {
      delete scoring.dataset.loaded;
    });
  }
  if (scoring) scoring.addEventListener("toggle", loadScoring);

  // One form for every criterion: a digit sets the level of the criterion in focus and
  // moves on to the next one still waiting for a level (a suggested level stands until
  // changed: a teacher who agrees reads it and types nothing), ↑/↓ move one at a time,
  // Enter saves them all without reloading the page.
  function criteria() {
    return Array.prototype.slice.call(
      document.querySelectorAll("#score-form fieldset.criterion:not([disabled])"));
  }

  function nextWaiting(from) {
    var all = criteria();
    for (var i = from; i < all.length; i++) {
      if (!all[i].querySelector("input[type=radio]:checked")) return i;
    }
    return from;
  }

  function focusCriterion(i) {
    var all = criteria();
    if (!all.length) return;
    var fs = all[Math.max(0, Math.min(i, all.length - 1))];
    var radio = fs.querySelector("input[type=radio]:checked") ||
      fs.querySelector("input[type=radio]:not([disabled])");
    if (radio) radio.focus();
    fs.scrollIntoView({ block: "nearest" });
  }

  function saveLevels(form) {
    var state = document.getElementById("score-state");
    if (state) state.textContent = "Saving…";
    fetch(data.urls.score, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": data.csrf },
      body: new FormData(form)
    }).then(function (resp) {
      return resp.json().then(function (json) {
        if (!resp.ok) throw new Error(json.error || ("The server answered " + resp.status));
        return json;
      });
    }).then(function (json) {
      document.getElementById("scoring-body").innerHTML = json.html;
      var now = document.getElementById("score-state");
      if (now) now.textContent = json.message;
      focusCriterion(0);
    }, function (err) {
      var now = document.getElementById("score-state");
      if (now) { now.textContent = err.message + " Your choices are still here."; now.classList.add("error"); }
    });
  }

  document.addEventListener("submit", function (e) {
    if (e.target && e.target.id === "score-form") { e.preventDefault(); saveLevels(e.target); }
  });

  document.addEventListener("keydown", function (e) {
    var form = e.target && e.target.closest && e.target.closest("#score-form");
    if (!form || e.ctrlKey || e.metaKey || e.altKey) return;
    var fs = e.target.closest("fieldset.criterion");
    var all = criteria();
    var at = all.indexOf(fs);
    if (/^[1-5]$/.test(e.key) && fs) {
      e.preventDefault();
      var radio = fs.querySelector("input[type=radio][value='" + e.key + "']:not([disabled])");
      if (radio) { radio.checked = true; focusCriterion(nextWaiting(at + 1)); }
    } else if ((e.key === "ArrowDown" || e.key === "ArrowUp") && fs) {
      e.preventDefault();
      focusCriterion(at + (e.key === "ArrowDown" ? 1 : -1));
    } else if (e.key === "Enter" && e.target.type !== "submit") {
      e.preventDefault();
      saveLevels(form);
    }
  });

  // A mark once the frame showing what just changed has been drawn: the task after the
  // next animation frame runs after that frame's paint.
  function markPainted(name) {
    requestAnimationFrame(function () { setTimeout(function () { performance.mark(name); }, 0); });
  }

  // ------------------------------------------------------------------------------ start

  var addFirst = document.getElementById("add-first");
  if (addFirst) {
    addFirst.addEventListener("click", function () { structural("insert", { index: 0 }, 0, 0); });
  }
  wireViewer();
  showPage(0);
  renderLines(true);
  if (state.hasDraft) setStatus(el.status.textContent || "Your unsaved changes are restored.");
  // Start where the work is: the first line nobody has read yet.
  var first = state.lines.findIndex(function (l) { return l.confidence !== null; });
  if (state.lines.length) go(first < 0 ? 0 : first, 0);
  loadScoring();
  document.body.dataset.ready = "1";
  // When the box can be typed in, and when the frame showing it has been drawn:
  // benchmarks/review_bench.py reads both.
  performance.mark("ready");
  markPainted("ready-painted");
  requestAnimationFrame(function () { setTimeout(showPictures, 0); });
})();
