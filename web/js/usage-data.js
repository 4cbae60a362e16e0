// Usage as the panel reads it: one flat list of request records and hourly totals, whichever
// shape the server answers (the gateway's own book, or the reference product's v6 snapshot).

function pick(obj, ...names) {
  for (const name of names) {
    if (obj && obj[name] !== undefined && obj[name] !== null) return obj[name];
  }
  return undefined;
}

function costOf(obj) {
  const value = pick(obj, 'cost', 'cost_usd', 'total_cost');
  return typeof value === 'number' ? value : null;
}

function utcDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

function utcHour(ms) {
  return new Date(ms).toISOString().slice(0, 13);
}

function toMs(value) {
  if (typeof value === 'number') return value < 1e12 ? value * 1000 : value;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? 0 : parsed;
}

function fromNative(record) {
  const ts = toMs(record.timestamp);
  return {
    ts,
    day: utcDay(ts),
    key: record.client || '',
    model: record.requested_model || record.model || '',
    upstreamModel: record.upstream_model || '',
    credential: record.credential || '',
    provider: record.provider || '',
    input: record.input_tokens || 0,
    output: record.output_tokens || 0,
    total: record.total_tokens || 0,
    failed: Boolean(record.failed),
    status: record.status || (record.failed ? 0 : 200),
    latency: record.latency_ms || 0,
    cost: costOf(record),
  };
}

function fromV6(apis) {
  const records = [];
  for (const [key, api] of Object.entries(apis || {})) {
    for (const [model, stats] of Object.entries((api && api.models) || {})) {
      for (const detail of (stats && stats.details) || []) {
        const ts = toMs(detail.timestamp);
        const tokens = detail.tokens || {};
        records.push({
          ts,
          day: utcDay(ts),
          key,
          model,
          upstreamModel: '',
          credential: detail.source || String(detail.auth_index ?? ''),
          provider: '',
          input: tokens.input_tokens || 0,
          output: tokens.output_tokens || 0,
          total: tokens.total_tokens || 0,
          failed: Boolean(detail.failed),
          status: detail.failed ? 0 : 200,
          latency: detail.latency_ms || 0,
          cost: costOf(detail),
        });
      }
    }
  }
  return records;
}

function hoursFromRecords(records) {
  const hours = new Map();
  for (const r of records) {
    const hour = utcHour(r.ts);
    const tally = hours.get(hour) || { hour, requests: 0, tokens: 0, failures: 0, cost: null };
    tally.requests += 1;
    tally.tokens += r.total;
    tally.failures += r.failed ? 1 : 0;
    if (r.cost !== null) tally.cost = (tally.cost || 0) + r.cost;
    hours.set(hour, tally);
  }
  return hours;
}

/**
 * The usage answer as `{records, totals, hours}`: records newest first, totals
 * `{requests, failures, tokens, cost}` (cost null when the server knows no prices), hours a
 * Map "YYYY-MM-DDTHH" (UTC) -> tally.
 */
export function readUsage(body) {
  const usage = (body && (body.usage || body)) || {};
  let records;
  let totals;
  let hours;
  if (usage.totals || usage.recent || usage.by_hour) {
    records = (usage.recent || []).map(fromNative);
    const t = usage.totals || {};
    totals = {
      requests: t.requests || 0,
      failures: t.failures || 0,
      tokens: t.total_tokens || 0,
      cost: costOf(t),
    };
    hours = new Map();
    for (const [hour, tally] of Object.entries(usage.by_hour || {})) {
      hours.set(hour, {
        hour,
        requests: tally.requests || 0,
        tokens: tally.total_tokens || 0,
        failures: tally.failures || 0,
        cost: costOf(tally),
      });
    }
    if (!hours.size) hours = hoursFromRecords(records);
  } else {
    records = fromV6(usage.apis);
    totals = {
      requests: usage.total_requests || 0,
      failures: usage.failure_count || (body && body.failed_requests) || 0,
      tokens: usage.total_tokens || 0,
      cost: costOf(usage),
    };
    hours = hoursFromRecords(records);
  }
  if (totals.cost === null && records.some((r) => r.cost !== null)) {
    totals.cost = records.reduce((sum, r) => sum + (r.cost || 0), 0);
  }
  records.sort((a, b) => b.ts - a.ts);
  return { records, totals, hours };
}

/** The last `count` UTC hours ending now, oldest first, with zero tallies where nothing ran. */
export function lastHours(hours, count = 24, now = Date.now()) {
  const series = [];
  for (let i = count - 1; i >= 0; i -= 1) {
    const hour = utcHour(now - i * 3600_000);
    series.push(hours.get(hour) || { hour, requests: 0, tokens: 0, failures: 0, cost: null });
  }
  return series;
}

/** Group records by one field into tallies, biggest first. */
export function groupBy(records, name) {
  const groups = new Map();
  for (const r of records) {
    const label = r[name] || '(none)';
    const g = groups.get(label) || { label, requests: 0, failures: 0, input: 0, output: 0, tokens: 0, cost: null, latency: 0 };
    g.requests += 1;
    g.failures += r.failed ? 1 : 0;
    g.input += r.input;
    g.output += r.output;
    g.tokens += r.total;
    g.latency += r.latency;
    if (r.cost !== null) g.cost = (g.cost || 0) + r.cost;
    groups.set(label, g);
  }
  return [...groups.values()].sort((a, b) => b.requests - a.requests);
}

/** A cost in dollars, or an em dash when unknown. */
export function money(value) {
  if (value === null || value === undefined) return '—';
  return `$${value.toFixed(value < 1 ? 4 : 2)}`;
}
