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
