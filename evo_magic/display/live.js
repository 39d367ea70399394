// evo_magic live answer view: the anywidget front end of evo_magic/live.py (WidgetView).
//
// SECURITY: nothing here evaluates code (no eval, no Function, no <script> insertion). The
// only HTML inserted is what evo_magic/markdown.py rendered in the kernel, already sanitized:
// markdown-it with raw HTML disabled, links limited to http, https, mailto and relative URLs,
// images shown as links. Labels (model name, timers) go in through textContent.
//
// Protocol, kernel -> browser, one custom message per coalesced update (~10 per second):
//   {phase?: "thinking" | "answer", t?: seconds thought, ops?: [op, ...]}
//   op = {s: "think" | "answer", m?: moved, c?: [html, ...], k: keep, a: append}
// For section s: the first m UTF-16 units of its tail HTML become a finished block, the HTML
// strings in c are appended as finished blocks, then tail = tail.slice(0, k) + a.
//
// The state lives with the model (initialize), so a view rendered late, or a second view of
// the same output, shows all received so far. The thinking <details> is built once and never
// re-rendered: it folds when the answer starts unless the reader clicked its summary.
//
// Browser -> kernel: each time the reader opens or folds the thinking, {type: "fold", open}, so
// the final static answer keeps that state. A cell's kernel hears it only once the cell is done;
// meanwhile, when the final answer (<div class="evo-reply" data-evo-live="KEY">) replaces this
// view, its thinking is given the reader's state before it is painted.

const STATES = new Map(); // model "key" trait -> state

function newState() {
  return {
    phase: "waiting",
    started: performance.now(),
    thinkingSince: null,
    thoughtFor: null, // seconds, known once the answer starts
    sections: { think: { blocks: [], tail: "" }, answer: { blocks: [], tail: "" } },
    views: new Set(),
  };
}

function stateOf(model) {
  const key = model.get("key");
  let state = STATES.get(key);
  if (!state) {
    state = newState();
    STATES.set(key, state);
  }
  return state;
}

function seconds(value) {
  if (value < 59.95) return `${value.toFixed(1)} s`;
  const total = Math.round(value);
  return `${Math.floor(total / 60)} min ${String(total % 60).padStart(2, "0")} s`;
}

function applyOp(section, op) {
  const added = [];
  if (op.m) {
    added.push(section.tail.slice(0, op.m));
    section.tail = section.tail.slice(op.m);
  }
  if (op.c) added.push(...op.c);
  section.blocks.push(...added);
  section.tail = section.tail.slice(0, op.k || 0) + (op.a || "");
  return added;
}

function receive(state, msg) {
  const now = performance.now();
  if (msg.phase === "thinking" && state.phase === "waiting") {
    state.thinkingSince = now;
  }
  if (msg.phase === "answer" && state.phase !== "answer") {
    if (typeof msg.t === "number") state.thoughtFor = msg.t;
    else if (state.thinkingSince !== null) state.thoughtFor = (now - state.thinkingSince) / 1000;
  }
  if (msg.phase === "thinking" || msg.phase === "answer") state.phase = msg.phase;
  const changes = [];
  for (const op of msg.ops || []) {
    const section = state.sections[op.s];
    if (section) changes.push([op.s, applyOp(section, op)]);
  }
  for (const view of state.views) view.apply(changes);
}

function element(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

function sectionView(container, data) {
  const blocks = element("div", "evo-blocks");
  const tail = element("div", "evo-tail");
  container.append(blocks, tail);
  for (const html of data.blocks) blocks.insertAdjacentHTML("beforeend", html); // sanitized (see top)
  tail.innerHTML = data.tail; // sanitized (see top)
  return (added) => {
    for (const html of added) blocks.insertAdjacentHTML("beforeend", html); // sanitized (see top)
    tail.innerHTML = data.tail; // sanitized (see top)
  };
}

const CARRY_MS = 5000; // how long a removed view waits for the final answer that replaces it

function keepFold(key, open) {
  if (typeof MutationObserver === "undefined" || !/^[0-9a-f]+$/.test(key || "")) return;
  const selector = `.evo-reply[data-evo-live="${key}"] > details.evo-thinking`;
  const apply = () => {
    const details = document.querySelector(selector);
    if (details) details.open = open;
    return details !== null;
  };
  if (apply()) return;
  const observer = new MutationObserver(() => {
    if (apply()) observer.disconnect();
  });
  observer.observe(document.body, { childList: true, subtree: true });
  setTimeout(() => observer.disconnect(), CARRY_MS);
}

function createView(state, model, el) {
  // jp-RenderedHTMLCommon: JupyterLab's markdown styles, as the final static HTML output gets them
  // tex2jax_ignore / mathjax_ignore: MathJax must never typeset "$5 and $10" as a formula
  const root = element("div", "evo-reply evo-live jp-RenderedHTMLCommon tex2jax_ignore mathjax_ignore");
  const wait = element("div", "evo-wait");
  const details = element("details", "evo-thinking");
  const summary = element("summary");
  const thinkBody = element("div", "evo-thinking-body evo-md");
  const answer = element("div", "evo-answer evo-md");
  details.open = true;
  details.append(summary, thinkBody);
  root.append(wait, details, answer);
  el.append(root);

  const sections = {
    think: sectionView(thinkBody, state.sections.think),
    answer: sectionView(answer, state.sections.answer),
  };
  const label = model.get("model_label") || "the model";
  let touched = false; // the reader opened or folded the thinking by hand
  let folded = false;
  let timer = null;
  summary.addEventListener("click", () => {
    touched = true;
  });
  details.addEventListener("toggle", () => {
    if (!touched) return; // the view's own fold when the answer starts is not the reader's choice
    try {
      model.send({ type: "fold", open: details.open });
    } catch (error) {
      // the widget may be closed already; the fold in this page stays as it is
    }
  });

  const tick = () => {
    const now = performance.now();
    if (state.phase === "waiting") {
      wait.textContent = `Waiting for ${label}… ${seconds((now - state.started) / 1000)}`;
    } else if (state.phase === "thinking") {
      summary.textContent = `Thinking… ${seconds((now - (state.thinkingSince ?? now)) / 1000)}`;
    } else {
      summary.textContent = state.thoughtFor === null ? "Thought" : `Thought for ${seconds(state.thoughtFor)}`;
      if (timer !== null) clearInterval(timer);
      timer = null;
    }
  };
  const show = () => {
    const think = state.sections.think;
    wait.hidden = state.phase !== "waiting";
    details.hidden = think.blocks.length === 0 && think.tail === "";
    if (state.phase === "answer" && !folded) {
      folded = true;
      if (!touched) details.open = false; // programmatic: does not count as the reader's
    }
    tick();
  };
  const view = {
    apply(changes) {
      for (const [name, added] of changes) sections[name](added);
      show();
    },
  };
  state.views.add(view);
  show();
  if (state.phase !== "answer") timer = setInterval(tick, 100);
  return () => {
    state.views.delete(view);
    if (timer !== null) clearInterval(timer);
    if (touched) keepFold(model.get("key"), details.open);
  };
}

export default {
  initialize({ model }) {
    const state = stateOf(model);
    const onMessage = (msg) => receive(state, msg);
    model.on("msg:custom", onMessage);
    return () => {
      model.off("msg:custom", onMessage);
      STATES.delete(model.get("key"));
    };
  },
  render({ model, el }) {
    return createView(stateOf(model), model, el);
  },
};
