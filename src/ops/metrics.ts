/**
 * Prometheus metrics for `serve` (`/metrics`, prom-client): calls by server, method, tool, decision and outcome;
 * latency histograms; redactions by rule; audit queue depth and committed events; sessions; upstream restarts and
 * crashes; bad input. Labels carry names and counts only — never arguments, tokens or matched values. Tool names
 * come from the upstream, so label values are capped in length and in number per server.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Exchange, Stage } from '../pipeline/types.js';
import type { EventSource, SessionEvents } from '../proxy/session.js';

const MAX_TOOLS_PER_SERVER = 500;
/** Methods of either MCP era a client sends: always their own label. */
const MCP_METHODS = new Set([
  'initialize', 'ping', 'server/discover', 'subscriptions/listen', 'logging/setLevel', 'completion/complete',
  'tools/list', 'tools/call', 'prompts/list', 'prompts/get', 'resources/list', 'resources/templates/list',
  'resources/read', 'resources/subscribe', 'resources/unsubscribe',
  'tasks/get', 'tasks/result', 'tasks/list', 'tasks/cancel', 'tasks/update',
]);

export class Metrics {
  readonly registry = new Registry();
  private readonly calls: Counter<'server' | 'method' | 'tool' | 'decision' | 'outcome'>;
  private readonly latency: Histogram<'server' | 'method'>;
  private readonly redactions: Counter<'server' | 'rule' | 'direction'>;
  private readonly events: Counter<'event' | 'server'>;
  private readonly restarts: Counter<'server'>;
  private readonly failures: Counter<'server' | 'kind'>;
  private readonly toolsSeen = new Map<string, Set<string>>();

  private audit: { queueDepth: number; written: number } | undefined;

  constructor(sources: { sessions?: (server?: string) => number; servers: string[] }) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'mcp_warden_' });
    this.calls = new Counter({ name: 'mcp_warden_calls_total', help: 'Requests relayed, by server, method, tool, policy decision and outcome', labelNames: ['server', 'method', 'tool', 'decision', 'outcome'], registers: [r] });
    this.latency = new Histogram({
      name: 'mcp_warden_call_duration_seconds',
      help: 'Time from a request arriving to its answer leaving the proxy (includes the upstream)',
      labelNames: ['server', 'method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registers: [r],
    });
    this.redactions = new Counter({ name: 'mcp_warden_redactions_total', help: 'Findings redacted, by detector rule and direction', labelNames: ['server', 'rule', 'direction'], registers: [r] });
    this.events = new Counter({ name: 'mcp_warden_events_total', help: 'Lifecycle and fault events (session_start, bad_input, upstream_crash, auth_failure …)', labelNames: ['event', 'server'], registers: [r] });
    this.restarts = new Counter({ name: 'mcp_warden_upstream_restarts_total', help: 'Upstream children restarted after a crash or exit', labelNames: ['server'], registers: [r] });
    this.failures = new Counter({ name: 'mcp_warden_upstream_failures_total', help: 'Upstreams that crashed, exited or dropped their connection unexpectedly', labelNames: ['server', 'kind'], registers: [r] });
    const { sessions, servers } = sources;
    const self = this;
    new Gauge({
      name: 'mcp_warden_audit_queue_depth',
      help: 'Audit events waiting for the next group commit',
      registers: [r],
      collect() {
        this.set(self.audit?.queueDepth ?? 0);
      },
    });
    new Gauge({
      name: 'mcp_warden_audit_events_committed',
      help: 'Audit events committed by this process',
      registers: [r],
      collect() {
        this.set(self.audit?.written ?? 0);
      },
    });
    new Gauge({
      name: 'mcp_warden_sessions',
      help: 'Open sessions by server',
      labelNames: ['server'],
      registers: [r],
      collect() {
        for (const s of servers) this.set({ server: s }, sessions?.(s) ?? 0);
      },
    });
  }

  attachAudit(writer: { queueDepth: number; written: number }): void {
    this.audit = writer;
  }

  /** The outermost stage: its response hook runs last, so it sees the final decision, outcome and redactions. */
  stage(): Stage {
    return {
      name: 'metrics',
      response: (ex: Exchange) => this.exchange(ex),
    };
  }

  private exchange(ex: Exchange): void {
    const server = ex.session.server;
    if (ex.direction === 'to-server' && ex.kind === 'request') {
      const tool = ex.method === 'tools/call' ? this.toolLabel(ex, ex.notes.target) : '';
      const decision = ex.decision ? (ex.decision.mode === 'shadow' ? `shadow-${ex.decision.effect}` : ex.decision.effect) : 'none';
      // Any other method name is the caller's text (it may carry anything, a secret too), and each label value is
      // a series kept for good and printed on every scrape.
      const method = MCP_METHODS.has(ex.method) ? ex.method : '(other)';
      this.calls.inc({ server, method, tool, decision, outcome: ex.outcome ?? 'unknown' });
      if (ex.endedAt !== undefined) this.latency.observe({ server, method }, (ex.endedAt - ex.startedAt) / 1000);
    }
    for (const [notes, direction] of [
      [ex.notes.redactions, 'outbound'],
      [ex.notes.inboundRedactions, 'inbound'],
    ] as const) {
      if (!notes) continue;
      for (const [rule, n] of Object.entries(notes)) if (n > 0) this.redactions.inc({ server, rule: label(rule), direction }, n);
    }
  }

  /**
   * The `tool` label: a name the server lists, else `(unlisted)`. A name only the caller wrote is the model's text
   * (it may carry anything, a secret too) and, as a label, would use up the server's label budget.
   */
  private toolLabel(ex: Exchange, tool: string | undefined): string {
    if (!tool) return '';
    if (!ex.session.tools.has(tool)) return '(unlisted)';
    const server = ex.session.server;
    let seen = this.toolsSeen.get(server);
    if (!seen) this.toolsSeen.set(server, (seen = new Set()));
    if (seen.has(tool)) return label(tool);
    if (seen.size >= MAX_TOOLS_PER_SERVER) return '(other)';
    seen.add(tool);
    return label(tool);
  }

  /** Wraps the audit event sink so lifecycle and fault events are counted too. */
  wrapEvents(inner: SessionEvents | undefined): SessionEvents {
    return {
      event: (kind: string, source: EventSource, fields: Record<string, unknown>) => {
        this.events.inc({ event: label(kind), server: source.server ?? '' });
        if (kind === 'upstream_spawn' && typeof fields['restart'] === 'number') this.restarts.inc({ server: source.server ?? '' });
        if (kind === 'upstream_crash' || kind === 'upstream_exit') this.failures.inc({ server: source.server ?? '', kind: kind.slice('upstream_'.length) });
        inner?.event(kind, source, fields);
      },
    };
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

function label(v: string): string {
  return v.length > 80 ? `${v.slice(0, 77)}...` : v;
}
