// Loads the client (app.js imports the package from /sdk/, clients/js/dist). When the package is not built, the
// page says so instead of staying blank.
try {
  await import("./app.js");
} catch (error) {
  console.error(error);
  const note = document.createElement("p");
  note.className = "boot-error";
  note.textContent = `The client did not start (${error.message}). Build the package first: make client-js (or make dev, which builds it).`;
  document.body.prepend(note);
}
