// The page timing contract read by bench/ring_to_screen.py: epoch milliseconds
// (performance.timeOrigin + performance.now()) pushed onto window.__doorstepMarks.
//
//   mark({ kind: "ring", device, event_id, sse_at, shown_at: now() });

window.__doorstepMarks = window.__doorstepMarks || [];

export const now = () => performance.timeOrigin + performance.now();

export function mark(entry) {
  window.__doorstepMarks.push(entry);
}
