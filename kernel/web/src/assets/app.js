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
});
