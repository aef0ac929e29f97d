// Progressive enhancements only: every page works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // The menu on narrow screens.
  const toggle = document.querySelector(".menu-toggle");
  const nav = document.getElementById("nav");
  if (toggle && nav) {
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // Confirmation before destructive forms.
  document.querySelectorAll("form.confirm").forEach((form) => {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm || "?")) e.preventDefault();
    });
  });

  // The company switcher goes as soon as a company is chosen.
  const switcher = document.getElementById("company-switch");
  if (switcher) switcher.addEventListener("change", () => switcher.form.submit());

  // Reference pickers: typing asks the server for matching records.
  document.querySelectorAll("input.pick-search").forEach((input) => {
    const select = document.getElementById(input.dataset.pickFor);
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const url = input.dataset.pickUrl + "?q=" + encodeURIComponent(input.value);
        const answer = await fetch(url, { credentials: "same-origin" });
        if (!answer.ok) return;
        const items = await answer.json();
        const keep = select.value;
        const first = select.options[0];
        select.replaceChildren(first);
        for (const item of items) {
          const option = document.createElement("option");
          option.value = item.id;
          option.textContent = item.title;
          if (item.id === keep) option.selected = true;
          select.appendChild(option);
        }
        if (items.length === 1 && !keep) select.value = items[0].id;
      }, 200);
    });
  });

  // Line tables: another row copies the last one's inputs, empty and renumbered; a row's
  // button empties it (empty rows are not saved) and hides it.
  document.querySelectorAll("button.add-line").forEach((button) => {
    const table = document.getElementById(button.dataset.for);
    if (!table) return;
    button.addEventListener("click", () => {
      const rows = table.querySelectorAll("tbody tr.line");
      const last = rows[rows.length - 1];
      if (!last) return;
      const next = Number(table.dataset.next || rows.length);
      table.dataset.next = String(next + 1);
      const row = last.cloneNode(true);
      row.classList.add("blank");
      row.hidden = false;
      row.querySelectorAll(".error").forEach((e) => e.remove());
      row.querySelectorAll("input, select").forEach((input) => {
        input.name = input.name.replace(/\[\d+\]\./, "[" + next + "].");
        input.id = input.id.replace(/\[\d+\]\./, "[" + next + "].");
        if (input.type === "checkbox") input.checked = false;
        else input.value = "";
      });
      last.after(row);
      const first = row.querySelector("input, select");
      if (first) first.focus();
    });
  });
  document.addEventListener("click", (e) => {
    const button = e.target.closest("button.remove-line");
    if (!button) return;
    const row = button.closest("tr");
    row.querySelectorAll("input, select").forEach((input) => {
      if (input.type === "checkbox") input.checked = false;
      else input.value = "";
    });
    row.hidden = true;
  });

  // File fields: a chosen or dropped file is uploaded at once; the form then saves its id.
  const upload = async (field, file) => {
    const input = field.querySelector("input.file-upload");
    const hidden = document.getElementById(input.dataset.for);
    const status = field.querySelector(".upload-status");
    const form = input.closest("form");
    const csrf = form ? form.querySelector("input[name=_csrf]") : null;
    status.textContent = input.dataset.uploading;
    field.classList.add("busy");
    try {
      const answer = await fetch(input.dataset.uploadUrl + "?name=" + encodeURIComponent(file.name), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": file.type || "application/octet-stream", "X-CSRF-Token": csrf ? csrf.value : "" },
        body: file,
      });
      const body = await answer.json().catch(() => ({}));
      if (!answer.ok) {
        status.textContent = input.dataset.failed + ": " + ((body.error && body.error.message) || answer.status);
        status.classList.add("error");
        return;
      }
      hidden.value = body.id;
      field.querySelector(".file-current").textContent = body.name;
      status.textContent = input.dataset.uploaded;
      status.classList.remove("error");
    } catch (err) {
      status.textContent = input.dataset.failed;
      status.classList.add("error");
    } finally {
      field.classList.remove("busy");
    }
  };
  document.querySelectorAll(".file-field").forEach((field) => {
    const input = field.querySelector("input.file-upload");
    if (!input) return;
    input.addEventListener("change", () => { if (input.files.length) upload(field, input.files[0]); });
    field.addEventListener("dragover", (e) => { e.preventDefault(); field.classList.add("over"); });
    field.addEventListener("dragleave", () => field.classList.remove("over"));
    field.addEventListener("drop", (e) => {
      e.preventDefault();
      field.classList.remove("over");
      if (e.dataTransfer.files.length) upload(field, e.dataTransfer.files[0]);
    });
    const clear = field.querySelector("button.file-clear");
    if (clear) clear.addEventListener("click", () => {
      document.getElementById(clear.dataset.for).value = "";
      field.querySelector(".file-current").textContent = "";
      clear.hidden = true;
    });
  });

  // Kanban: dragging a card to a lane submits the card's own move form.
  let dragged = null;
  document.querySelectorAll(".cardlet[draggable]").forEach((card) => {
    card.addEventListener("dragstart", (e) => {
      dragged = card;
      e.dataTransfer.setData("text/plain", card.dataset.card);
    });
  });
  document.querySelectorAll(".lane").forEach((lane) => {
    lane.addEventListener("dragover", (e) => { e.preventDefault(); lane.classList.add("over"); });
    lane.addEventListener("dragleave", () => lane.classList.remove("over"));
    lane.addEventListener("drop", (e) => {
      e.preventDefault();
      lane.classList.remove("over");
      if (!dragged) return;
      const form = dragged.querySelector("form.move");
      if (!form) return;
      form.querySelector("select[name=stage]").value = lane.dataset.stage;
      form.submit();
    });
  });
  // The drive's drop zone: each dropped or chosen file is uploaded, then put in the folder
  // (a file of the same name there becomes its new version).
  const zone = document.getElementById("dropzone");
  if (zone) {
    const status = zone.querySelector(".upload-status");
    const form = document.getElementById("put-form");
    const csrf = form.querySelector("input[name=_csrf]").value;
    const send = async (files) => {
      let done = 0;
      for (const file of files) {
        status.textContent = zone.dataset.uploading + " " + file.name;
        const answer = await fetch(zone.dataset.uploadUrl + "?name=" + encodeURIComponent(file.name), {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": file.type || "application/octet-stream", "X-CSRF-Token": csrf },
          body: file,
        });
        const body = await answer.json().catch(() => ({}));
        if (!answer.ok) {
          status.textContent = zone.dataset.failed + ": " + file.name + " — " + ((body.error && body.error.message) || answer.status);
          status.classList.add("error");
          return;
        }
        const put = new FormData();
        put.append("_csrf", csrf);
        put.append("file", body.id);
        const stored = await fetch(zone.dataset.put, { method: "POST", credentials: "same-origin", body: new URLSearchParams(put) });
        if (!stored.ok) {
          status.textContent = zone.dataset.failed + ": " + file.name;
          status.classList.add("error");
          return;
        }
        done += 1;
      }
      if (done) window.location.reload();
    };
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer.files.length) send(Array.from(e.dataTransfer.files));
    });
    const input = document.getElementById("drop-input");
    if (input) input.addEventListener("change", () => { if (input.files.length) send(Array.from(input.files)); });
  }

  // A chat updates itself: when the event stream tells of a message here (and every few
  // seconds while shown), the new messages are fetched and added below.
  const messages = document.getElementById("messages");
  if (messages && messages.dataset.since) {
    let busy = false;
    const fetchNew = async () => {
      if (busy || document.visibilityState === "hidden") return;
      busy = true;
      try {
        const last = messages.dataset.last;
        const answer = await fetch(messages.dataset.since + (last ? "?after=" + encodeURIComponent(last) : ""), { credentials: "same-origin" });
        if (!answer.ok) return;
        const holder = document.createElement("template");
        holder.innerHTML = await answer.text();
        const near = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
        let added = null;
        holder.content.querySelectorAll("li.message").forEach((li) => {
          if (document.getElementById(li.id)) return;
          messages.appendChild(li);
          added = li;
        });
        if (added) {
          messages.dataset.last = added.dataset.id;
          const empty = document.getElementById("no-messages");
          if (empty) empty.remove();
          if (near) added.scrollIntoView({ block: "end" });
        }
      } catch (_) { /* the next tick tries again */ } finally {
        busy = false;
      }
    };
    document.addEventListener("erp:notification", (e) => {
      const link = e.detail && e.detail.link;
      if (link && link.record === messages.dataset.chat) fetchNew();
    });
    setInterval(fetchNew, 10000);
    const lastItem = messages.lastElementChild;
    if (lastItem && !window.location.hash) lastItem.scrollIntoView({ block: "end" });
  }

  // The bell: new notifications arrive over the server's event stream; the count goes up and
  // a short note shows which, linking to what it is about.
  const bell = document.getElementById("bell");
  if (bell && window.EventSource) {
    const count = document.getElementById("bell-count");
    const toasts = document.getElementById("toasts");
    const setCount = (n) => {
      count.textContent = String(n);
      count.hidden = n <= 0;
      bell.dataset.unread = String(n);
    };
    // A page holds the stream only while it is shown: browsers allow a few connections per
    // server, and hidden tabs or pages kept for the back button must not use them up. Shown
    // again, the `ready` event brings the count up to date.
    let stream = null;
    const connect = () => {
      if (stream || document.visibilityState === "hidden") return;
      stream = new EventSource(bell.dataset.stream);
      stream.addEventListener("ready", (e) => {
        try { setCount(JSON.parse(e.data).unread); } catch (_) { /* keep the rendered count */ }
      });
      stream.addEventListener("notification", (e) => {
        let n;
        try { n = JSON.parse(e.data); } catch (_) { return; }
        setCount((parseInt(bell.dataset.unread || count.textContent, 10) || 0) + 1);
        if (!toasts) return;
        const toast = document.createElement(n.link ? "a" : "div");
        toast.className = "toast " + (n.importance || "normal");
        if (n.link) toast.href = bell.dataset.base + "/notifications/" + encodeURIComponent(n.id) + "/open";
        const title = document.createElement("strong");
        title.textContent = n.title;
        toast.appendChild(title);
        if (n.body) {
          const body = document.createElement("span");
          body.textContent = n.body;
          toast.appendChild(body);
        }
        toasts.appendChild(toast);
        setTimeout(() => toast.remove(), 8000);
        document.dispatchEvent(new CustomEvent("erp:notification", { detail: n }));
      });
      stream.addEventListener("reload", () => { /* fell behind: the count is refreshed on the next page */ });
    };
    const disconnect = () => {
      if (stream) stream.close();
      stream = null;
    };
    document.addEventListener("visibilitychange", () => (document.visibilityState === "hidden" ? disconnect() : connect()));
    window.addEventListener("pagehide", disconnect);
    window.addEventListener("pageshow", connect);
    connect();
  }
});
