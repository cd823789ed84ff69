/**
 * The admin dashboard (#/admin), for the people running the server: a
 * sign-in that asks for the server's admin key, then the cluster overview
 * polled every 2 s — a card per node with live charts, totals, the busiest
 * conversations and rooms — and two actions: revoke a user's tokens, close a
 * room. A refused key returns to the sign-in and says so; other failures are
 * shown where they happened while polling goes on.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  type NodeOverview,
  type Overview,
  clearAdminKey,
  closeRoom,
  describeAdminError,
  fetchOverview,
  isKeyRefused,
  loadAdminKey,
  revokeUser,
  saveAdminKey,
} from '../admin/admin-api.js';
import { NO_SERIES, type NodeSeries, type SeriesByNode, addOverview, formatMegabytes, formatRate, formatUptime, latestRate } from '../admin/series.js';
import { LineChart } from './admin-chart.js';

const POLL_MS = 2000;
const KEY_REFUSED = 'The server refused the admin key. Sign in again.';

export function AdminPage() {
  const [adminKey, setAdminKey] = useState<string | undefined>(loadAdminKey);
  const [notice, setNotice] = useState<string | undefined>();

  const signOut = (reason?: string) => {
    clearAdminKey();
    setNotice(reason);
    setAdminKey(undefined);
  };

  if (adminKey === undefined) {
    return (
      <AdminSignIn
        notice={notice}
        onSignedIn={(key) => {
          saveAdminKey(key);
          setNotice(undefined);
          setAdminKey(key);
        }}
      />
    );
  }
  return <Dashboard key={adminKey} adminKey={adminKey} onSignOut={signOut} />;
}

function AdminSignIn({ notice, onSignedIn }: { notice: string | undefined; onSignedIn(key: string): void }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => field.current?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      // Checked before it is kept: a mistyped key never reaches the dashboard.
      await fetchOverview(key.trim());
      onSignedIn(key.trim());
    } catch (caught) {
      setError(describeAdminError(caught));
      setBusy(false);
    }
  };

  return (
    <main class="signin-page">
      <form class="signin-card" onSubmit={submit} data-testid="admin-signin-form">
        <div class="brand">
          <img src="/favicon.svg" alt="" width={44} height={44} />
          <div>
            <h1>Parley admin</h1>
            <p class="muted">For the people running this server</p>
          </div>
        </div>
        {notice !== undefined && (
          <p class="notice" role="status" data-testid="admin-notice">
            {notice}
          </p>
        )}
        <label class="field">
          <span>Admin key</span>
          <input
            type="password"
            ref={field}
            data-testid="admin-key"
            value={key}
            required
            autocomplete="off"
            spellcheck={false}
            onInput={(event) => setKey(event.currentTarget.value)}
          />
        </label>
        {error !== undefined && (
          <p class="form-error" role="alert" data-testid="admin-signin-error">
            {error}
          </p>
        )}
        <button type="submit" class="button primary wide" data-testid="admin-signin-submit" disabled={busy || key.trim() === ''}>
          {busy ? 'Checking…' : 'Open the dashboard'}
        </button>
        <p class="dev-note">
          The key is the server's <code>PARLEY_ADMIN_KEY</code>, or the <code>admin-key</code> file in its data folder. This tab keeps it until it closes; other tabs and
          the disk never see it.
        </p>
        <a class="link-button" href="#/">
          Back to the chat
        </a>
      </form>
    </main>
  );
}

interface DashboardProps {
  adminKey: string;
  onSignOut(reason?: string): void;
}

function Dashboard({ adminKey, onSignOut }: DashboardProps) {
  const [overview, setOverview] = useState<Overview | undefined>();
  const [series, setSeries] = useState<SeriesByNode>(NO_SERIES);
  const [pollError, setPollError] = useState<string | undefined>();
  // The polling effect outlives renders: it reaches the latest callback through this.
  const signOut = useRef(onSignOut);
  signOut.current = onSignOut;

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const next = await fetchOverview(adminKey);
        if (stopped) return;
        setOverview(next);
        setSeries((known) => addOverview(known, next));
        setPollError(undefined);
      } catch (error) {
        if (stopped) return;
        if (isKeyRefused(error)) {
          signOut.current(KEY_REFUSED);
          return;
        }
        setPollError(`${describeAdminError(error)} Trying again…`);
      }
      // The next poll is timed from the end of this one: a slow server is never asked twice at once.
      timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [adminKey]);

  /** Runs an admin action: a refused key signs out; other errors come back as text. */
  const act = async (action: () => Promise<void>): Promise<string | undefined> => {
    try {
      await action();
      return undefined;
    } catch (error) {
      if (isKeyRefused(error)) {
        onSignOut(KEY_REFUSED);
        return undefined;
      }
      return describeAdminError(error);
    }
  };

  return (
    <main class="admin-page" data-testid="admin-dashboard">
      <header class="admin-header">
        <div class="admin-title">
          <img src="/favicon.svg" alt="" width={32} height={32} />
          <div>
            <h1>Parley admin</h1>
            <p class="muted" data-testid="admin-updated">
              {overview === undefined ? 'Loading…' : `Updated ${new Date(overview.generatedAt).toLocaleTimeString()}`}
            </p>
          </div>
        </div>
        <div class="admin-header-actions">
          <a class="button small" href="#/">
            Chat
          </a>
          <button type="button" class="button small" data-testid="admin-sign-out" onClick={() => onSignOut()}>
            Sign out
          </button>
        </div>
      </header>
      {pollError !== undefined && (
        <p class="form-error admin-banner" role="alert" data-testid="admin-poll-error">
          {pollError}
        </p>
      )}
      {overview !== undefined && (
        <>
          <Totals overview={overview} series={series} />
          <section class="admin-section" aria-labelledby="admin-nodes-title">
            <h2 id="admin-nodes-title">Nodes</h2>
            {overview.nodes.length === 0 ? (
              <p class="muted">No node has reported yet.</p>
            ) : (
              <div class="admin-nodes">
                {overview.nodes.map((node) => (
                  <NodeCard key={node.nodeId} node={node} series={series.get(node.nodeId)} />
                ))}
              </div>
            )}
          </section>
          <div class="admin-columns">
            <BusiestConversations overview={overview} />
            <BusiestRooms overview={overview} onClose={(roomId) => act(() => closeRoom(adminKey, roomId))} />
          </div>
        </>
      )}
      <RevokeUser onRevoke={(userId) => act(() => revokeUser(adminKey, userId))} />
    </main>
  );
}

function Totals({ overview, series }: { overview: Overview; series: SeriesByNode }) {
  const { totals } = overview;
  const rate = (which: 'inPerSecond' | 'outPerSecond') => {
    const rates = overview.nodes.map((node) => latestRate(series.get(node.nodeId), which));
    return rates.some((value) => value !== undefined) ? rates.reduce<number>((sum, value) => sum + (value ?? 0), 0) : undefined;
  };
  return (
    <section class="admin-totals" aria-label="Cluster totals" data-testid="admin-totals">
      <Figure label="Nodes" value={String(totals.nodes)} testId="total-nodes" />
      <Figure label="Connections" value={String(totals.connections)} testId="total-connections" />
      <Figure label="Users online" value={String(totals.usersOnline)} hint="per node: a user on two nodes counts twice" testId="total-users" />
      <Figure label="Messages in/s" value={formatRate(rate('inPerSecond'))} testId="total-in-rate" />
      <Figure label="Messages out/s" value={formatRate(rate('outPerSecond'))} testId="total-out-rate" />
      <Figure label="Room viewers" value={String(totals.roomViewers)} testId="total-room-viewers" />
    </section>
  );
}

function Figure({ label, value, hint, testId }: { label: string; value: string; hint?: string; testId: string }) {
  return (
    <div class="admin-figure" data-testid={testId} data-value={value}>
      <span class="admin-figure-value">{value}</span>
      <span class="admin-figure-label">{label}</span>
      {hint !== undefined && <span class="admin-figure-hint muted">{hint}</span>}
    </div>
  );
}

function NodeCard({ node, series }: { node: NodeOverview; series: NodeSeries | undefined }) {
  const samples = series?.samples ?? [];
  return (
    <article class="admin-card" data-testid="node-card" data-node-id={node.nodeId}>
      <header class="admin-card-header">
        <h3 data-testid="node-id">{node.nodeId}</h3>
        <span class="muted">up {formatUptime(node.at - node.startedAt)}</span>
      </header>
      <dl class="admin-stats">
        <div>
          <dt>Connections</dt>
          <dd data-testid="node-connections" data-value={node.connections.total}>
            {node.connections.total}{' '}
            <span class="muted">
              (WebSocket {node.connections.ws}, TCP {node.connections.tcp})
            </span>
          </dd>
        </div>
        <div>
          <dt>Users online</dt>
          <dd data-testid="node-users" data-value={node.usersOnline}>
            {node.usersOnline}
          </dd>
        </div>
        <div>
          <dt>Messages since start</dt>
          <dd data-testid="node-messages" data-in={node.messagesIn} data-out={node.messagesOut}>
            {node.messagesIn} in, {node.messagesOut} out
          </dd>
        </div>
        <div>
          <dt>Live rooms</dt>
          <dd>
            {node.rooms} <span class="muted">({node.roomViewers === 1 ? '1 viewer' : `${node.roomViewers} viewers`})</span>
          </dd>
        </div>
        <div>
          <dt>Memory (RSS)</dt>
          <dd>{formatMegabytes(node.rssBytes)}</dd>
        </div>
        <div>
          <dt>Event-loop delay</dt>
          <dd>
            {node.eventLoopDelayMs.p99.toFixed(1)} ms <span class="muted">p99</span>
          </dd>
        </div>
      </dl>
      <LineChart
        title="Connections"
        endAt={node.at}
        testId="chart-connections"
        lines={[{ label: 'open', tone: 'a', latest: String(node.connections.total), points: samples.map((sample) => ({ at: sample.at, value: sample.connections })) }]}
      />
      <LineChart
        title="Messages per second"
        endAt={node.at}
        testId="chart-messages"
        lines={[
          { label: 'in', tone: 'a', latest: formatRate(latestRate(series, 'inPerSecond')), points: samples.map((sample) => ({ at: sample.at, value: sample.inPerSecond })) },
          { label: 'out', tone: 'b', latest: formatRate(latestRate(series, 'outPerSecond')), points: samples.map((sample) => ({ at: sample.at, value: sample.outPerSecond })) },
        ]}
      />
    </article>
  );
}

const KIND_NAMES: Record<string, string> = { direct: 'Direct', group: 'Group', room: 'Live room' };

function BusiestConversations({ overview }: { overview: Overview }) {
  return (
    <section class="admin-section" aria-labelledby="admin-busiest-title">
      <h2 id="admin-busiest-title">Busiest conversations</h2>
      <p class="muted admin-section-note">Sends in the last minute, all nodes.</p>
      {overview.busiestConversations.length === 0 ? (
        <p class="muted">No sends in the last minute.</p>
      ) : (
        <ol class="admin-list" data-testid="busiest-conversations">
          {overview.busiestConversations.map((conversation) => (
            <li key={conversation.id} class="admin-row" data-testid="busiest-conversation" data-id={conversation.id}>
              <div class="admin-row-main">
                <span class="admin-row-name" data-testid="conversation-label">
                  {conversation.name || conversation.id}
                </span>
                <span class="muted admin-row-detail">
                  {KIND_NAMES[conversation.kind] ?? conversation.kind} · <code>{conversation.id}</code>
                </span>
              </div>
              <span class="admin-row-figure" data-testid="conversation-sends" data-value={conversation.sendsLastMinute}>
                {conversation.sendsLastMinute}
              </span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function BusiestRooms({ overview, onClose }: { overview: Overview; onClose(roomId: string): Promise<string | undefined> }) {
  const [confirming, setConfirming] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<{ text: string; failed: boolean } | undefined>();

  const close = async (roomId: string, name: string) => {
    setBusy(true);
    const error = await onClose(roomId);
    setBusy(false);
    setConfirming(undefined);
    setStatus(error === undefined ? { text: `“${name}” was closed: its viewers were told the live ended.`, failed: false } : { text: error, failed: true });
  };

  return (
    <section class="admin-section" aria-labelledby="admin-rooms-title">
      <h2 id="admin-rooms-title">Busiest live rooms</h2>
      <p class="muted admin-section-note">Viewers now, all nodes.</p>
      {status !== undefined && (
        <p class={status.failed ? 'form-error' : 'notice'} role={status.failed ? 'alert' : 'status'} data-testid="room-action-status">
          {status.text}
        </p>
      )}
      {overview.busiestRooms.length === 0 ? (
        <p class="muted">No live room has viewers.</p>
      ) : (
        <ol class="admin-list" data-testid="busiest-rooms">
          {overview.busiestRooms.map((room) => {
            const name = room.name || room.id;
            return (
              <li key={room.id} class="admin-row" data-testid="busiest-room" data-id={room.id}>
                <div class="admin-row-main">
                  <span class="admin-row-name" data-testid="room-label">
                    {name}
                  </span>
                  <span class="muted admin-row-detail">
                    <code>{room.id}</code>
                    {room.closed ? ' · closed' : ''}
                  </span>
                </div>
                <span class="admin-row-figure" data-testid="room-viewers" data-value={room.viewers}>
                  {room.viewers}
                </span>
                {!room.closed &&
                  (confirming === room.id ? (
                    <span class="admin-row-actions">
                      <button type="button" class="button small danger" data-testid="confirm-close-room" disabled={busy} onClick={() => void close(room.id, name)}>
                        {busy ? 'Closing…' : 'Close it'}
                      </button>
                      <button type="button" class="button small" disabled={busy} onClick={() => setConfirming(undefined)}>
                        Cancel
                      </button>
                    </span>
                  ) : (
                    <button type="button" class="button small" data-testid="close-room" aria-label={`Close ${name}`} onClick={() => setConfirming(room.id)}>
                      Close
                    </button>
                  ))}
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}

function RevokeUser({ onRevoke }: { onRevoke(userId: string): Promise<string | undefined> }) {
  const [userId, setUserId] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<{ text: string; failed: boolean } | undefined>();

  const submit = async (event: Event) => {
    event.preventDefault();
    const id = userId.trim();
    if (!confirming) {
      setConfirming(true);
      setStatus(undefined);
      return;
    }
    setBusy(true);
    const error = await onRevoke(id);
    setBusy(false);
    setConfirming(false);
    if (error === undefined) {
      setUserId('');
      setStatus({ text: `${id}'s tokens were revoked: their connections were closed, and only a new token lets them back in.`, failed: false });
    } else setStatus({ text: error, failed: true });
  };

  return (
    <section class="admin-section" aria-labelledby="admin-revoke-title">
      <h2 id="admin-revoke-title">Revoke a user</h2>
      <form class="admin-revoke" onSubmit={submit} data-testid="revoke-form">
        <label class="field">
          <span>User id</span>
          <input
            data-testid="revoke-user-id"
            value={userId}
            required
            maxLength={64}
            autocapitalize="none"
            spellcheck={false}
            onInput={(event) => {
              setUserId(event.currentTarget.value);
              setConfirming(false);
            }}
          />
        </label>
        <div class="admin-revoke-actions">
          {confirming ? (
            <>
              <button type="submit" class="button small danger" data-testid="confirm-revoke" disabled={busy}>
                {busy ? 'Revoking…' : `Revoke ${userId.trim()}`}
              </button>
              <button type="button" class="button small" disabled={busy} onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </>
          ) : (
            <button type="submit" class="button small" data-testid="revoke-user" disabled={userId.trim() === ''}>
              Revoke tokens
            </button>
          )}
        </div>
        <p class="muted admin-section-note">Every token the user holds stops working and their connections close on every node.</p>
      </form>
      {status !== undefined && (
        <p class={status.failed ? 'form-error' : 'notice'} role={status.failed ? 'alert' : 'status'} data-testid="revoke-status">
          {status.text}
        </p>
      )}
    </section>
  );
}
