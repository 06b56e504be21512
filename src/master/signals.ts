// OS signals → master events. Handlers only enqueue (gunicorn SIG_QUEUE, unicorn @sig_queue): in Node the reason
// is that one place, Master.step(), changes pool state. Not what the events do (master.ts).

export type SignalEvent = { type: 'reload' } | { type: 'stop' } | { type: 'ttin' } | { type: 'ttou' };

const SIGNAL_EVENTS: ReadonlyArray<[NodeJS.Signals, SignalEvent]> = [
  ['SIGHUP', { type: 'reload' }],
  ['SIGTERM', { type: 'stop' }],
  ['SIGINT', { type: 'stop' }], // a second TERM/INT while stopping kills the workers at once (master.ts)
  ['SIGTTIN', { type: 'ttin' }],
  ['SIGTTOU', { type: 'ttou' }],
];

/** Installs the handlers; returns a function that removes them. */
export function installSignalHandlers(enqueue: (event: SignalEvent) => void): () => void {
  const installed = SIGNAL_EVENTS.map(([signal, event]) => {
    const handler = () => enqueue(event);
    process.on(signal, handler);
    return () => process.off(signal, handler);
  });
  return () => installed.forEach((remove) => remove());
}
