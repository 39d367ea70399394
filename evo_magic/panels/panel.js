// evo_magic chat panel input: the anywidget front end of evo_magic/panel_widgets.py (PanelInput).
//
// A <textarea> where Enter sends and Shift+Enter makes a newline (an IME composition's Enter
// only confirms the composition). The text is synced to the kernel as the "value" trait; a
// send empties the textarea at once (the front end's own "" is then the newest value, so a
// keystroke update still held back by ipywidgets' throttling cannot put the question back) and
// goes as the custom message {type: "send", text}. A question the kernel refuses (one is
// already streaming) comes back as {type: "refused", text} and returns to an empty box. The
// Send button (an ipywidgets Button) makes the kernel ask {type: "submit"}, answered the same way
// with via: "button".
//
// The transcript (.evo-panel-scroll, the one scroll container of the panel this input belongs
// to) follows the newest text while the reader is at its bottom: a panel opened on a long
// conversation shows its last turn, a new question scrolls into view (from this box, Python or
// another panel) and the streaming answer stays in view as it grows. Once the reader scrolls up
// (or unfolds a thinking to read it) the view stays put; back at the bottom, it follows.
//
// SECURITY: nothing is evaluated or inserted as HTML; the placeholder goes in as an attribute.

const NEAR_BOTTOM = 48; // px: "at the bottom" for a reader who scrolled to about the end
const FIND_FRAMES = 600; // animation frames to wait for the panel's DOM around this input

function follow(el) {
  const state = { pinned: true, stop: null };
  let frames = 0;
  const attach = () => {
    const panel = el.closest(".evo-panel");
    const scroller = panel && panel.querySelector(".evo-panel-scroll");
    const transcript = scroller && scroller.querySelector(".evo-panel-transcript");
    if (!transcript) {
      if (frames++ < FIND_FRAMES) state.stop = cancelOnStop(requestAnimationFrame(attach));
      return;
    }
    const toBottom = () => {
      if (state.pinned) scroller.scrollTop = scroller.scrollHeight;
    };
    const onScroll = () => {
      state.pinned = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= NEAR_BOTTOM;
    };
    const onClick = (event) => {
      // the reader unfolds a thinking (or a tool call) to read it: do not pull it away
      if (event.target instanceof Element && event.target.closest("summary")) state.pinned = false;
    };
    const resized = new ResizeObserver(toBottom);
    const added = new MutationObserver((records) => {
      const asked = records.some((r) =>
        [...r.addedNodes].some((n) => n instanceof Element && n.classList.contains("evo-panel-streaming")),
      );
      if (asked) state.pinned = true; // a new question: into view, and follow its answer
      toBottom();
    });
    resized.observe(transcript);
    added.observe(transcript, { childList: true });
    scroller.addEventListener("scroll", onScroll, { passive: true });
    scroller.addEventListener("click", onClick, true);
    toBottom();
    state.stop = () => {
      resized.disconnect();
      added.disconnect();
      scroller.removeEventListener("scroll", onScroll);
      scroller.removeEventListener("click", onClick, true);
    };
  };
  const cancelOnStop = (id) => () => cancelAnimationFrame(id);
  attach();
  return state;
}

export default {
  render({ model, el }) {
    const box = document.createElement("div");
    box.className = "evo-panel-input-box";
    const area = document.createElement("textarea");
    area.rows = 2;
    area.spellcheck = true;
    area.placeholder = model.get("placeholder");
    area.setAttribute("aria-label", "Message to the model");
    area.value = model.get("value");
    box.append(area);
    el.append(box);

    const fit = () => {
      area.style.height = "auto";
      area.style.height = `${Math.min(area.scrollHeight + 2, 240)}px`;
    };
    const push = () => {
      model.set("value", area.value);
      model.save_changes();
    };
    const onInput = () => {
      push();
      fit();
    };
    const view = follow(el);
    const submit = (via) => {
      const text = area.value;
      if (!text.trim()) return;
      view.pinned = true;
      area.value = "";
      push();
      fit();
      model.send({ type: "send", text, via });
    };
    const onKey = (event) => {
      event.stopPropagation(); // JupyterLab's notebook shortcuts (Shift+Enter runs a cell) stay out
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
      event.preventDefault(); // Enter sends; Shift+Enter keeps the browser's newline
      submit("enter");
    };
    const onMessage = (msg) => {
      if (msg && msg.type === "submit") {
        submit("button"); // the Send button was clicked: send this box's text
      } else if (msg && msg.type === "refused" && !area.value) {
        area.value = String(msg.text);
        push();
        fit();
      }
    };
    const keep = (event) => event.stopPropagation();
    const onValue = () => {
      const value = model.get("value");
      if (value !== area.value) {
        area.value = value;
        fit();
      }
    };
    const onDisabled = () => {
      area.readOnly = model.get("disabled");
    };
    area.addEventListener("input", onInput);
    area.addEventListener("keydown", onKey);
    area.addEventListener("keyup", keep);
    area.addEventListener("keypress", keep);
    model.on("change:value", onValue);
    model.on("change:disabled", onDisabled);
    model.on("msg:custom", onMessage);
    onDisabled();
    fit();
    return () => {
      if (view.stop) view.stop();
      model.off("change:value", onValue);
      model.off("change:disabled", onDisabled);
      model.off("msg:custom", onMessage);
    };
  },
};
