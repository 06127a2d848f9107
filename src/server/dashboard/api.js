// The dashboard's link to the service: the token, JSON requests to the public routes
// (DESIGN.md), and event websockets that reconnect after a drop without a gap or a repeat.

const TOKEN_KEY = 'caviar.token';

/** The token lives in sessionStorage: entered once per tab, gone when the tab closes. */
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? undefined,
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A non-2xx answer, with the contract's {error: {code, message, path}} when there is one. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = body && typeof body === 'object' ? body.error : undefined;
    super(error ? `${error.message}${error.path ? ` (at ${error.path})` : ''}` : `HTTP ${status}`);
    this.status = status;
    this.code = error?.code;
    this.path = error?.path;
  }
}

/**
 * One request. `body` goes as JSON unless `contentType` says otherwise (a CSV file goes as
 * it is). The token, when there is one, goes as Authorization: Bearer.
 */
export async function request(method, path, body, { contentType } = {}) {
  const headers = {};
  const bearer = token.get();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  let payload;
  if (body !== undefined) {
    headers['content-type'] = contentType ?? 'application/json';
    payload = contentType ? body : JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: keep the text.
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body);
export const patch = (path, body) => request('PATCH', path, body);

/** Every open socket, so that a test (or a curious user) can drop them to see a reconnect. */
export const openSockets = new Set();

/**
 * A websocket of events that comes back after a drop. Browsers cannot set headers on a
 * websocket, so the token travels as the subprotocol `bearer.<token>` beside `caviar`
 * (app.ts picks `caviar`). With `resume`, a reconnect asks for ?since=<last seq seen>, and
 * anything at or below that seq is dropped: the server may replay an event we already hold.
 * `seqOf(event)` names the sequence an event belongs to (undefined: not deduplicated).
 * The server closes with 1000 when the stream has ended; any other close is a drop.
 */
export function followEvents(path, { onEvent, onState = () => {}, onReconnect = () => {}, resume = true, seqOf = (event) => event.seq }) {
  let last = 0;
  let socket;
  let stopped = false;
  let attempts = 0;
  let timer;
  const handle = {
    get lastSeq() {
      return last;
    },
    /** Closes on purpose: no reconnect. */
    close() {
      stopped = true;
      clearTimeout(timer);
      openSockets.delete(handle);
      socket?.close(1000, 'the page moved on');
    },
    /** Closes as a network failure would (a code other than 1000): the socket reconnects. */
    drop() {
      socket?.close(4000, 'dropped by the page');
    },
  };
  const connect = () => {
    const url = new URL(path, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (resume) url.searchParams.set('since', String(last));
    const bearer = token.get();
    try {
      socket = new WebSocket(url, bearer ? ['caviar', `bearer.${bearer}`] : ['caviar']);
    } catch (error) {
      // A subprotocol may hold only token characters (RFC 6455): no '/', '=', ',' or spaces.
      // A token with them works on fetch but cannot ride a websocket; say so, do not retry.
      onState(`unavailable (${error.message})`);
      return;
    }
    socket.onopen = () => {
      if (attempts > 0) onReconnect();
      attempts = 0;
      onState('live');
    };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      const seq = seqOf(event);
      if (seq !== undefined) {
        if (seq <= last) return;
        last = seq;
      }
      onEvent(event);
    };
    socket.onclose = (close) => {
      if (stopped) return;
      if (close.code === 1000) {
        openSockets.delete(handle);
        onState('ended');
        return;
      }
      // Back off up to 5 s; the first retry is quick, since most drops are brief.
      onState('reconnecting');
      timer = setTimeout(connect, Math.min(5000, 200 * 2 ** attempts++));
    };
  };
  openSockets.add(handle);
  connect();
  return handle;
}
