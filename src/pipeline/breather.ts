/**
 * Long work on one message (screening a first-seen catalogue definition by definition, judging a list of hundreds
 * of thousands of tools or resources) gives the event loop a turn once 10 ms have passed, so a server with a large
 * catalogue does not stall every other session of the proxy. `await` the function it returns between items.
 */
export function breather(): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < 10) return;
    await new Promise<void>((r) => setImmediate(r));
    since = performance.now();
  };
}
