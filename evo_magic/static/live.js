// evo_magic live answer view (anywidget ESM).
//
// The kernel sends small custom messages; this view builds the DOM once and applies them:
//   {p: "thinking" | "answer"}          phase changes
//   {t: {c: [html...], k, a}}           thinking section: committed blocks, then the open tail
//   {a: {c: [html...], k, a}}           answer section, same shape
// The tail is kept as a string: tail = tail.slice(0, k) + a (k counts UTF-16 units).
// Every HTML string comes from evo_magic.render (markdown-it with raw HTML disabled), so it
// is already sanitized; nothing here evaluates code. The <details> element is created once
// and never re-rendered, so a reader who opens or folds it keeps it that way.

const CSS = `
.evo-live{font-size:var(--jp-content-font-size1,14px);line-height:1.5}
.evo-live .evo-wait{color:var(--jp-content-font-color3,#777);font-style:italic}
.evo-live details.evo-thinking{border-left:3px solid var(--jp-border-color2,#ccc);padding:0 .6em;
 margin:.2em 0 .6em;color:var(--jp-content-font-color2,#555)}
.evo-live details.evo-thinking>summary{cursor:pointer;font-style:italic}
.evo-live table{border-collapse:collapse}.evo-live td,.evo-live th{border:1px solid var(--jp-border-color2,#ccc);
 padding:2px 6px}.evo-live pre{overflow-x:auto}`;

function section(parent) {
  const blocks = document.createElement("div");
  const tail = document.createElement("div");
  parent.append(blocks, tail);
  let html = "";
  return (delta) => {
    for (const block of delta.c || []) {
      const node = document.createElement("div");
      node.innerHTML = block; // sanitized by evo_magic.render
      blocks.appendChild(node);
    }
    html = html.slice(0, delta.k) + delta.a;
    tail.innerHTML = html; // sanitized by evo_magic.render
  };
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "evo-live";
  const wait = document.createElement("div");
  wait.className = "evo-wait";
  const details = document.createElement("details");
  details.className = "evo-thinking";
  details.open = true;
  details.hidden = true;
  const summary = document.createElement("summary");
  summary.textContent = "Thinking…";
  details.appendChild(summary);
  const thinkBody = document.createElement("div");
  details.appendChild(thinkBody);
  const answer = document.createElement("div");
  answer.className = "evo-answer";
  const style = document.createElement("style");
  style.textContent = CSS;
  root.append(style, wait, details, answer);
  el.appendChild(root);

  const applyThinking = section(thinkBody);
  const applyAnswer = section(answer);
  const started = performance.now();
  let thinkingSince = null;
  let thinkingFor = null;
  let readerTouched = false;
  let waiting = true;
  summary.addEventListener("click", () => { readerTouched = true; });

  const seconds = (ms) => (ms / 1000).toFixed(1);
  const tick = () => {
    const now = performance.now();
    if (waiting) wait.textContent = `Waiting for ${model.get("model") || "the model"}… ${seconds(now - started)} s`;
    if (thinkingSince !== null && thinkingFor === null) summary.textContent = `Thinking… ${seconds(now - thinkingSince)} s`;
  };
  tick();
  const timer = setInterval(tick, 100);

  model.on("msg:custom", (msg) => {
    if (msg.p && waiting) {
      waiting = false;
      wait.hidden = true;
    }
    if (msg.p === "thinking" && thinkingSince === null) {
      thinkingSince = performance.now();
      details.hidden = false;
    }
    if (msg.p === "answer" && thinkingSince !== null && thinkingFor === null) {
      thinkingFor = performance.now() - thinkingSince;
      summary.textContent = `Thought for ${seconds(thinkingFor)} s`;
      if (!readerTouched) details.open = false;
    }
    if (msg.t) applyThinking(msg.t);
    if (msg.a) applyAnswer(msg.a);
  });
  return () => clearInterval(timer);
}

export default { render };
