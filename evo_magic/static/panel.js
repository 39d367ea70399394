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
// SECURITY: nothing is evaluated or inserted as HTML; the placeholder goes in as an attribute.

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
    const submit = (via) => {
      const text = area.value;
      if (!text.trim()) return;
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
      model.off("change:value", onValue);
      model.off("change:disabled", onDisabled);
      model.off("msg:custom", onMessage);
    };
  },
};
