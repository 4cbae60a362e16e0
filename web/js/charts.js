// Small bar charts drawn as inline SVG; each bar has a tooltip and the chart a text summary.

import { h, svg } from './dom.js';

const W = 320;
const H = 120;
const PAD = { top: 8, right: 6, bottom: 18, left: 34 };

function short(value) {
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  if (value > 0 && value < 1) return value.toFixed(2);
  return String(Math.round(value));
}

/**
 * A titled bar chart figure. `points` are `{label, value}`; `format` renders a value for the
 * tooltip and summary; `tone` picks the colour class; `known: false` says the figure is unknown.
 */
export function barChart({ title, points, format = short, tone = 'accent', emptyText = 'No data yet.', known = true }) {
  const total = points.reduce((sum, p) => sum + (p.value || 0), 0);
  const figure = h('figure', { class: `chart chart-${tone}` }, h('figcaption', {}, title,
    h('span', { class: 'chart-total' }, known ? format(total) : '—')));
  if (!points.length || total === 0) {
    figure.append(h('p', { class: 'state state-empty chart-empty' }, emptyText));
    return figure;
  }
  const max = Math.max(...points.map((p) => p.value || 0));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const step = innerW / points.length;
  const barW = Math.max(1, step * 0.72);
  const chart = svg('svg', {
    viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart-svg',
    'aria-label': `${title}: ${format(total)} in total, at most ${format(max)} in one bar`,
  });
  for (const frac of [0, 0.5, 1]) {
    const y = PAD.top + innerH * (1 - frac);
    chart.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: 'grid' }));
    chart.append(svg('text', { x: PAD.left - 4, y: y + 3, class: 'axis', 'text-anchor': 'end' }, short(max * frac)));
  }
  points.forEach((p, i) => {
    const value = p.value || 0;
    const height = max ? (value / max) * innerH : 0;
    const x = PAD.left + i * step + (step - barW) / 2;
    const bar = svg('rect', {
      x: x.toFixed(2), y: (PAD.top + innerH - height).toFixed(2), width: barW.toFixed(2),
      height: Math.max(height, value ? 1 : 0).toFixed(2), class: 'bar', rx: 1,
    }, svg('title', {}, `${p.label}: ${format(value)}`));
    chart.append(bar);
  });
  const labelEvery = Math.ceil(points.length / 6);
  points.forEach((p, i) => {
    if (i % labelEvery !== 0 && i !== points.length - 1) return;
    const x = PAD.left + i * step + step / 2;
    chart.append(svg('text', { x: x.toFixed(2), y: H - 4, class: 'axis', 'text-anchor': 'middle' }, p.tick || p.label));
  });
  figure.append(chart);
  return figure;
}
