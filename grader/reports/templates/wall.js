const teams = JSON.parse(document.getElementById("teams").textContent);
async function probe(team, cell) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 5000);
  try {
    // no-cors: team services need not send CORS headers; an answer at all means up.
    await fetch(team.health, {mode: "no-cors", cache: "no-store", signal: ctl.signal});
    cell.textContent = "up"; cell.className = "up";
  } catch (e) {
    cell.textContent = "down"; cell.className = "down";
  } finally { clearTimeout(timer); }
  document.getElementById("checked").textContent = new Date().toLocaleTimeString();
}
function poll() {
  teams.forEach((t, i) => { if (t.health) probe(t, document.getElementById("s" + i)); });
}
poll(); setInterval(poll, 15000);
