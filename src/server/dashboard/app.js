// The dashboard's entry point: a hash router (#/, #/jobs/ID, #/sweeps/ID; the server serves
// one page), the token prompt, and the small surface that tests read.
import { ApiError, openSockets, token } from './api.js';
import { charts } from './charts.js';
import { h } from './dom.js';
import { jobView } from './views/job.js';
import { jobsView } from './views/jobs.js';
import { sweepView } from './views/sweep.js';

/**
 * What a test (or a curious user in the console) may read: the charts with their data arrays
 * (charts.cost.data[0] are the epochs drawn), and a way to drop every socket as a network
 * failure would, to watch the page reconnect with ?since= and leave no gap.
 */
window.caviarDashboard = {
  charts,
  dropSockets: () => openSockets.forEach((socket) => socket.drop()),
};

/** What a view leaves behind (sockets, charts, timers), undone when the page moves on. */
class Scope {
  disposers = [];
  disposed = false;
  add(dispose) {
    if (this.disposed) dispose();
    else this.disposers.push(dispose);
  }
  dispose() {
    this.disposed = true;
    for (const dispose of this.disposers.splice(0).reverse()) dispose();
  }
}

const main = document.getElementById('view');
const tokenForm = document.getElementById('token-form');
const connection = document.getElementById('connection');
let scope = new Scope();

/** The header's word on the live link: live, reconnecting or ended. */
export function showConnection(state) {
  connection.textContent = state ? `events: ${state}` : '';
  connection.dataset.state = state ?? '';
}

function askForToken(message) {
  tokenForm.hidden = false;
  main.replaceChildren(h('p', { class: 'error' }, message));
  tokenForm.querySelector('input').focus();
}

tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  token.set(tokenForm.querySelector('input').value.trim());
  tokenForm.hidden = true;
  void route();
});

async function route() {
  scope.dispose();
  scope = new Scope();
  showConnection(undefined);
  const root = h('div', { class: 'page' });
  main.replaceChildren(root);
  const match = /^#\/(jobs|sweeps)\/([^/?]+)/.exec(location.hash);
  const render = match?.[1] === 'jobs' ? jobView : match?.[1] === 'sweeps' ? sweepView : jobsView;
  try {
    await render(root, match ? decodeURIComponent(match[2]) : undefined, { scope, showConnection });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      scope.dispose();
      askForToken(token.get() ? 'That token was refused: enter the right one.' : 'Enter the service token (CAVIAR_TOKEN) to continue.');
    } else root.append(h('p', { class: 'error' }, `Could not load this page: ${error.message}`));
  }
}

window.addEventListener('hashchange', () => void route());
void route();
