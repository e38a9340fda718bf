"use strict";
// Optional: dropping a card on the next or previous column presses its button; the buttons remain for keyboards and phones.
document.querySelectorAll(".board-card").forEach(function (card) {
  if (!card.querySelector("form[data-to]")) { return; }
  card.draggable = true;
  card.addEventListener("dragstart", function (event) { event.dataTransfer.setData("text/plain", card.id); });
});
document.querySelectorAll(".board-column[data-stage]").forEach(function (column) {
  column.addEventListener("dragover", function (event) { event.preventDefault(); });
  column.addEventListener("drop", function (event) {
    event.preventDefault();
    var card = document.getElementById(event.dataTransfer.getData("text/plain"));
    var form = card && card.querySelector('form[data-to="' + column.dataset.stage + '"]');
    if (form) { form.submit(); }
  });
});
