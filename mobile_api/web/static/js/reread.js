// Reading again what a page shows, when its stream reconnects (notices sent while it was
// down are lost) or a notice asks for it. Two rules every such re-read keeps:
//   - a notice that arrives while a read is on its way is newer than the read's answer,
//     so it wins over the read (NoticeTimes);
//   - re-rendering keeps the nodes of unchanged items (keepUnchanged): a live region
//     announces only what changed, and a re-read never shows a line twice.
//
//   const notices = new NoticeTimes();  notices.heard(device);        // on each notice
//   const askedAt = Date.now();  const rows = await api(url);
//   if (notices.since(row.device, askedAt)) { /* keep what the notice set */ }
//   keepUnchanged(node, freshNodes);

export class NoticeTimes {
  constructor() {
    this.at = new Map(); // key -> Date.now() of its last notice
  }

  /** A notice about key has just been applied. */
  heard(key) {
    this.at.set(key, Date.now());
  }

  /** Whether a notice about key came once a read asked at askedAt (Date.now()) was on its way. */
  since(key, askedAt) {
    return this.at.has(key) && this.at.get(key) >= askedAt;
  }
}

/** Make node's children `fresh`, keeping each shown child equal to its fresh one. */
export function keepUnchanged(node, fresh) {
  fresh.forEach((child, i) => {
    const shown = node.children[i];
    if (!shown) node.append(child);
    else if (shown !== child && !shown.isEqualNode(child)) shown.replaceWith(child);
  });
  while (node.children.length > fresh.length) node.lastElementChild.remove();
}
