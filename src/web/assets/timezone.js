// Optional: fill an empty time-zone field with the browser's own zone.
// The form works the same without it (the server's default zone is used).
(function () {
  var field = document.getElementById("timezone");
  if (!field || field.value) return;
  try {
    field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) { /* leave it empty */ }
})();
