/* global document, window, EventSource */
// The runs list's live marks: while some runs on the page are not final, their statuses are
// polled from .../runs/statuses and the marks updated.
(() => {
  const table = document.querySelector('table.runs[data-statuses]');
  if (!table) return;
  const badge = (status) => {
    const span = document.createElement('span');
    span.className = `status ${status}`;
    span.title = status;
    span.textContent = String(status).replace('_', ' ');
    return span;
  };
  const poll = async () => {
    const rows = [...table.querySelectorAll('tr[data-run]')].filter((row) => !row.dataset.final);
    if (rows.length === 0) return;
    const query = rows.map((row) => `id=${encodeURIComponent(row.dataset.run)}`).join('&');
    try {
      const answer = await fetch(`${table.dataset.statuses}?${query}`, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
      if (answer.ok) {
        for (const run of (await answer.json()).runs) {
          const row = table.querySelector(`tr[data-run="${Number(run.id)}"]`);
          if (!row) continue;
          row.querySelector('.run-status').replaceChildren(badge(run.status));
          if (run.final) row.dataset.final = '1';
        }
      }
    } catch {
      // Offline for a moment: the next poll tries again.
    }
    setTimeout(poll, 3000);
  };
  setTimeout(poll, 3000);
})();

// The run page's live log: follows the run over Server-Sent Events while it is not final.
// The server renders each line (escaped, ANSI colours as classes), as it rendered the page; this
// file only places the lines, updates the status and keeps the pane at its end while "Follow" is on.
(() => {
  const log = document.getElementById('log');
  if (!log || !log.dataset.events || typeof EventSource === 'undefined') return;
  const follow = document.getElementById('follow');
  const status = document.getElementById('run-status');
  let nextLine = log.dataset.nextLine ? Number(log.dataset.nextLine) : null;
  const atEnd = () => log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  if (!follow || follow.checked) log.scrollTop = log.scrollHeight;

  const source = new EventSource(`${log.dataset.events}?offset=${encodeURIComponent(log.dataset.offset || '0')}`);
  source.addEventListener('log', (event) => {
    const data = JSON.parse(event.data);
    const stick = (!follow || follow.checked) && atEnd();
    const empty = log.querySelector('.l.empty');
    if (empty) empty.remove();
    const fragment = document.createDocumentFragment();
    for (const line of data.lines) {
      const id = nextLine === null ? `O${line.o}` : `L${nextLine}`;
      const row = document.createElement('div');
      row.className = 'l';
      row.id = id;
      const number = document.createElement('a');
      number.className = 'n';
      number.href = `#${id}`;
      number.textContent = nextLine === null ? '' : String(nextLine);
      const text = document.createElement('span');
      text.className = 't';
      // Server-rendered: the line's text escaped, colours as <span class="ansi-…">.
      text.innerHTML = line.h;
      row.append(number, text);
      fragment.append(row);
      if (nextLine !== null) nextLine++;
    }
    log.append(fragment);
    if (stick || (follow && follow.checked && !document.hidden)) log.scrollTop = log.scrollHeight;
  });
  source.addEventListener('status', (event) => {
    const data = JSON.parse(event.data);
    if (!status) return;
    const badge = document.createElement('span');
    badge.className = `status ${data.status}`;
    badge.textContent = String(data.status).replace('_', ' ');
    status.replaceChildren(badge);
  });
  source.addEventListener('end', () => {
    source.close();
    const done = document.createElement('p');
    done.className = 'muted';
    const link = document.createElement('a');
    link.href = window.location.pathname;
    link.textContent = 'Reload for the results';
    done.append('The run has ended. ', link);
    log.after(done);
  });
  if (follow) follow.addEventListener('change', () => follow.checked && (log.scrollTop = log.scrollHeight));
})();
