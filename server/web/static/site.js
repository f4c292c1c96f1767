/* global document, navigator, location, history, addEventListener, Element */
// Progressive enhancement only: every page works without this file.
// Copy buttons for the clone commands ("Use this model").
for (const block of document.querySelectorAll('[data-copy]')) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'copy';
  button.textContent = 'Copy';
  button.addEventListener('click', async () => {
    await navigator.clipboard.writeText(block.getAttribute('data-copy') || '');
    button.textContent = 'Copied';
    setTimeout(() => (button.textContent = 'Copy'), 1500);
  });
  block.append(button);
}

// Panes that scroll sideways (code, diffs, wide tables) take the keyboard focus, so they can be scrolled without a mouse.
for (const pane of document.querySelectorAll('pre, .table-wrap, .diff, .file-body, .markdown table')) {
  if (pane.scrollWidth > pane.clientWidth && !pane.hasAttribute('tabindex')) pane.tabIndex = 0;
}

// Line ranges in file views: #L10-L20 marks lines 10 to 20 (a lone #L10 is CSS's :target);
// shift-click a line number to extend the mark from the last one clicked.
const code = document.querySelector('table.code');
if (code) {
  const mark = () => {
    for (const row of code.querySelectorAll('tr.hl')) row.classList.remove('hl');
    const range = /^#L(\d+)(?:-L(\d+))?$/.exec(location.hash);
    if (!range) return;
    const from = Number(range[1]);
    const to = Math.max(from, Number(range[2] || range[1]));
    for (let n = from; n <= to; n++) document.getElementById(`L${n}`)?.classList.add('hl');
    document.getElementById(`L${from}`)?.scrollIntoView({ block: 'center' });
  };
  let anchor = null;
  code.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('td.ln a') : null;
    if (!link) return;
    const line = Number(link.getAttribute('href').slice(2));
    if (event.shiftKey && anchor !== null) {
      event.preventDefault();
      history.replaceState(null, '', `#L${Math.min(anchor, line)}-L${Math.max(anchor, line)}`);
      mark();
    } else {
      anchor = line;
    }
  });
  addEventListener('hashchange', mark);
  mark();
}
